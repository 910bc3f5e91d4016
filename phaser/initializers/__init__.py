"""Initializers: where a reconstruction starts.

An initializer is a class whose instances are called as
``init(iobs, mask, *, rng) -> (obj, support)``, with `iobs` and `mask` in file layout
(centred) and `obj` (complex) and `support` (uint8) returned on the same grid and layout.
They are registered on the ``phaser.initializers`` entry-point group, so a third-party
package can add one in its own ``pyproject.toml``::

    [project.entry-points."phaser.initializers"]
    mine = "mypackage.init:MyInit"
"""

import importlib
from importlib.metadata import entry_points

from phaser.errors import ConfigError

__all__ = ["get_initializer", "available_initializers"]

GROUP = "phaser.initializers"

_BUILTIN = {
    "random": "phaser.initializers.random:RandomInit",
    "autocorr": "phaser.initializers.autocorr:AutocorrInit",
    "nn": "phaser.initializers.nn:NNPrior",
}
# Built-ins are listed here too so a source checkout that was never pip-installed works.


def _registry():
    found = dict(_BUILTIN)
    for ep in entry_points(group=GROUP):
        found[ep.name] = ep.value
    return found


def available_initializers():
    """Names of the registered initializers, sorted."""
    return sorted(_registry())


def get_initializer(name, **options):
    """Instantiate the initializer registered as `name` with `options`.

    Raises
    ------
    phaser.errors.ConfigError
        Unknown name, or the initializer cannot load.
    """
    target = _registry().get(name)
    if target is None:
        raise ConfigError(
            f"unknown initializer {name!r}; choose from {', '.join(available_initializers())}"
        )
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"initializer {name!r} cannot load: {exc}") from None
    return cls(**options)
