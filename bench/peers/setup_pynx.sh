#!/usr/bin/env bash
# Create bench/peers/.venv-pynx, a virtual environment with PyNX 2022.1 (ESRF) built from its
# source, for the side-by-side peer benchmark (run_peers.py --pynx).  PyNX is not on the
# package index and is never a dependency of phaser: it lives only in this venv, and
# run_peers.py talks to it through pynx_worker.py in a subprocess.
#
# PyNX runs here on its CPU (numpy) operators through its Python API: its GPU back-ends
# (pyopencl, pyvkfft, pycuda) and the optional hdf5plugin are not installed, so its
# install_requires are installed by hand without them (numpy < 1.24 and scipy < 1.14, which
# PyNX 2022.1 needs).
#
# Usage (from anywhere), with the PyNX 2022.1 source tree (the folder holding setup.py:
# pynx-2022.1.tar.bz2 from ftp.esrf.fr/pub/scisoft/PyNX, or PyNX's GitLab at that tag):
#     PYNX_SRC=/path/to/pynx-2022.1/pynx nice -n 19 bash bench/peers/setup_pynx.sh
set -euo pipefail

: "${PYNX_SRC:?set PYNX_SRC to the PyNX 2022.1 source folder (the one holding setup.py)}"
PYTHON="${PYTHON:-python3}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-pynx"

if [ ! -f "$PYNX_SRC/setup.py" ] || [ ! -d "$PYNX_SRC/pynx/cdi" ]; then
    echo "setup_pynx.sh: $PYNX_SRC is not a PyNX source folder (no setup.py or pynx/cdi)" >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    "$PYTHON" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
"$venv/bin/python" -m pip install --quiet "numpy<1.24" "scipy<1.14" "matplotlib<3.9" \
    "scikit-image<0.23" "scikit-learn<1.5" h5py fabio silx packaging psutil mako
# No build isolation and no Cython: PyNX's optional compiled scattering module is skipped.
"$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation "$PYNX_SRC"
"$venv/bin/python" -c "import numpy, scipy; from pynx.version import __version__; from pynx.cdi import CDI, RAAR; print('PyNX', __version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__, 'in', '$venv')"
