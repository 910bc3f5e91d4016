"""Turn a pytest-benchmark JSON file into the README's benchmark table (median times).

Usage: python bench/report.py results.json
"""

import json
import sys
from collections import defaultdict


def main(path):
    with open(path) as f:
        data = json.load(f)
    times = defaultdict(dict)
    simulate, others = [], []
    for b in data["benchmarks"]:
        if b.get("group") == "simulate":
            simulate.append(b)
            continue
        p = b.get("params") or {}
        if "backend_name" not in p:  # the nn prior and nns lookups: one row each
            others.append(b)
            continue
        name = b["name"].split("[")[0].removeprefix("test_")
        key = (p.get("backend_name"), p.get("size", 64))
        times[key][name] = b["stats"]["median"] * 1e3
    print(f"machine: {data['machine_info'].get('cpu', {}).get('brand_raw', '?')}, "
          f"{data['machine_info'].get('cpu', {}).get('count', '?')} cores")
    if times:
        _iteration_table(times)
    if simulate:
        _simulate_table(simulate)
    if others:
        _other_table(others)


def _other_table(benchmarks):
    print()
    print("| group | benchmark | median (ms) |")
    print("|---|---|---|")
    for b in sorted(benchmarks, key=lambda b: (b.get("group") or "", b["name"])):
        print(f"| {b.get('group') or ''} | {b['name'].removeprefix('test_')} | "
              f"{b['stats']['median'] * 1e3:.2f} |")


def _iteration_table(times):
    print("| backend | size | HIO iteration (ms) | 2 FFTs (ms) | ratio | shrink-wrap (ms) | default 600 it (s) |")
    print("|---|---|---|---|---|---|---|")
    for (backend, size), t in sorted(times.items()):
        hio, fft = t.get("hio_iteration"), t.get("fft_pair")
        ratio = f"{hio / fft:.2f}" if hio and fft else ""
        rec = t.get("default_schedule_64")
        cells = [f"{t[k]:.2f}" if k in t else "" for k in ("hio_iteration", "fft_pair")]
        sw = f"{t['shrink_wrap']:.1f}" if "shrink_wrap" in t else ""
        print(f"| {backend} | {size}³ | {cells[0]} | {cells[1]} | {ratio} | {sw} | "
              f"{rec / 1e3:.2f} |" if rec else f"| {backend} | {size}³ | {cells[0]} | {cells[1]} | {ratio} | {sw} | |")


def _simulate_table(benchmarks):
    print()
    print("| simulation | family | strain | workers | time per call (s) | samples/s | atoms |")
    print("|---|---|---|---|---|---|---|")
    for b in benchmarks:
        info, p = b["extra_info"], b["params"] or {}
        median = b["stats"]["median"]
        atoms = info.get("atoms")
        atoms = f"{min(atoms)}-{max(atoms)}" if atoms else ""
        kind = b["name"].split("[")[0].removeprefix("test_")
        family = info.get("family") or p.get("family", "faceted")
        print(f"| {kind} | {family} | {info['strain']} | {info['workers']} | "
              f"{median:.3g} | {info['count'] / median:.1f} | {atoms} |")


if __name__ == "__main__":
    main(sys.argv[1])
