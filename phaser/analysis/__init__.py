"""Analysis of reconstructions: alignment on a reference and comparison metrics.

Reconstructions are defined only up to a translation, a constant phase offset and the
twin image; :func:`align_to_reference` removes all three, after which
:func:`support_iou` and :func:`phase_rms` compare a reconstruction with a reference::

    from phaser.analysis import align_to_reference, phase_rms, support_iou
    aligned, info = align_to_reference(result.obj, sim.obj, sim.support)
    phase_rms(aligned, sim.obj, sim.support)
"""

from phaser.analysis.align import (
    AlignInfo,
    align_support,
    align_to_reference,
    shift_object,
    twin_image,
)
from phaser.analysis.compare import phase_rms, support_iou

__all__ = [
    "AlignInfo",
    "align_support",
    "align_to_reference",
    "phase_rms",
    "shift_object",
    "support_iou",
    "twin_image",
]
