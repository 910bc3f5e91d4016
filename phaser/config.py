"""Configuration of a reconstruction: one frozen dataclass, loadable from TOML.

Every ``phaser run`` option maps to one field; values given on the command line override
those of a ``--config FILE.toml``.  The full configuration is stored with each result.
"""

import dataclasses
from dataclasses import dataclass, fields

from phaser.errors import ConfigError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["ReconstructionConfig", "load_config"]


@dataclass(frozen=True)
class ReconstructionConfig:
    """Options of a reconstruction, validated on creation."""

    algorithm: str | None = None
    """Algorithm in PyNX notation (e.g. ``"ER**50 * (SW * HIO**20)**15"``); None means the
    default schedule (:func:`phaser.engine.schedule.default_algorithm`)."""

    iters: int | None = None
    """Total iterations of the default schedule, scaled to its shape (only without `algorithm`)."""

    init: str = "autocorr"
    """Initializer name (``random``, ``autocorr`` or any registered plugin)."""

    backend: str = "numba"
    """Kernel backend: ``numpy`` (reference), ``numba`` (fast CPU) or ``cupy`` (GPU)."""

    seed: int | None = None
    """Seed of the random start; with a seed, runs are reproducible on a given backend."""

    metrics_every: int = 10
    """Record chi² and LLK every this many iterations (and at the end)."""

    threads: int | None = None
    """CPU threads for kernels and FFTs; None uses every core available."""

    def __post_init__(self):
        if self.algorithm is not None and self.iters is not None:
            raise ConfigError("--iters scales the default schedule; with --algo write the "
                              "iteration counts in the algorithm string")
        if self.iters is not None:
            _check_int("iters", self.iters, 1)
        if self.seed is not None:
            _check_int("seed", self.seed, 0)
        _check_int("metrics_every", self.metrics_every, 1)
        if self.threads is not None:
            _check_int("threads", self.threads, 1)
        for name in ("init", "backend"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ConfigError(f"{name} must be a non-empty string")
        from phaser.kernels import BACKENDS

        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r}; choose from {', '.join(BACKENDS)}")
        self.operator()  # fail now on a malformed algorithm

    def operator(self):
        """The algorithm to run, parsed (or the default schedule, scaled to `iters`)."""
        from phaser.engine.schedule import DEFAULT_ITERATIONS, default_algorithm, parse_algorithm

        if self.algorithm is None:
            return default_algorithm(self.iters or DEFAULT_ITERATIONS)
        return parse_algorithm(self.algorithm)

    def to_dict(self):
        """Plain dict of the fields (None values kept)."""
        return dataclasses.asdict(self)

    def replace(self, **changes):
        """A copy with `changes` applied (None values are ignored) and validated."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        flag = name.replace("_", "-")
        raise ConfigError(f"--{flag} must be an integer >= {minimum}, got {value!r}")


def load_config(path):
    """Read a :class:`ReconstructionConfig` from a TOML file.

    The file holds the fields at top level or under a ``[reconstruction]`` table.

    Raises
    ------
    phaser.errors.ConfigError
        Missing or malformed file, unknown keys, invalid values.
    """
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"no such configuration file: {path}") from None
    except (OSError, ValueError) as exc:  # TOMLDecodeError and UnicodeDecodeError
        raise ConfigError(f"cannot read configuration {path}: {exc}") from None
    if "reconstruction" in data:
        table, others = data.pop("reconstruction"), sorted(data)
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: 'reconstruction' must be a table of options")
        if others:
            raise ConfigError(f"{path}: option(s) {', '.join(others)} outside the [reconstruction] table")
        data = table
    known = {f.name for f in fields(ReconstructionConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return ReconstructionConfig(**data)
