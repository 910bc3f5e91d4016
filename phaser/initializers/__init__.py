"""Initializers: where a reconstruction starts.

An initializer is a class whose instances are called as
``init(iobs, mask, *, rng) -> (obj, support)``, with `iobs` and `mask` in file layout
(centred) and `obj` (complex) and `support` (uint8) returned on the same grid and layout.
Its constructor's keyword arguments are its options (``init_options`` of the
configuration, ``--init-option KEY=VALUE`` on the command line).

Every initializer, the built-in ones included, is registered on the ``phaser.initializers``
entry-point group, so a third-party package adds one in its own ``pyproject.toml``::

    [project.entry-points."phaser.initializers"]
    mine = "mypackage.init:MyInit"
"""

import inspect

from phaser.errors import ConfigError
from phaser.plugins import load_plugin, registry

__all__ = ["GROUP", "available_initializers", "check_options",
           "describe_initializers", "get_initializer"]

GROUP = "phaser.initializers"


def _registry():
    return registry(GROUP, "initializer")


def available_initializers():
    """Names of the registered initializers, sorted."""
    return sorted(_registry())


def _load(name):
    return load_plugin(GROUP, name, "initializer")


def _options(cls):
    """Keyword options of an initializer class, or None if it takes ``**kwargs``."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def check_options(name, options):
    """Check that initializer `name` exists and accepts the keyword `options`.

    Raises
    ------
    phaser.errors.ConfigError
        Unknown initializer, one that cannot load, or an option it does not take, or
        a required option missing.
    """
    cls = _load(name)
    known = _options(cls)
    if known is None:
        return
    unknown = sorted(set(options) - set(known))
    if unknown:
        takes = f"its options: {', '.join(known)}" if known else "it takes none"
        raise ConfigError(f"initializer {name!r} takes no option {', '.join(map(repr, unknown))}; {takes}")
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as exc:
        raise ConfigError(f"initializer {name!r}: {exc}") from None


def get_initializer(name, **options):
    """Instantiate the initializer registered as `name` with `options`.

    Raises
    ------
    phaser.errors.ConfigError
        Unknown name, the initializer cannot load, or an option it does not take.
    """
    check_options(name, options)
    return _load(name)(**options)


def describe_initializers():
    """One line per registered initializer: name, distribution, options and summary."""
    lines = []
    for name in available_initializers():
        info = _registry()[name]
        try:
            cls = _load(name)
        except ConfigError as exc:
            lines.append(f"{name:<10} [{info.distribution}] cannot load: {exc}")
            continue
        doc = (inspect.getdoc(cls) or "").strip().splitlines()
        options = _options(cls)
        opts = "any" if options is None else (", ".join(options) or "none")
        summary = doc[0] if doc else info.target
        lines.append(f"{name:<10} [{info.distribution}] {summary} (options: {opts})")
    return lines
