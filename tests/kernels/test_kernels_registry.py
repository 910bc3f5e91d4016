"""The backend registry: lookup by name, clear errors, no silent fallback."""

import sys

import pytest

from phaser import kernels
from phaser.errors import ConfigError, PhaserError
from phaser.kernels import BACKENDS, available_backends, get_backend


def test_numpy_is_always_available():
    names = available_backends()
    assert "numpy" in names
    assert set(names) <= set(BACKENDS)


@pytest.mark.parametrize("name", list(BACKENDS))
def test_each_registered_backend_loads_where_its_package_is_installed(name):
    """Skipped only where the backend's package is missing; where it is installed, the
    backend must load (a registry entry naming a module that does not load fails here)."""
    import importlib.util

    package = BACKENDS[name][2]
    if importlib.util.find_spec(package) is None:
        with pytest.raises(ConfigError) as info:
            get_backend(name)
        message = str(info.value)
        assert f"backend {name!r}" in message and package in message and "\n" not in message
        pytest.skip(f"backend {name!r} needs {package!r}, not installed here")
    if name == "cupy":
        from phaser.kernels.cupy_backend import device_status

        ok, line = device_status()
        if not ok:  # no device (nor the simulator): it says so in one line
            with pytest.raises(ConfigError) as info:
                get_backend(name)
            assert str(info.value) == line and "\n" not in line
            assert "phaser-cdi[gpu]" in line or "no CUDA device" in line
            pytest.skip(f"backend 'cupy': {line}")
    be = get_backend(name)
    assert be.name == name
    assert name in available_backends()


def test_backends_are_created_once_per_name_and_threads():
    assert get_backend("numpy") is get_backend("numpy")
    assert get_backend("numpy", threads=1) is get_backend("numpy", threads=1)
    assert get_backend("numpy", threads=1).threads == 1


def test_a_backend_object_is_passed_through():
    be = get_backend("numpy")
    assert get_backend(be) is be


def test_unknown_backend_raises_config_error():
    with pytest.raises(ConfigError, match="unknown backend 'nope'; choose from numpy, numba, cupy"):
        get_backend("nope")
    assert issubclass(ConfigError, PhaserError)


@pytest.fixture
def fake_registry(monkeypatch, tmp_path):
    """A registry with backends that cannot load, and an empty instance cache."""
    (tmp_path / "phaser_test_fake_backend.py").write_text(
        "import phaser_test_missing_package  # noqa: F401\n\nclass FakeBackend:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(kernels, "BACKENDS", {
        **BACKENDS,
        # Its package is missing.
        "ghost": ("phaser_test_no_such_module", "GhostBackend", "ghostlib"),
        # Its package is there but the module needs another one that is not.
        "fake": ("phaser_test_fake_backend", "FakeBackend", "numpy"),
    })
    monkeypatch.setattr(kernels, "_INSTANCES", {})
    yield
    sys.modules.pop("phaser_test_fake_backend", None)


def test_missing_package_is_named(fake_registry):
    with pytest.raises(ConfigError) as info:
        get_backend("ghost")
    message = str(info.value)
    assert "'ghost'" in message and "ghostlib" in message and "pip install" in message
    assert "\n" not in message


def test_missing_dependency_of_the_backend_module_is_named(fake_registry):
    with pytest.raises(ConfigError) as info:
        get_backend("fake")
    message = str(info.value)
    assert "'fake'" in message and "phaser_test_missing_package" in message
    assert "\n" not in message


def test_a_backend_that_cannot_load_never_falls_back(fake_registry):
    for name in ("ghost", "fake"):
        with pytest.raises(ConfigError):
            get_backend(name)
        with pytest.raises(ConfigError):  # and not cached as something else
            get_backend(name)
    assert not any(key[0] in ("ghost", "fake") for key in kernels._INSTANCES)


def test_available_backends_leaves_out_those_that_cannot_load(fake_registry):
    names = available_backends()
    assert "fake" not in names and "ghost" not in names and "numpy" in names
