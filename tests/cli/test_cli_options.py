"""phaser run's options, declared once in RunOptions, and shared by phaser batch."""

import dataclasses
import inspect

import pytest

from phaser.cli.batch import batch
from phaser.cli.options import RunOptions
from phaser.cli.run import run
from phaser.config import ReconstructionConfig
from phaser.errors import ConfigError


def test_run_and_batch_take_every_run_option():
    names = [f.name for f in dataclasses.fields(RunOptions)]
    for command in (run, batch):
        parameters = inspect.signature(command).parameters
        assert names == [n for n in parameters if n in names]
        assert "options" not in parameters
    assert len(names) >= 30


def test_no_option_given_is_the_default_configuration():
    assert RunOptions().config() == ReconstructionConfig()


def test_flags_over_a_configuration_file(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text("iters = 300\nseed = 4\nstarts = 2\n")
    cfg = RunOptions(config_file=toml, seed=7, psf_widths="0,1", bragg="111").config()
    assert (cfg.iters, cfg.seed, cfg.starts, cfg.psf_widths, cfg.bragg) == (
        300, 7, 2, (0.0, 1.0), (1, 1, 1))


def test_an_initializer_flag_belongs_to_its_initializer():
    with pytest.raises(ConfigError, match="--library is an option of --init nns"):
        RunOptions(library="lib.h5").config()
