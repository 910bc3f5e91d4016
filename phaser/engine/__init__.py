"""The reconstruction engine: state, operators of the algorithm notation, and the loop."""

from phaser.engine.operators import ER, HIO, RAAR, Detwin, ShrinkWrap
from phaser.engine.refine import ML  # registers "ML" in the algorithm notation
from phaser.engine.coherence import PSF  # registers "PSF"  # noqa: I001 (after ML)

__all__ = ["ER", "HIO", "ML", "PSF", "RAAR", "Detwin", "ShrinkWrap"]
