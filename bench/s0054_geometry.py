"""S0054 from raw frames to a strain map in the crystal frame, with the geometry of its spec file.

Runs the README's raw-scan commands (``phaser prepare --spec``, ``phaser run``,
``phaser orthogonalise``, ``phaser report``) on the measured Au(111) scan in
``tests/data/s0054`` and records what they print and store: the Bragg peak's |q| and
d-spacing against Au(111), the detector-frame steps, the orthogonalised crystal's size and
voxel size, and the strain statistics.  Writes ``bench/results/s0054_geometry.json`` and
the report ``docs/s0054_crystal_report.png`` that the README shows::

    python bench/s0054_geometry.py [--runs 5] [--keep 3] [--voxel-size 10]
"""

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "s0054"
AU_111 = 4.07999 / 3**0.5  # Å, the spec file's lattice constant (#G1) over sqrt(3)


def phaser(*args):
    command = ["phaser", *map(str, args)]
    print("$", shlex.join(command), flush=True)
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    print(done.stdout, end="", flush=True)
    return shlex.join(command), done.stdout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=int, default=3)
    parser.add_argument("--voxel-size", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "s0054_geometry.json")
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "s0054_crystal_report.png")
    args = parser.parse_args(argv)

    import phaser as ph

    commands = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data, result, crystal = tmp / "S0054.cxi", tmp / "S0054_phaser.cxi", tmp / "S0054_crystal.cxi"
        commands.append(phaser(
            "prepare", DATA / "S0054_raw_stack.npz", "--dark", DATA / "dark.tif",
            "--white", DATA / "whitefield.tif", "--detector-roi", "0,256,0,256",
            "--roi", "64,128,128", "--bin", "2,1,1", "--spec", DATA / "S0054.spec",
            "--scan", 54, "-o", data, "-q"))
        commands.append(phaser("run", data, "--runs", args.runs, "--keep", args.keep,
                               "--seed", 0, "-o", result, "-q"))
        commands.append(phaser("orthogonalise", result, "--frame", "crystal",
                               "--voxel-size", args.voxel_size, "-o", crystal))
        commands.append(phaser("report", crystal, "--out", args.png, "--force"))
        detector = ph.load_result(result)
        done = ph.load_result(crystal)

    inside = done.support != 0
    strain = done.maps["strain"][inside]
    g = done.geometry
    record = {
        "script": "bench/s0054_geometry.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "commands": [c for c, _ in commands],
        "printed": [out.strip() for _, out in commands],
        "q_lab_inverse_angstrom": g["q"],
        "q_norm_inverse_angstrom": g["q_norm"],
        "d_spacing_angstrom": g["d_spacing"],
        "au111_d_spacing_angstrom": AU_111,
        "d_relative_to_au111": g["d_spacing"] / AU_111 - 1,
        "detector_steps_nm": np.linalg.norm(detector.transform, axis=0).tolist(),
        "voxel_size_nm": done.voxel_size[0],
        "shape": list(done.obj.shape),
        "crystal_size_nm_xyz": g["crystal_size_nm"],
        "support_voxels": int(inside.sum()),
        "strain_median": float(np.nanmedian(strain)),
        "strain_std": float(np.nanstd(strain)),
        "strain_p05_p95": [float(v) for v in np.nanpercentile(strain, [5, 95])],
        "chi2": detector.chi2,
        "llk": detector.llk,
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"-> {args.out}, {args.png}")


if __name__ == "__main__":
    main()
