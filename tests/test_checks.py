"""The option checks: one wording, the option named for the library and for the CLI."""

import numpy as np
import pytest

from phaser.checks import check_choice, check_integer, check_number
from phaser.cli.app import message
from phaser.errors import ConfigError, InputError


def test_integers_are_checked_and_returned_as_int():
    assert check_integer("runs", np.int64(3), 1) == 3 and type(check_integer("runs", 3)) is int
    for bad in (0, 1.0, True, "2", None):
        with pytest.raises(ConfigError, match=r"^`runs` must be an integer >= 1, got "):
            check_integer("runs", bad, 1)
    with pytest.raises(ConfigError, match="must be an integer >= 0"):
        check_integer("seed", -1, 0)
    with pytest.raises(ConfigError, match="must be an integer >= 2"):
        check_integer("size", 1, 2)


def test_numbers_are_checked_against_their_range():
    assert check_number("free_fraction", 0.2, 0, 0.2) == 0.2
    for bad in (0.3, -0.1, float("nan"), True, "0.1"):
        with pytest.raises(ConfigError, match=r"must be a number in \[0, 0.2\]"):
            check_number("free_fraction", bad, 0, 0.2)
    with pytest.raises(ConfigError, match=r"must be a number in \(0, 1\)"):
        check_number("SW threshold", 1, 0, 1, low_open=True, high_open=True)
    with pytest.raises(ConfigError, match="must be a positive number of voxels"):
        check_number("SW sigma", 0, 0, low_open=True, unit="voxels")


def test_choices_and_the_error_class_asked_for():
    assert check_choice("select", "llk", ("llk", "llk_free")) == "llk"
    with pytest.raises(InputError, match="`select` must be one of llk, llk_free, got 'x'"):
        check_choice("select", "x", ("llk", "llk_free"), error=InputError)


def test_the_command_line_names_the_flags_the_library_names_the_options():
    with pytest.raises(ConfigError) as caught:
        check_integer("metrics_every", 0, 1)
    assert str(caught.value).startswith("`metrics_every` must be")
    assert message(caught.value).startswith("--metrics-every must be")
    # A phrase is not an option: nothing to translate.
    with pytest.raises(ConfigError) as caught:
        check_integer("the repeat count after '**'", 1.5)
    assert caught.value.options == () and message(caught.value) == str(caught.value)
    both = ConfigError("`keep` (3) cannot exceed `runs` (2); keep fewer", options=("keep", "runs"))
    assert message(both) == "--keep (3) cannot exceed --runs (2); keep fewer"
    assert message(ConfigError("`algorithm` and `init_options`",
                               options=("algorithm", "init_options"))) == "--algo and --init-option"
