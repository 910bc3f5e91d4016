"""Score training checkpoints on a probe set as a training run scores its network after
each epoch (:func:`phaser.nn_priors.train.loop.probe_set_scores`): the figures of epochs
that ran before the run had a probe set, and of the networks of earlier runs, on the same
crystals.

    python bench/outside_crystals.py -o outside64_probe.h5 --size 64 --count 16
    python bench/probe_checkpoints.py outside64_probe.h5 training/prior64-v2/last.pt \\
        training/prior64-v4/last.pt --out bench/results/probe_checkpoints.json
"""

import argparse
import json
import sys
from pathlib import Path


def main():
    from phaser.nn_priors.train.data import ProbeSet
    from phaser.nn_priors.train.loop import load_checkpoint, probe_set_scores
    from phaser.nn_priors.train.networks import build_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probe_set", type=Path)
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    probes = ProbeSet(args.probe_set)
    rows = []
    for path in args.checkpoints:
        ckpt = load_checkpoint(path)
        header = ckpt["header"]
        net = build_model(header["model"], header["size"], header["width"])
        net.load_state_dict(ckpt["state_dict"])
        row = {"checkpoint": str(path), "epoch": ckpt["metrics"].get("epoch"),
               "samples": ckpt.get("progress", {}).get("samples", ckpt["metrics"].get("samples")),
               **probe_set_scores(net, header, probes)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(["python", *sys.argv]),
                                        "probe_set": str(args.probe_set), "crystals": len(probes),
                                        "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
