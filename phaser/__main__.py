"""``python -m phaser``: the same command line as ``phaser``."""

from phaser.cli import main

main()
