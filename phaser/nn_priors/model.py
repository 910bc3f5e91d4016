"""A prior network exported to ONNX, run with onnxruntime (no PyTorch at run time)."""

from pathlib import Path

import numpy as np

from phaser.errors import ConfigError, InputError
from phaser.nn_priors.metadata import decode

__all__ = ["PriorModel", "bundled_model"]

_BUNDLED = Path(__file__).with_name("models") / "phaser-prior-64.onnx"


def bundled_model():
    """Path of the prior shipped with phaser (see ``phaser/nn_priors/models/MODEL_CARD.md``)."""
    return _BUNDLED


class PriorModel:
    """An ONNX prior: its metadata, checked, and a prediction method.

    Parameters
    ----------
    path : str or os.PathLike, optional
        ONNX file exported by ``phaser export``; default the bundled model.
    threads : int, optional
        onnxruntime intra-op threads (default: onnxruntime's choice, all cores).

    Attributes
    ----------
    meta : dict
        The model's metadata (:mod:`phaser.nn_priors.metadata`).
    size : tuple of int
    oversampling : tuple of float

    Raises
    ------
    InputError
        Missing or unreadable file, missing metadata, or a graph input that does not match
        the declared size.
    """

    def __init__(self, path=None, threads=None):
        try:
            import onnxruntime as ort
        except ImportError:  # pragma: no cover - a runtime dependency
            raise ConfigError("the nn initializer needs onnxruntime: pip install onnxruntime") from None
        path = Path(path) if path is not None else _BUNDLED
        if not path.is_file():
            raise InputError(f"model file {path} does not exist")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for bad files
            raise InputError(f"cannot load model {path}: {str(exc).splitlines()[0]}") from None
        self.path = path
        self.meta = decode(self.session.get_modelmeta().custom_metadata_map, source=str(path))
        self.size = tuple(self.meta["input_size"])
        self.oversampling = tuple(float(s) for s in self.meta["oversampling"])
        self.support_threshold = float(self.meta["support_threshold"])
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        names = [o.name for o in outputs]
        if len(inputs) != 1 or names[:2] != ["amplitude", "phase"] or names[2:] not in ([], ["latent"]):
            raise InputError(f"{path}: a prior takes one input and gives amplitude and phase "
                             f"(and optionally latent), not {', '.join(names)}")
        self.has_latent = "latent" in names
        dims = inputs[0].shape
        if len(dims) != 5 or dims[1] != 2 or list(dims[2:]) != list(self.size):
            raise InputError(f"{path}: graph input {dims} does not match the declared input "
                             f"size (batch, 2, {', '.join(map(str, self.size))})")
        self._input = inputs[0].name

    def predict(self, x):
        """Amplitude and phase for network inputs ``x`` of shape ``(2, *size)`` or
        ``(n, 2, *size)``."""
        x, single = self._batch(x)
        amp, phase = self.session.run(["amplitude", "phase"], {self._input: x})
        return (amp[0], phase[0]) if single else (amp, phase)

    def encode(self, x):
        """The encoder's latent vectors for inputs of shape ``(2, *size)`` or ``(n, 2, *size)``.

        Raises
        ------
        InputError
            The model has no ``latent`` output (exported without one).
        """
        if not self.has_latent:
            raise InputError(f"{self.path} has no latent output; re-export it with "
                             "'phaser export'")
        x, single = self._batch(x)
        (latent,) = self.session.run(["latent"], {self._input: x})
        return latent[0] if single else latent

    def _batch(self, x):
        """`x` as a float32 batch, and whether it was a single input; shape checked."""
        x = np.asarray(x, np.float32)
        single = x.ndim == 4
        if single:
            x = x[None]
        if x.shape[1:] != (2, *self.size):
            raise InputError(f"network input of shape {x.shape[1:]} given, the model takes "
                             f"{(2, *self.size)}")
        return x, single
