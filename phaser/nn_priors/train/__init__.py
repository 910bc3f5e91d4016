"""Training side of the network priors (PyTorch; ``pip install phaser-cdi[train]``).

Nothing in the reconstruction engine imports this subpackage; it imports the engine's
simulator and the runtime's pre-processing so that training and inference see the same
inputs.
"""

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the install
    from phaser.errors import ConfigError

    raise ConfigError(
        "training needs PyTorch: pip install torch, then pip install 'phaser-cdi[train]'"
    ) from exc

__all__ = ["train", "resume", "finetune", "load_checkpoint", "export_onnx"]


def __getattr__(name):
    if name in ("train", "resume", "finetune", "load_checkpoint"):
        from phaser.nn_priors.train import loop

        return getattr(loop, name)
    if name == "export_onnx":
        from phaser.nn_priors.train.export import export_onnx

        return export_onnx
    raise AttributeError(name)
