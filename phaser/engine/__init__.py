"""The reconstruction engine: state, operators of the algorithm notation, and the loop."""

from phaser.engine.operators import ER, HIO, RAAR, Detwin, ShrinkWrap
from phaser.engine.refine import ML  # registers "ML" in the algorithm notation

__all__ = ["ER", "HIO", "ML", "RAAR", "Detwin", "ShrinkWrap"]
