"""Fixtures of the raw-scan preparation tests, generated in code."""

import pytest

from synthetic_scan import make_scan


@pytest.fixture
def scan():
    """A raw scan with a known peak, and its dark and white fields with known defects."""
    return make_scan()
