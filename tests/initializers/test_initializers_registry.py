"""The initializer registry: entry points, options, and a plugin from a test distribution."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import phaser
from phaser.config import ReconstructionConfig
from phaser.errors import ConfigError
from phaser.initializers import (available_initializers, check_options, describe_initializers,
                                 get_initializer)

PLUGIN = '''
"""A third-party initializer for the registry tests."""

import numpy as np


class ShellInit:
    """A uniform ball of the given radius at the centre, phase zero."""

    def __init__(self, radius=5):
        self.radius = radius

    def __call__(self, iobs, mask, *, rng=None):
        grids = np.indices(iobs.shape) - (np.array(iobs.shape) // 2)[:, None, None, None]
        support = ((grids ** 2).sum(0) <= self.radius ** 2).astype(np.uint8)
        return support.astype(np.complex64), support
'''


@pytest.fixture
def plugin_dir(plugin_distribution):
    """A directory holding an installed distribution with two phaser initializers."""
    return plugin_distribution("phaser_shell_plugin", PLUGIN, textwrap.dedent("""\
        [phaser.initializers]
        shell = phaser_shell_plugin:ShellInit
        broken = phaser_no_such_module:Nope
        """))


@pytest.fixture
def installed(plugin_dir, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_dir))
    yield plugin_dir
    sys.modules.pop("phaser_shell_plugin", None)


def test_builtins_are_registered_as_entry_points():
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="phaser.initializers")}
    assert {"random", "autocorr", "nn", "nns", "previous"} <= names
    assert set(available_initializers()) == names


def test_a_plugin_is_listed_and_used(installed):
    assert {"shell", "broken"} <= set(available_initializers())
    lines = {line.split()[0]: line for line in describe_initializers()}
    assert "[phaser-shell-plugin]" in lines["shell"] and "(options: radius)" in lines["shell"]
    assert "A uniform ball" in lines["shell"]
    assert "cannot load" in lines["broken"]
    obj, support = get_initializer("shell", radius=3)(np.ones((16, 16, 16), np.float32), None)
    assert support.sum() == 123  # lattice points within radius 3
    res = phaser.reconstruct(np.ones((16, 16, 16), np.float32), algorithm="ER**2",
                             init="shell", init_options={"radius": 4}, free_fraction=0)
    assert res.support.sum() == 257  # ER keeps the plugin's support


def test_a_broken_plugin_gives_one_clear_error(installed):
    with pytest.raises(ConfigError, match=r"initializer 'broken' \(phaser_no_such_module:Nope, "
                                          r"from phaser-shell-plugin\) cannot load"):
        get_initializer("broken")


def test_options_are_checked_against_the_signature(installed):
    with pytest.raises(ConfigError, match=r"initializer 'shell' takes no option 'size'; its options: radius"):
        check_options("shell", {"size": 3})
    with pytest.raises(ConfigError, match="takes no option 'library'; its options: fraction"):
        ReconstructionConfig(init="random", init_options={"library": "x.h5"})
    with pytest.raises(ConfigError, match="init_options must be a table"):
        ReconstructionConfig(init_options=["a"])


def test_the_command_line_lists_and_runs_a_plugin(plugin_dir, tmp_path):
    data = tmp_path / "data.npy"
    np.save(data, np.ones((16, 16, 16), np.float32))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")]))
    listed = subprocess.run([sys.executable, "-m", "phaser", "info", "--initializers"],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "shell" in listed.stdout.splitlines()[0] and "[phaser-shell-plugin]" in listed.stdout
    run = subprocess.run([sys.executable, "-m", "phaser", "run", str(data), "--init", "shell",
                          "--init-option", "radius=2", "--algo", "ER**2", "--free-fraction", "0",
                          "-o", "r.cxi", "-q"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert phaser.load_result(tmp_path / "r.cxi").support.sum() == 33
    broken = subprocess.run([sys.executable, "-m", "phaser", "run", str(data), "--init", "broken",
                             "-o", "b.cxi"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert broken.returncode == 1 and len(broken.stderr.strip().splitlines()) == 1
    assert "cannot load" in broken.stderr and not (tmp_path / "b.cxi").exists()


def test_installed_plugins_are_listed_by_phaser_run_help(plugin_dir):
    """DESIGN: built-ins and third-party initializers are listed by ``phaser run --help``."""
    import os
    import subprocess

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(plugin_dir), *filter(None, [os.environ.get("PYTHONPATH")])]))
    done = subprocess.run([sys.executable, "-m", "phaser", "run", "--help"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "or a plugin: broken, shell (phaser info --initializers)" in text
    assert "autocorr (default)" in text
