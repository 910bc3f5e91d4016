"""ReconstructionConfig validation and TOML loading."""

import dataclasses

import pytest

from phaser.config import ReconstructionConfig, load_config
from phaser.errors import ConfigError


def test_defaults():
    cfg = ReconstructionConfig()
    assert cfg.algorithm is None and cfg.iters is None
    assert cfg.init == "autocorr" and cfg.backend == "numba"
    assert cfg.operator().n_iterations == 600
    assert cfg.to_dict() == {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ReconstructionConfig().iters = 5


def test_iters_scales_the_default_schedule():
    assert ReconstructionConfig(iters=120).operator().n_iterations == 120


def test_algorithm_is_parsed():
    assert ReconstructionConfig(algorithm="ER**3 * HIO**4").operator().n_iterations == 7


@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        ({"iters": 0}, "`iters` must be an integer >= 1, got 0"),
        ({"iters": -1}, "`iters` must be an integer >= 1, got -1"),
        ({"iters": True}, "`iters` must be an integer >= 1, got True"),
        ({"iters": 2.5}, "`iters`"),
        ({"iters": "20"}, "`iters`"),
        ({"algorithm": "ER**5", "iters": 5}, "`iters` scales the default schedule"),
        ({"backend": "nope"}, "unknown backend 'nope'"),
        ({"backend": ""}, "backend"),
        ({"init": ""}, "`init` must be a non-empty string"),
        ({"init": 3}, "`init` must be a non-empty string"),
        ({"algorithm": "ER**"}, "malformed algorithm string 'ER**'"),
        ({"algorithm": "FOO"}, "unknown operator 'FOO'"),
        ({"algorithm": "HIO(beta=2)"}, "HIO beta"),
        ({"algorithm": ""}, "empty"),
        ({"seed": -1}, "`seed`"),
        ({"seed": 1.5}, "`seed`"),
        ({"metrics_every": 0}, "`metrics_every`"),
        ({"threads": 0}, "`threads`"),
        ({"threads": False}, "`threads`"),
    ],
)
def test_invalid_values_raise_one_line_config_errors(kwargs, phrase):
    with pytest.raises(ConfigError) as info:
        ReconstructionConfig(**kwargs)
    assert phrase in str(info.value)
    assert "\n" not in str(info.value)


def test_replace_ignores_none_and_validates():
    cfg = ReconstructionConfig(seed=3, iters=50)
    assert cfg.replace(seed=None, backend="numpy") == ReconstructionConfig(seed=3, iters=50,
                                                                         backend="numpy")
    with pytest.raises(ConfigError):
        cfg.replace(iters=0)


# -- TOML ------------------------------------------------------------------------------------

def _write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_top_level_keys(tmp_path):
    path = _write(tmp_path, 'iters = 20\nseed = 3\nbackend = "numpy"\ninit = "random"\n'
                            "metrics_every = 5\nthreads = 1\n")
    assert load_config(path) == ReconstructionConfig(iters=20, seed=3, backend="numpy",
                                                     init="random", metrics_every=5, threads=1)


def test_load_reconstruction_table(tmp_path):
    path = _write(tmp_path, '[reconstruction]\nalgorithm = "ER**50 * (SW * HIO**20)**15"\nseed = 1\n')
    cfg = load_config(str(path))
    assert cfg == ReconstructionConfig(algorithm="ER**50 * (SW * HIO**20)**15", seed=1)


def test_to_dict_round_trips_through_toml(tmp_path):
    cfg = ReconstructionConfig(algorithm="HIO**3", seed=2, backend="numpy", threads=2,
                               psf_widths=(0, 1.5))
    lines = [f"{k} = {list(v) if isinstance(v, tuple) else v!r}".replace("'", '"')
             for k, v in cfg.to_dict().items() if v is not None]
    assert load_config(_write(tmp_path, "\n".join(lines) + "\n")) == cfg


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("iters = 20\nbeta = 0.9\n", "unknown option(s) beta"),
        ("[reconstruction]\nalgo = 'ER'\n", "unknown option(s) algo"),
        ("iters = 0\n", "`iters`"),
        ("iters = true\n", "`iters`"),
        ("iters = 1.5\n", "`iters`"),
        ("iters = 20\nalgorithm = 'ER**5'\n", "`iters` scales the default schedule"),
        ("algorithm = 'ER**'\n", "malformed algorithm"),
        ("backend = 'nope'\n", "unknown backend"),
        ("[reconstruction\niters = 2\n", "cannot read configuration"),
        ("iters = \n", "cannot read configuration"),
        ("iters = 20\niters = 30\n", "cannot read configuration"),
    ],
)
def test_bad_files_raise_config_errors(tmp_path, text, phrase):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert phrase in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_keys_are_listed_with_the_known_ones(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "zeta = 1\nalpha = 2\niters = 5\n"))
    message = str(info.value)
    assert "alpha, zeta" in message and "known:" in message and "iters" in message


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path)


def test_binary_garbage_is_a_config_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(path)


def test_reconstruction_key_that_is_not_a_table(tmp_path):
    with pytest.raises(ConfigError):
        load_config(_write(tmp_path, "reconstruction = 3\n"))


@pytest.mark.parametrize("text", ["seed = 3\n[reconstruction]\niters = 20\n",
                                  "[reconstruction]\niters = 20\n[other]\nx = 1\n"])
def test_keys_outside_the_reconstruction_table_are_not_silently_ignored(tmp_path, text):
    try:
        cfg = load_config(_write(tmp_path, text))
    except ConfigError:
        return
    assert cfg.seed == 3


@pytest.mark.parametrize("pair, expected", [
    ("radius=3", ("radius", 3)), ("scale=0.5", ("scale", 0.5)), ("flag=true", ("flag", True)),
    ("path=lib.h5", ("path", "lib.h5")), ('name="a b"', ("name", "a b")),
    ("sizes=[1, 2]", ("sizes", [1, 2])), (" key = x ", ("key", "x")),
])
def test_parse_option_reads_toml_values_else_text(pair, expected):
    from phaser.config import parse_option

    assert parse_option(pair) == expected


@pytest.mark.parametrize("pair", ["radius", "=3", "two words=1"])
def test_parse_option_refuses_malformed_pairs(pair):
    from phaser.config import parse_option

    with pytest.raises(ConfigError, match="`init_options` takes KEY=VALUE"):
        parse_option(pair)


def test_init_options_are_checked_when_the_configuration_is_made(tmp_path):
    cfg = ReconstructionConfig(init="autocorr", init_options={"threshold": 0.1})
    assert cfg.init_options == {"threshold": 0.1} and cfg.to_dict()["init_options"] == {"threshold": 0.1}
    with pytest.raises(ConfigError, match="'autocorr' takes no option 'fraction'"):
        ReconstructionConfig(init="autocorr", init_options={"fraction": 0.1})
    path = _write(tmp_path, 'init = "random"\n[init_options]\nfraction = 0.25\n')
    assert load_config(path).init_options == {"fraction": 0.25}


# -- a stored configuration is reusable as it is -----------------------------------------------

def test_a_result_s_configuration_makes_a_config_as_it_is(tmp_path):
    """``ReconstructionConfig(**result.config)``: the stored dict, with the files the run
    read, is a configuration (it was a TypeError)."""
    import numpy as np
    from typer.testing import CliRunner

    import phaser
    from phaser.cli import app

    data = tmp_path / "scan.npy"
    np.save(data, phaser.simulate(24, oversampling=3, photons=1e6, rng=0).iobs)
    mask = tmp_path / "mask.npy"
    np.save(mask, np.zeros((24, 24, 24), np.uint8))
    out = tmp_path / "r.cxi"
    done = CliRunner().invoke(app, ["run", str(data), "--mask", str(mask), "--algo",
                                    "ER**5 * HIO**10", "--seed", "4", "--sw-threshold",
                                    "0.2,0.3", "-q", "--out", str(out)])
    assert done.exit_code == 0, done.output
    stored = phaser.load_result(out).config
    assert stored["input"] == str(data) and stored["mask"] == str(mask)
    cfg = ReconstructionConfig(**stored)
    assert cfg.algorithm == "ER**5 * HIO**10" and cfg.seed == 4 and cfg.sw_threshold == (0.2, 0.3)
    assert load_config(out) == cfg
    # ... and ``phaser run --config RESULT`` runs it again: same options, same result.
    again = tmp_path / "again.cxi"
    done = CliRunner().invoke(app, ["run", str(data), "--mask", str(mask), "--config",
                                    str(out), "-q", "--out", str(again)])
    assert done.exit_code == 0, done.output
    np.testing.assert_array_equal(phaser.load_result(again).obj, phaser.load_result(out).obj)


def test_a_file_without_a_configuration_is_one_line(tmp_path):
    import numpy as np

    from phaser.io import save_data

    data = tmp_path / "data.cxi"
    save_data(data, np.ones((8, 8, 8), np.float32))
    with pytest.raises(ConfigError, match="holds no configuration"):
        load_config(data)
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "junk.h5")
