"""The algorithm notation: whitelisted parsing, canonical strings, clear errors."""

import pytest

from phaser import parse_algorithm
from phaser.engine.operators import ER, HIO, Chain, Operator, Repeat, ShrinkWrap
from phaser.errors import ConfigError


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("ER", "ER"),
        ("ER()", "ER"),
        ("ER**50 * (SW * HIO**20)**15", "ER**50 * (SW * HIO**20)**15"),
        ("ER ** 50*(SW*HIO ** 20) ** 15", "ER**50 * (SW * HIO**20)**15"),
        ("  HIO**3  ", "HIO**3"),
        ("ER**1", "ER"),
        ("(ER**2)**3", "(ER**2)**3"),
        ("(SW * ER)**1 * HIO", "SW * ER * HIO"),
        ("ER * (HIO * RAAR)", "ER * HIO * RAAR"),
        ("HIO(beta=0.9)", "HIO"),
        ("HIO(0.7)**4", "HIO(beta=0.7)**4"),
        ("HIO(beta=1)", "HIO(beta=1.0)"),
        ("RAAR(beta=0.75) * ER", "RAAR(beta=0.75) * ER"),
        ("SW(0.15, 1.5) * ER", "SW(threshold=0.15, sigma=1.5) * ER"),
        ("SW(method='mean') * ER", "SW(method='mean') * ER"),
        ('SW(sigma=2, method="rms", threshold=0.1) * ER', None),
        ("(SW * ER**20)**5 * (SW * HIO**20)**25", "(SW * ER**20)**5 * (SW * HIO**20)**25"),
    ],
)
def test_round_trip_to_the_canonical_string(text, canonical):
    op = parse_algorithm(text)
    assert isinstance(op, Operator)
    if canonical is not None:
        assert str(op) == canonical
    again = parse_algorithm(str(op))
    assert again == op
    assert str(again) == str(op)


def test_operator_is_returned_unchanged():
    op = ER() ** 3
    assert parse_algorithm(op) is op


def test_parsed_structure():
    op = parse_algorithm("ER**50 * (SW * HIO**20)**15")
    assert op == Chain((Repeat(ER(), 50), Repeat(Chain((ShrinkWrap(), Repeat(HIO(), 20))), 15)))


def test_parameters_are_passed_to_the_operators():
    op = parse_algorithm("SW(0.1, 2, 'mean') * HIO(beta=0.5) * RAAR(0.6)")
    sw, hio, raar = op.factors
    assert (sw.threshold, sw.sigma, sw.method) == (0.1, 2.0, "mean")
    assert hio.beta == 0.5 and raar.beta == 0.6
    assert hio.coefficients() == (1.0, -0.5)
    assert raar.coefficients() == pytest.approx((0.6, -0.2))
    assert ER().coefficients() == (0.0, 0.0)


@pytest.mark.parametrize(
    "text, n",
    [("ER", 1), ("ER**50 * (SW * HIO**20)**15", 350), ("(SW * HIO**10)**2", 20),
     ("SW * ER", 1), ("((ER**2 * HIO)**3 * RAAR**4)**2", 26)],
)
def test_n_iterations_counts_projections_only(text, n):
    assert parse_algorithm(text).n_iterations == n


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("ER**", "malformed"),
        ("ER *", "malformed"),
        ("ER HIO", "malformed"),
        ("ER**50 * (SW * HIO**20", "malformed"),
        ("FOO", "unknown operator 'FOO'"),
        ("er**2", "unknown operator 'er'"),
        ("ER**0", "an integer >= 1"),
        ("ER**-3", "an integer >= 1"),
        ("ER**2.5", "must be an integer"),
        ("ER**'3'", "must be an integer"),
        ("ER**True", "True"),
        ("3 * ER", "'*' joins two operators"),
        ("ER * 3", "'*' joins two operators"),
        ("2**ER", "'**' needs an operator"),
        ("ER + HIO", "unexpected"),
        ("ER / 2", "unexpected"),
        ("[ER, HIO]", "unexpected"),
        ("SW", "runs no iteration"),
        ("SW**3", "runs no iteration"),
        ("HIO(beta=0)", "HIO beta"),
        ("HIO(beta=1.5)", "HIO beta"),
        ("HIO(beta=-0.5)", "HIO beta"),
        ("HIO(beta='x')", "HIO beta"),
        ("RAAR(beta=1)", "RAAR beta"),
        ("HIO(gamma=0.5)", "no parameter 'gamma'"),
        ("HIO(0.5, 0.6)", "at most 1"),
        ("ER(1)", "at most 0"),
        ("HIO(beta=x)", "numbers or strings"),
        ("HIO(beta=True)", "numbers or strings"),
        ("HIO(**{'beta': 0.5})", "'**kwargs' is not allowed"),
        ("SW(threshold=0) * ER", "SW threshold"),
        ("SW(threshold=1) * ER", "SW threshold"),
        ("SW(sigma=0) * ER", "SW sigma"),
        ("SW(sigma=-1) * ER", "SW sigma"),
        ("SW(method='median') * ER", "SW method"),
        ("SW(method=3) * ER", "SW method"),
    ],
)
def test_bad_strings_raise_one_line_config_errors(text, phrase):
    with pytest.raises(ConfigError) as info:
        parse_algorithm(text)
    message = str(info.value)
    assert phrase in message
    assert "\n" not in message
    if text.strip():
        assert repr(text) in message  # the message quotes what the user wrote


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('touch /tmp/phaser_pwned')",
        "__import__('os')",
        "ER.__class__",
        "ER.__class__.__bases__[0].__subclasses__()",
        "(lambda: ER)()",
        "exec('import os')",
        "[x for x in ()]",
        "ER if True else HIO",
        "open('/etc/passwd')",
        "ER**(10**10**10)",
    ],
)
def test_nothing_is_evaluated(text, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("os.system", lambda *a: calls.append(a))
    with pytest.raises(ConfigError):
        parse_algorithm(text)
    assert calls == []


def test_non_string_input_is_refused():
    for bad in (None, 5, ["ER"]):
        with pytest.raises(ConfigError):
            parse_algorithm(bad)


def test_non_string_input_message_says_it_is_not_a_string():
    with pytest.raises(ConfigError, match="string") as info:
        parse_algorithm(5)
    assert "empty" not in str(info.value)


@pytest.mark.parametrize("text", ["HIO(0.5, beta=0.6)", "HIO(beta=0.5, beta=0.6)"])
def test_a_parameter_given_twice_is_refused(text):
    with pytest.raises(ConfigError):
        parse_algorithm(text)


def test_a_very_long_chain_gives_a_config_error_not_a_recursion_error():
    text = " * ".join(["ER"] * 1000)
    try:
        op = parse_algorithm(text)
    except ConfigError:
        return
    assert op.n_iterations == 1000
