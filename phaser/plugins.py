"""Entry-point registries: how phaser finds its initializers and beamlines, built-in or not.

Every pluggable kind of object has an entry-point group (``phaser.initializers``,
``phaser.beamlines``); phaser registers its own in ``pyproject.toml`` exactly as a
third-party package would, so both are found the same way.
"""

import functools
import importlib
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points

from phaser.errors import ConfigError

__all__ = ["Plugin", "registry", "load_plugin"]


@dataclass(frozen=True)
class Plugin:
    """A registered object: its name, ``module:attr`` target and distribution."""

    name: str
    target: str
    distribution: str


def registry(group, what):
    """The plugins of entry-point `group`, by name (`what` names the kind in errors).

    Raises
    ------
    phaser.errors.ConfigError
        If nothing at all is registered (phaser's own metadata is missing).
    """
    found = _scan(group, tuple(sys.path))
    if not found:
        raise ConfigError(f"no {what}s are registered: phaser's package metadata is "
                          "missing; install it (pip install -e .) rather than running the "
                          "source tree")
    return dict(found)


@functools.lru_cache(maxsize=16)
def _scan(group, path):
    # Reading every distribution's metadata takes ~0.05 s; what is installed can change
    # only with the import path (`path` is the cache key), so each path is scanned once.
    found = {}
    for ep in entry_points(group=group):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        # The first registration of a name wins, as Python's import order would have it.
        found.setdefault(ep.name, Plugin(ep.name, ep.value, dist))
    return found


def load_plugin(group, name, what):
    """Import and return the object registered as `name` in `group`.

    Raises
    ------
    phaser.errors.ConfigError
        Unknown name (the known ones are listed), or a plugin that cannot load.
    """
    plugins = registry(group, what)
    info = plugins.get(name)
    if info is None:
        raise ConfigError(f"unknown {what} {name!r}; choose from {', '.join(sorted(plugins))}")
    module, _, attr = info.target.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # a broken plugin must not take the command line down
        raise ConfigError(f"{what} {name!r} ({info.target}, from {info.distribution}) "
                          f"cannot load: {exc}") from None
    return obj
