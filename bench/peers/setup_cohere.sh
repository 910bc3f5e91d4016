#!/usr/bin/env bash
# Create bench/peers/.venv-cohere, a virtual environment with cohere-core (APS) for the
# side-by-side peer benchmark (run_peers.py).  cohere is never a dependency of phaser: it
# lives only in this venv, and run_peers.py talks to it through cohere_worker.py in a
# subprocess.
#
# Usage (from anywhere):  nice -n 19 bash bench/peers/setup_cohere.sh
# Re-running it is cheap: an existing venv is reused and the pinned versions re-checked.
set -euo pipefail

COHERE_VERSION="${COHERE_VERSION:-4.5.4}"
PYTHON="${PYTHON:-python3}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-cohere"

if [ ! -x "$venv/bin/python" ]; then
    "$PYTHON" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "cohere-core==$COHERE_VERSION"
"$venv/bin/python" -c "import cohere_core, importlib.metadata as m; print('cohere-core', m.version('cohere-core'), 'in', '$venv')"
