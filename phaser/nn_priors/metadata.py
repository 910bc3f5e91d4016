"""What an exported prior must say about itself: the ONNX metadata keys, read and written.

The keys are stored as ONNX ``metadata_props`` (strings; structured values as JSON).  The
runtime refuses a model that lacks a required key, or whose graph input does not match the
declared size, with one line naming the problem.
"""

import json

from phaser.errors import InputError

__all__ = ["FORMAT", "FORMAT_VERSION", "REQUIRED", "NORMALISATION", "encode", "decode"]

FORMAT = "phaser-prior"
FORMAT_VERSION = 1
NORMALISATION = "sqrt/max, log1p/log1p(max)"
"""The input channels of :func:`phaser.nn_priors.grid.network_input`."""

REQUIRED = {
    "format": "the string 'phaser-prior'",
    "format_version": "metadata layout version",
    "input_size": "network grid (z, y, x)",
    "oversampling": "oversampling of the training patterns, as estimate_oversampling reads it",
    "normalisation": "input channels",
    "support_threshold": "relative amplitude above which a voxel is in the support",
}
"""Keys a model must carry, with what they mean."""

_JSON_KEYS = {"input_size", "oversampling", "support_threshold", "format_version", "training",
              "metrics"}


def encode(meta):
    """Metadata dict -> ONNX ``metadata_props`` strings (structured values as JSON)."""
    return {k: json.dumps(v) if k in _JSON_KEYS else str(v) for k, v in meta.items()}


def decode(props, source="model"):
    """ONNX ``metadata_props`` -> metadata dict, checked.

    Raises
    ------
    InputError
        A required key is missing or malformed, or the format is not a phaser prior.
    """
    missing = [k for k in REQUIRED if k not in props]
    if missing:
        raise InputError(f"{source} is missing prior metadata: {', '.join(missing)} "
                         "(export it with 'phaser export CHECKPOINT --out model.onnx')")
    if props["format"] != FORMAT:
        raise InputError(f"{source} is not a phaser prior (format {props['format']!r})")
    meta = {}
    for k, v in props.items():
        try:
            meta[k] = json.loads(v) if k in _JSON_KEYS else v
        except json.JSONDecodeError:
            raise InputError(f"{source}: metadata {k!r} is not valid JSON") from None
    size, over = meta["input_size"], meta["oversampling"]
    if (not isinstance(size, list) or len(size) != 3
            or not all(isinstance(n, int) and n > 0 for n in size)):
        raise InputError(f"{source}: metadata input_size must be three positive integers")
    if (not isinstance(over, list) or len(over) != 3
            or not all(isinstance(s, (int, float)) and s >= 1 for s in over)):
        raise InputError(f"{source}: metadata oversampling must be three numbers >= 1")
    if meta["normalisation"] != NORMALISATION:
        raise InputError(f"{source}: unknown input normalisation {meta['normalisation']!r}")
    if int(meta["format_version"]) > FORMAT_VERSION:
        raise InputError(f"{source}: prior format version {meta['format_version']} is newer "
                         "than this phaser reads; upgrade phaser")
    return meta
