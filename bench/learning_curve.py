"""The learning curve of a prior's training run: figure and table from its metrics log.

Run from the repository root::

    python bench/learning_curve.py training/prior64-v2 --png docs/prior_learning_curve.png

Reads ``metrics.jsonl`` of a run directory (one line per epoch, over every session of the
run), preceded by the epochs of the runs its network was started from (``phaser train
--init-from``, recorded in ``config.json``), and draws validation support IoU, phase RMS
inside the crystal and success after 50 iterations against samples seen and CPU hours;
prints the same as a Markdown table (the model card's).  Epochs scored on a probe set
(``phaser train --probe-set``: crystals of ``bench/outside_crystals.py``, which the network
is not trained on) add its support IoU and success after 50 iterations beside them.
"""

import argparse
import json
from pathlib import Path


def read_log(run):
    """The run's epochs, in order."""
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()
            if line.strip()]


def read_curve(run):
    """The epochs of `run` and, first, those of the runs its network came from, up to the
    checkpoint each next run started from; every record names its run (``run``)."""
    run = Path(run)
    config = json.loads((run / "config.json").read_text())
    records = [{**r, "run": run.name} for r in read_log(run)]
    source = config.get("init_from")
    if not source:
        return records
    earlier = read_curve(Path(source["path"]).parent)
    return [r for r in earlier if r["epoch"] <= source["epoch"]
            or r["run"] != Path(source["path"]).parent.name] + records


def table(records):
    lines = ["| run | epoch | session | samples seen | CPU hours | val. loss | support IoU | "
             "phase RMS (rad) | success after 50 | chi² after 50 | outside IoU | "
             "outside success after 50 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        outside = (f"{r['probe_iou']:.3f} | {r['probe_success50']:.2f}" if "probe_iou" in r
                   else "– | –")
        lines.append(f"| {r.get('run', '')} | {r['epoch']} | {r['session']} | {r['samples']:,} | "
                     f"{r['cpu_hours']:.2f} | {r['val_loss']:.3f} | {r['val_iou']:.3f} | "
                     f"{r['val_phase_rms']:.3f} | {r['val_success50']:.2f} | "
                     f"{r['val_chi2_50']:.2g} | {outside} |")
    return "\n".join(lines)


def figure(records, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = [r["samples"] for r in records]
    starts = [r["samples"] for r, prev in zip(records[1:], records) if r["run"] != prev["run"]]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), constrained_layout=True)
    for ax, key, label in zip(axes, ("val_iou", "val_phase_rms", "val_success50"),
                              ("support IoU (median)", "phase RMS in crystal, rad (median)",
                               "success after 50 iterations")):
        ax.plot(samples, [r[key] for r in records], "o-", label="validation (own simulator)")
        outside = key.replace("val_", "probe_")
        probed = [r for r in records if outside in r]
        if probed:
            ax.plot([r["samples"] for r in probed], [r[outside] for r in probed], "s-",
                    color="C3", label="outside generator (probe set)")
            ax.legend(fontsize=7)
        ax.set_xlabel("training samples seen")
        ax.xaxis.set_major_formatter(lambda v, _: f"{v / 1000:.0f}k")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
        for x in starts:  # where a run started from the previous one's network
            ax.axvline(x, color="0.5", ls=":", lw=1)
        top = ax.secondary_xaxis("top", functions=(
            lambda s: s * records[-1]["cpu_hours"] / max(samples[-1], 1),
            lambda h: h * max(samples[-1], 1) / max(records[-1]["cpu_hours"], 1e-12)))
        top.set_xlabel("CPU hours", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="training run directory")
    parser.add_argument("--png", type=Path, help="write the figure here")
    args = parser.parse_args()
    records = read_curve(args.run)
    if args.png:
        title = f"{args.run.name}: validation after each epoch"
        if len({r["run"] for r in records}) > 1:
            title += " (dotted: a run starts from the last one's network, on its own crystals)"
        figure(records, title).savefig(args.png, dpi=100)
    print(table(records))


if __name__ == "__main__":
    main()
