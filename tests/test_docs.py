"""The documentation builds with warnings as errors and covers the API and the commands."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

import phaser
from phaser.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_the_documentation_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("sphinx")
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q",
                           "-b", "html", "-d", str(tmp_path / "doctrees"), str(DOCS),
                           str(tmp_path / "html")], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "html" / "generated" / "phaser.reconstruct.html").is_file()


def test_every_public_name_has_a_page():
    listed = re.findall(r"^   (\S+)$", (DOCS / "api.rst").read_text(), re.M)
    assert set(phaser.__all__) - {"__version__"} <= set(listed)


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_every_command_has_a_page():
    pages = {" ".join(re.findall(r"\{phaser-help\} (.+)", page.read_text()))
             for page in (DOCS / "cli").glob("*.md")}
    commands = {" ".join(c) for c in _commands(typer.main.get_command(app))}
    assert len(commands) >= 10 and commands <= pages


def test_the_readme_fits_on_a_few_screens_and_opens_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 300
    assert lines[0] == "```bash" and lines[1].startswith("pip install -e . && phaser run ")
    assert lines[2].startswith("pip install torch==2.13.0 && pip install -e \".[test]\"")
