"""The learning curve of a prior's training run: figure and table from its metrics log.

Run from the repository root::

    python bench/learning_curve.py training/prior64-v2 --png docs/prior_learning_curve.png

Reads ``metrics.jsonl`` of a run directory (one line per epoch, over every session of the
run) and draws validation support IoU, phase RMS inside the crystal and success after 50
iterations against samples seen and CPU hours; prints the same as a Markdown table (the
model card's).
"""

import argparse
import json
from pathlib import Path


def read_log(run):
    """The run's epochs, in order."""
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()
            if line.strip()]


def table(records):
    lines = ["| epoch | session | samples seen | CPU hours | val. loss | support IoU | "
             "phase RMS (rad) | success after 50 | chi² after 50 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['epoch']} | {r['session']} | {r['samples']:,} | "
                     f"{r['cpu_hours']:.2f} | {r['val_loss']:.3f} | {r['val_iou']:.3f} | "
                     f"{r['val_phase_rms']:.3f} | {r['val_success50']:.2f} | "
                     f"{r['val_chi2_50']:.2g} |")
    return "\n".join(lines)


def figure(records, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = [r["samples"] for r in records]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), constrained_layout=True)
    for ax, key, label in zip(axes, ("val_iou", "val_phase_rms", "val_success50"),
                              ("support IoU (median)", "phase RMS in crystal, rad (median)",
                               "success after 50 iterations")):
        ax.plot(samples, [r[key] for r in records], "o-")
        ax.set_xlabel("training samples seen")
        ax.xaxis.set_major_formatter(lambda v, _: f"{v / 1000:.0f}k")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
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
    records = read_log(args.run)
    if args.png:
        figure(records, f"{args.run.name}: validation after each epoch").savefig(args.png, dpi=100)
    print(table(records))


if __name__ == "__main__":
    main()
