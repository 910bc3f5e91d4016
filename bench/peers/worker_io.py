"""The exchange files of the peers' workers (``cohere_worker.py``, ``pynx_worker.py``): one
reconstruction per call, ``WORKER.py IN.npz OUT.npz``.  Imported inside a peer's own
virtual environment (numpy only; never phaser)."""

import json
import sys

import numpy as np

__all__ = ["worker_main"]


def worker_main(reconstruct, usage, argv=None):
    """Read ``IN.npz`` (``iobs``, ``mask``, optional ``free``, ``params`` as JSON), call
    ``reconstruct(iobs, mask, free, params)`` and write its dict to ``OUT.npz`` (its
    ``info`` as JSON); exit status 2 with `usage` on a wrong command line."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(usage, file=sys.stderr)
        return 2
    src, dst = argv
    with np.load(src) as f:
        iobs, mask = f["iobs"], f["mask"]
        free = f["free"] if "free" in f.files else None
        params = json.loads(str(f["params"]))
    out = reconstruct(iobs, mask, free, params)
    out["info"] = json.dumps(out["info"])
    np.savez(dst, **out)
    return 0
