"""Sphinx directive ``phaser-help``: a command's ``--help`` text, as the terminal shows it.

``.. phaser-help:: nns build`` inserts what ``phaser nns build --help`` prints, so that the
command-line pages cannot drift from the commands.
"""

from docutils import nodes
from docutils.parsers.rst import Directive
from typer.testing import CliRunner

from phaser.cli import app


def command_help(words):
    """What ``phaser WORDS --help`` prints, 88 columns wide."""
    done = CliRunner().invoke(app, [*words, "--help"], prog_name="phaser",
                              env={"COLUMNS": "88", "TERM": "dumb"})
    if done.exit_code != 0:
        raise RuntimeError(f"phaser {' '.join(words)} --help failed: {done.output}")
    return done.output


class PhaserHelp(Directive):
    required_arguments = 1
    final_argument_whitespace = True

    def run(self):
        text = command_help(self.arguments[0].split())
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app):
    app.add_directive("phaser-help", PhaserHelp)
    return {"parallel_read_safe": True}
