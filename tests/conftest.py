"""Shared test set-up: keep FFTW wisdom written by the tests out of the user's cache."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("PHASER_CACHE_DIR", str(tmp_path_factory.mktemp("phaser-cache")))
    yield
    mp.undo()
