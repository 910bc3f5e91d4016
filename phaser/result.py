"""The result of a reconstruction, as returned by :func:`phaser.reconstruct` and read back by
:func:`phaser.load_result`."""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Result", "HISTORY_KEYS"]

HISTORY_KEYS = ("iteration", "chi2", "llk", "llk_free", "support_size")
"""Per-iteration history columns, each a 1-D array of the same length."""


@dataclass
class Result:
    """A reconstructed object with everything needed to reproduce it.

    Attributes
    ----------
    obj : numpy.ndarray
        Complex64 object, (z, y, x), centred (file layout), scaled so that
        ``abs(fftn(ifftshift(obj)))**2`` matches the data.
    support : numpy.ndarray
        Uint8 support, same shape and layout as `obj`.
    history : dict of str to numpy.ndarray
        Metrics recorded during the run; keys are :data:`HISTORY_KEYS`.
    config : dict
        The full configuration of the run (plain, TOML-compatible values).
    timings : dict of str to float
        Wall times in seconds (``setup``, ``iterations``, ``total``) and ``iterations_per_s``.
    algorithm : str
        Canonical algorithm string as run.
    backend : str
        Name of the kernel backend that ran it.
    seed : int or None
        Seed of the random start, if one was given.
    version : str
        phaser version that produced it.
    command : str
        Command line (or library call) that produced it.
    maps : dict of str to numpy.ndarray
        Post-processed float32 maps on the object's grid and layout (``amplitude``,
        ``phase``, and with a known d-spacing ``displacement`` and ``strain``), as made by
        :func:`phaser.analysis.postprocess`; empty if the phase was not post-processed.
    postprocess : dict
        How `maps` were made (JSON-serialisable): the Bragg reflection, lattice parameter
        or d-spacing, voxel size, q direction, origin, and ``units`` (map name -> unit).
    runs : list of dict
        One JSON-serialisable summary per independent run of a multi-run reconstruction
        (seed, ``llk_free``, ``chi2``, ``llk``, status, whether it was kept); empty for a
        single run.
    mode_weights : list of float
        For a multi-run result, the weight of each orthogonal mode of the kept runs (its
        share of their total intensity; the result is the first mode); empty otherwise.
    events : list of dict
        What the run did on its own, in order (JSON-serialisable): e.g.
        ``{"iteration": 120, "event": "support_retuned", "support": "exploded", ...}``.
    psf : numpy.ndarray or None
        float32 point-spread function of the partial coherence refined during the run
        (file layout: its peak at the array centre, summing to 1), or None for a run
        without ``PSF``.
    frame : str
        Frame of the arrays: ``"detector"`` (as reconstructed: rocking frame, detector row,
        detector column), ``"lab"`` or ``"crystal"`` (orthogonalised; see
        :mod:`phaser.geometry`).
    transform : numpy.ndarray or None
        ``(3, 3)`` float64: the position change (x, y, z in `frame`'s axes, or in the
        laboratory for the detector frame, nm) per step along each array axis (columns);
        None without a geometry.
    plan : dict
        What the configuration ran (:meth:`phaser.engine.plan.Plan.to_dict`): schedule,
        starts, models, the race, runs, and every iteration in all; empty for results made
        before plans.
    geometry : dict
        The experiment's geometry (:meth:`phaser.geometry.Geometry.to_dict`) with what was
        derived from it: ``q`` (the Bragg peak's q in the laboratory, 1/Å),
        ``d_spacing`` (Å), ``detector_transform`` (the detector frame's direct-space
        matrix, nm) and ``rotation`` (laboratory to `frame`); empty without one.
    """

    obj: np.ndarray
    support: np.ndarray
    history: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    algorithm: str = ""
    backend: str = ""
    seed: int | None = None
    version: str = ""
    command: str = ""
    maps: dict = field(default_factory=dict)
    postprocess: dict = field(default_factory=dict)
    runs: list = field(default_factory=list)
    psf: np.ndarray | None = None
    mode_weights: list = field(default_factory=list)
    events: list = field(default_factory=list)
    frame: str = "detector"
    transform: np.ndarray | None = None
    geometry: dict = field(default_factory=dict)
    plan: dict = field(default_factory=dict)

    @property
    def chi2(self):
        """Final chi² (last entry of the history), or NaN if none was recorded."""
        values = self.history.get("chi2")
        return float(values[-1]) if values is not None and len(values) else float("nan")

    @property
    def voxel_size(self):
        """Real-space voxel size along each array axis in nm, or None if unknown.

        The post-processing's voxel size if it recorded one, else, for an orthogonalised
        result, the length of each array step from :attr:`transform`.  A detector-frame
        result has no voxel size of its own: its steps are not orthogonal (their vectors
        are the columns of :attr:`transform`).
        """
        sizes = self.postprocess.get("voxel_size") if isinstance(self.postprocess, dict) else None
        if sizes is None and self.transform is not None and self.frame != "detector":
            sizes = np.linalg.norm(np.asarray(self.transform, dtype=np.float64), axis=0)
        if sizes is None:
            return None
        sizes = tuple(float(v) for v in np.broadcast_to(np.asarray(sizes, dtype=np.float64), (3,)))
        return sizes if all(np.isfinite(v) and v > 0 for v in sizes) else None

    @property
    def llk(self):
        """Final Poisson log-likelihood (last entry of the history), or NaN if none was recorded."""
        values = self.history.get("llk")
        return float(values[-1]) if values is not None and len(values) else float("nan")
