"""Raw-scan preparation: from a measured rocking scan to the pattern phaser reconstructs.

The frames are read (:mod:`~phaser.preparation.frames`: TIFF series, folders, stacked
arrays; :mod:`~phaser.preparation.spec`: a spec file's scan record), corrected for the
detector (:mod:`~phaser.preparation.detector`: dark and white fields, gaps, hot pixels),
and cut around the Bragg peak into an FFT-friendly box (:mod:`~phaser.preparation.prepare`,
``phaser prepare``).  File formats are :mod:`phaser.io`'s.
"""

from phaser.preparation.prepare import Prepared, prepare, read_steps, write_prepared

__all__ = ["Prepared", "prepare", "read_steps", "write_prepared"]
