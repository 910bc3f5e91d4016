"""``import phaser`` is light: the public names load on first use."""

import subprocess
import sys

HEAVY = ("numpy", "scipy", "numba", "h5py", "tifffile", "pyfftw", "onnxruntime", "dask",
         "torch", "typer")


def _run(code):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_phaser_imports_no_heavy_package():
    loaded = _run("import sys, phaser; print(' '.join(m for m in sys.modules "
                  f"if m.split('.')[0] in {HEAVY!r}))")
    assert loaded == ""


def test_the_public_names_load_on_first_use():
    out = _run("import phaser; from phaser import Result, reconstruct, parse_algorithm; "
               "print(phaser.load_data.__name__, phaser.load_result.__name__, "
               "callable(phaser.simulate), Result.__name__, reconstruct.__name__, "
               "str(parse_algorithm('ER**2')), sorted(phaser.__all__) == sorted("
               "n for n in dir(phaser) if n in phaser.__all__))")
    assert out == "load_data load_result True Result reconstruct ER**2 True"
    missing = subprocess.run([sys.executable, "-c", "import phaser; phaser.nothing"],
                             capture_output=True, text=True)
    assert "has no attribute 'nothing'" in missing.stderr
