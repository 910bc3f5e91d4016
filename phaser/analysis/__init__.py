"""Analysis of reconstructions: alignment on a reference, comparison metrics, and phase
post-processing into displacement and strain maps.

Reconstructions are defined only up to a translation, a constant phase offset and the
twin image; :func:`align_to_reference` removes all three, after which
:func:`support_iou` and :func:`phase_rms` compare a reconstruction with a reference::

    from phaser.analysis import align_to_reference, phase_rms, support_iou
    aligned, info = align_to_reference(result.obj, sim.obj, sim.support)
    phase_rms(aligned, sim.obj, sim.support)
    recovery_scores(result.obj, sim.obj, sim.support)   # aligned: iou, phase_rms, success

:func:`postprocess` turns a reconstructed phase into maps a user reads (ramp removed,
origin at the centre of mass, unwrapped in 3-D, displacement in Å and strain along q)::

    from phaser.analysis import postprocess_result
    result = postprocess_result(result, bragg=(1, 1, 1), lattice=4.078, voxel_size=5.0)
    result.maps["strain"]

:mod:`phaser.analysis.report` draws a one-page summary figure of a result
(``phaser report``); it imports matplotlib, so it is not imported here.
"""

from phaser.analysis.align import (
    AlignInfo,
    align_support,
    align_to_reference,
    shift_object,
    twin_image,
)
from phaser.analysis.compare import phase_rms, recovery_scores, support_iou
from phaser.analysis.phase import PostProcessed, postprocess, postprocess_result

__all__ = [
    "AlignInfo",
    "PostProcessed",
    "align_support",
    "align_to_reference",
    "phase_rms",
    "postprocess",
    "postprocess_result",
    "recovery_scores",
    "shift_object",
    "support_iou",
    "twin_image",
]
