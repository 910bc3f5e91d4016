"""Export a trained prior to ONNX with its metadata, checked against PyTorch."""

import datetime
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from phaser import __version__
from phaser.errors import InputError
from phaser.io.atomic import atomic_output, check_output
from phaser.nn_priors import metadata
from phaser.nn_priors.train.loop import load_checkpoint
from phaser.nn_priors.train.networks import build_model

__all__ = ["export_onnx", "EXPORT_TOLERANCE"]

EXPORT_TOLERANCE = 1e-4
"""Largest allowed difference between onnxruntime and torch outputs (amplitude in [0, 1],
phase in radians)."""

_OPSET = 17

LATENT_POOL = 2
"""The exported ``latent`` output averages the encoder's features over this many regions
per axis: ``8 · width · LATENT_POOL³`` numbers (512 at width 8)."""


class _WithLatent(torch.nn.Module):
    """A prior that also returns its encoder's features, pooled: the latent embedding."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.pool = torch.nn.AdaptiveAvgPool3d(LATENT_POOL)

    def forward(self, x):
        amplitude, phase, z = self.net.forward_with_latent(x)
        return amplitude, phase, self.pool(z).flatten(1)


def export_onnx(checkpoint, out, *, force=False, seed=0):
    """Write a checkpoint's network as an ONNX prior and check it against torch.

    The model's outputs are ``amplitude`` and ``phase`` and ``latent``, the encoder's
    pooled features (:data:`LATENT_POOL`) used by ``phaser nns build --embedding encoder``.

    Parameters
    ----------
    checkpoint : str or os.PathLike
        Written by ``phaser train``.
    out : str or os.PathLike
        ONNX file; it appears complete or not at all.
    force : bool
        Replace an existing file.
    seed : int
        Seed of the random test input.

    Returns
    -------
    dict
        ``path`` and ``max_difference`` (onnxruntime against torch).

    Raises
    ------
    InputError
        Bad checkpoint, existing output without `force`, or outputs that differ by more
        than :data:`EXPORT_TOLERANCE` (nothing is written then).
    """
    import onnx
    import onnxruntime as ort


    ckpt = load_checkpoint(checkpoint)
    h = ckpt["header"]
    out = Path(out)
    check_output(out, force=force)
    net = build_model(h["model"], h["size"], h["width"])
    support_threshold = net.support_threshold
    net.load_state_dict(ckpt["state_dict"])
    net.eval()
    net = _WithLatent(net).eval()
    size = (h["size"],) * 3
    x = torch.from_numpy(np.random.default_rng(seed).random((1, 2, *size), np.float32))
    with atomic_output(out, force=force) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(tmp), input_names=["pattern"],
                          output_names=["amplitude", "phase", "latent"],
                          dynamic_axes={"pattern": {0: "batch"}, "amplitude": {0: "batch"},
                                        "phase": {0: "batch"}, "latent": {0: "batch"}},
                          opset_version=_OPSET, dynamo=False)
        model = onnx.load(str(tmp))
        meta = {
            "format": metadata.FORMAT,
            "format_version": metadata.FORMAT_VERSION,
            "input_size": list(size),
            "oversampling": [float(s) for s in h["oversampling"]],
            "normalisation": metadata.NORMALISATION,
            "support_threshold": support_threshold,
            "model": h["model"],
            "width": h["width"],
            "loss": h["loss"],
            "training": {k: h.get(k) for k in ("data", "epochs", "batch_size", "lr", "seed",
                                               "augment", "finetuned_from")},
            "training_command": h.get("command", ""),
            "metrics": ckpt.get("metrics", {}),
            "phaser_version": __version__,
            "torch_version": torch.__version__,
            "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        for key, value in metadata.encode(meta).items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        model.doc_string = "phaser BCDI prior: " + json.dumps({"model": h["model"],
                                                               "size": list(size)})
        onnx.save(model, str(tmp))
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        got = session.run(None, {"pattern": x.numpy()})
        with torch.no_grad():
            want = [t.numpy() for t in net(x)]
        diff = max(float(np.abs(g - w).max()) for g, w in zip(got, want))
        if diff > EXPORT_TOLERANCE:
            raise InputError(f"exported model differs from torch by {diff:.3g} "
                             f"(tolerance {EXPORT_TOLERANCE}); nothing written")
    return {"path": out, "max_difference": diff}
