"""The reconstruction state: object, support, data and history, in engine layout on a backend."""

import logging
import os

import numpy as np

from phaser.conventions import to_engine, to_file
from phaser.engine.coherence import (DECONVOLUTION_FLOOR, DECONVOLUTION_START, DECONVOLUTION_UPDATE,
                                     full_psf)
from phaser.kernels.common import core_half_widths, radial_window
from phaser.result import HISTORY_KEYS

__all__ = ["SharedAmplitudes", "State"]

_PARKED = ("obj", "support", "mask", "target", "otf", "_free_lags", "_psf_window")
"""The arrays of a :class:`State` that :meth:`State.park` writes to files."""


class SharedAmplitudes:
    """A pattern's amplitudes on a backend, in engine layout, made once for the states of
    several trials of one run (:mod:`phaser.engine.race`) instead of a copy each.

    Parameters
    ----------
    backend : object
        Kernel backend.
    iobs : numpy.ndarray
        Validated intensity (float32, file layout; :func:`phaser.io.validate.check_intensity`).
    overwrite : bool, optional
        The amplitudes may take the memory of `iobs` (float32, C-contiguous, writeable),
        which is then theirs: :meth:`intensity` gives their square instead, 4 bytes a
        voxel less while the starts run.

    Attributes
    ----------
    amp : array
        ``sqrt(iobs)`` in engine layout, on the backend.
    shape : tuple of int
        The pattern's, file layout.
    """

    def __init__(self, backend, iobs, overwrite=False):
        self.shape = tuple(np.shape(iobs))
        own = overwrite and iobs.dtype == np.float32 and iobs.flags.c_contiguous \
            and iobs.flags.writeable
        self.backend = backend
        self.amp = backend.amplitudes(to_engine(iobs, out=iobs if own else None), overwrite=True)
        self._iobs = None if own else iobs

    def intensity(self):
        """The intensity in file layout, and whether the array is the caller's to change:
        the one given, not to be changed, or the amplitudes' square, a new array (equal to
        the given intensity to float32 rounding)."""
        if self._iobs is not None:
            return self._iobs, False
        iobs = to_file(self.backend.to_host(self.amp))
        np.square(iobs, out=iobs)
        return iobs, True


class State:
    """Everything an operator reads or updates during a reconstruction.

    Arrays are in engine layout (origin at the corner) and live on `backend`.

    Parameters
    ----------
    backend : object
        Kernel backend (see :func:`phaser.kernels.get_backend`).
    iobs : numpy.ndarray
        Observed intensity, float32, engine layout.
    mask : numpy.ndarray
        Uint8 mask, nonzero = pixel free in the projection and excluded from metrics.
    free : numpy.ndarray, optional
        Uint8 free pixels (see :mod:`phaser.engine.free`), engine layout: left free in the
        projection like masked ones, excluded from chi² and LLK, and the only pixels of
        the free LLK.
    obj : numpy.ndarray or None
        Starting object, complex64, engine layout; None leaves :attr:`obj` uninitialised,
        for the caller to fill (:meth:`~phaser.kernels.contract.Backend.put`) once the
        rest is built.
    support : numpy.ndarray
        Starting support, uint8, engine layout.
    metrics_every : int
        Record chi² and LLK every this many iterations (and once at the end).
    callbacks : sequence of callable, optional
        Called as ``callback(state)`` after every iteration.
    overwrite_iobs : bool, optional
        The amplitudes may take the memory of `iobs` (float32, C-contiguous), which is
        then left undefined (:meth:`~phaser.kernels.contract.Backend.amplitudes`).
    amp : array, optional
        The amplitudes of `iobs`, engine layout, on the backend (a
        :class:`SharedAmplitudes`), held instead of a copy of their own; `iobs` is then
        read for its sum only.

    Attributes
    ----------
    psi : array
        Work buffer: the Fourier transform of the object, then its modulus projection.
    iteration : int
        Iterations (Fourier projections) completed.
    history : dict of str to list
        chi², LLK, free LLK and support size recorded every `metrics_every` iterations.
    events : list of dict
        What the run did on its own (:meth:`note`), e.g. a shrink-wrap threshold re-tuned
        after the support collapsed or exploded.
    sw_retuned : dict of float to float
        Shrink-wrap thresholds re-tuned during the run, by nominal threshold.
    psf_core : array or None
        Point-spread function of the partial coherence on its core (engine order, summing
        to 1, zero beyond; :func:`~phaser.engine.coherence.compact_psf`), once
        :meth:`set_psf` has switched it on; the projection and the metrics then use the
        calculated intensity blurred by it (``icalc``).  :meth:`full_psf` gives the whole.
    target : array or None
        While a PSF deconvolves the pattern (``PSF(deconvolve=1)``), the amplitudes the
        projection forces: those of the deconvolved pattern where the data are used, an
        estimate of the blurred amplitude on masked and free pixels
        (:meth:`~phaser.kernels.contract.Backend.deconvolve_intensity`), completed at each
        projection on the lags the deconvolution leaves free
        (:meth:`~phaser.kernels.contract.Backend.project_completed`); else None.
    """

    def __init__(self, backend, iobs, mask, obj, support, metrics_every=10, callbacks=(),
                 free=None, overwrite_iobs=False, amp=None):
        be = self.backend = backend
        shape = iobs.shape
        free = np.zeros(shape, bool) if free is None else (free != 0) & (mask == 0)
        used = (mask == 0) & ~free
        self.iobs_sum = float(np.sum(iobs, where=used, dtype=np.float64))  # no copy
        self.n_data = int(np.count_nonzero(used))
        self.n_free = int(np.count_nonzero(free))
        self.amp = be.amplitudes(iobs, overwrite=overwrite_iobs) if amp is None else amp
        # The projection leaves masked and free pixels alike; the metric sums of the
        # kernels run over the pixels this mask leaves.  The free pixels' own sums run over
        # a list of them (4 bytes each, 5 % of the pixels), not a mask (1 byte a voxel).
        self.mask = be.asarray((~used).astype(np.uint8), np.uint8)
        index_type = np.int64 if free.size > np.iinfo(np.int32).max else np.int32
        self.free_index = (be.asarray(np.flatnonzero(free).astype(index_type))
                           if self.n_free else None)
        self.support = be.asarray(support, np.uint8)
        self.obj = be.empty_complex(shape)
        if obj is not None:
            be.put(self.obj, obj)  # no second copy of the object next to the caller's
        self.psi = be.empty_complex(shape)
        # The inverse FFT is unnormalised; the projection applies its 1/N.
        self.scale = 1.0 / float(np.prod(shape))
        self.metrics_every = int(metrics_every)
        self.callbacks = list(callbacks)
        self.iteration = 0
        self.support_size = be.support_size(self.support)
        self.history = {key: [] for key in HISTORY_KEYS}
        # Nominal shrink-wrap threshold -> the one a re-tune replaced it with.
        self.sw_retuned = {}
        self.planned = (0, 0)  # (first, last) iteration of the algorithm being run
        self.events = []
        # Partial coherence (phaser.engine.coherence): off until the PSF operator runs.
        self.psf_core = self.otf = self._psf_buf = self._psf_window = None
        self.target = self._free_lags = None
        self._core_half_widths = None
        self.psf_every = self._psf_since = 0
        self._parked = {}  # arrays set aside in files by park()

    @property
    def progress(self):
        """How far the algorithm being run has got, from 0 at its start to 1 at its end."""
        first, last = self.planned
        return min(max((self.iteration - first) / (last - first), 0.0), 1.0) if last > first else 0.0

    def note(self, kind, **details):
        """Record (and log) something the run did on its own, e.g. a re-tuned support."""
        event = {"iteration": self.iteration, "event": kind, **details}
        self.events.append(event)
        logging.getLogger("phaser.engine").warning(
            "%s at iteration %d: %s", kind.replace("_", " "), self.iteration,
            ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                      for k, v in details.items()))

    def set_psf(self, core, every=0, window=None, deconvolve=False, symmetric=False):
        """Model partial coherence from now on: a PSF that is `core` on its core and zero
        elsewhere (see :func:`~phaser.engine.coherence.compact_psf`; float32, summing to 1)
        blurs the calculated intensity; it is refined every `every` iterations (0: never)
        and kept within `window`, ``(radius, taper)`` in pixels (see
        :func:`phaser.engine.coherence.psf_window`; None: anywhere on its core).  With
        `deconvolve`, the projection forces the pattern deconvolved by it (:attr:`target`)
        instead, until the next PSF.  A fixed PSF that is `symmetric` (centrosymmetric)
        keeps a real transfer function, in half the memory."""
        be = self.backend
        shape = self.shape
        # One at a time: a second PSF replaces the first without both in memory.
        self.psf_core = self.otf = self._psf_window = self.target = self._free_lags = None
        self.psf_core = be.asarray(core, np.float32)
        self._core_half_widths = core_half_widths(core.shape, shape)
        if window is not None:
            self._psf_window = be.asarray(radial_window(shape, *map(float, window),
                                                        self._core_half_widths))
        if deconvolve or (symmetric and not every):
            # Fixed and centrosymmetric (a deconvolution assumes it): a real transfer
            # function, computed in the Fourier buffer (free between iterations).
            self.otf = be.symmetric_otf(self.psf_core, shape, be.half_view(self.psi, shape))
        else:
            self.otf = be.otf_from_core(self.psf_core, shape, be.empty_half(shape))
        self.psf_every, self._psf_since = int(every), self.iteration
        if deconvolve:
            self.target = be.copy(self.amp)
            self.update_target(reset=True)

    def update_target(self, reset=False):
        """Deconvolve the pattern again within the band of the current support (a no-op
        unless a PSF deconvolves it), and find the lags of that band the deconvolution
        leaves free (:meth:`~phaser.kernels.contract.Backend.project_completed`); with
        `reset`, fill the pixels without a measurement from scratch."""
        if self.target is None:
            return
        be = self.backend
        shape = self.shape
        buf = be.half_view(self.psi, shape)  # the Fourier buffer: free between iterations
        # The free lags' scratch and the transfer function are not kept through this: the
        # deconvolution's arrays take their place (and the FFT plans let go of the scratch).
        if self._psf_buf is not None:
            self._psf_buf = None
            be.release()
        self._free_lags = None
        if self.otf is None:
            self.otf = be.symmetric_otf(self.psf_core, shape, buf)
        # The band is the support's: made again each time, kept by nothing.
        band = be.autocorrelation_band(self.support, self.otf, DECONVOLUTION_FLOOR, buf)
        be.deconvolve_intensity(self.amp, self.mask, self.otf, band, self.target, buf,
                                DECONVOLUTION_START if reset else DECONVOLUTION_UPDATE, reset)
        del band
        free = be.autocorrelation_band(self.support, self.otf, DECONVOLUTION_FLOOR, buf,
                                       free=True)
        if be.support_size(free):
            # Each projection then needs a half array of scratch (project_completed); the
            # metrics make the transfer function in it when they need it (_blurred).
            self._free_lags, self.otf = free, None

    def park(self, directory):
        """Set the state aside while other trials of a race run
        (:mod:`phaser.engine.race`): its arrays go to files in `directory` and its work
        buffers are freed, so that a parked state holds no memory of the data's size;
        :meth:`unpark` brings it back as it was."""
        be = self.backend
        self.psi = self._psf_buf = None
        be.release()  # the FFT plans let go of the work buffer
        self._parked = {}
        for name in _PARKED:
            array = getattr(self, name)
            if array is None:
                continue
            path = os.path.join(directory, f"{id(self):x}_{name}.npy")
            np.save(path, be.to_host(array))
            self._parked[name] = path
            setattr(self, name, None)

    def unpark(self):
        """Bring back a state :meth:`park` set aside (its files are removed)."""
        be = self.backend
        for name, path in self._parked.items():
            array = np.load(path)
            os.remove(path)
            if name == "obj":
                self.obj = be.empty_complex(self.shape)
                be.put(self.obj, array)
            else:
                setattr(self, name, be.asarray(array, array.dtype))
            del array
        self._parked = {}
        self.psi = be.empty_complex(self.shape)

    def discard(self):
        """Remove the files of a parked state that will not be brought back."""
        for path in self._parked.values():
            os.remove(path)
        self._parked = {}

    def full_psf(self):
        """The PSF on the whole grid (host array, engine layout), or None without one."""
        if self.psf_core is None:
            return None
        return full_psf(self.backend.to_host(self.psf_core), self.shape)

    def release_scratch(self):
        """Free the work buffers (the Fourier-space buffer, the PSF's transfer function and
        scratch) and let the FFT plans go of them; the state can record no more metrics or
        iterations."""
        self.psi = self._psf_buf = self.otf = self.target = self._free_lags = None
        self.backend.release()

    def _blurred(self, buf, refine=False):
        """The calculated intensity blurred by the PSF, into the real part of half array
        `buf` (refining the PSF first if asked); returns `buf`."""
        be = self.backend
        otf = self.otf
        if otf is None:  # a deconvolution with free lags keeps none: made in their scratch
            otf = be.otf_from_core(self.psf_core, self.shape, self._psf_scratch())
        be.convolve_intensity(self.psi, otf, buf)
        if refine:
            # The transfer function's memory is the step's scratch, then remade.
            be.psf_correlation(self.psi, self.amp, self.mask, buf, self.otf)
            corr = be.psf_core(buf, self.shape, self._core_half_widths)
            be.richardson_lucy(self.psf_core, corr, self._psf_window)
            be.otf_from_core(self.psf_core, self.shape, self.otf)
            be.convolve_intensity(self.psi, self.otf, buf)
        return buf

    def _psf_scratch(self):
        """The PSF's own work buffer (a half array), allocated on first need."""
        if self._psf_buf is None:
            self._psf_buf = self.backend.empty_half(self.shape)
        return self._psf_buf

    @property
    def shape(self):
        """Shape of the data grid."""
        return self.amp.shape

    def fourier_projection(self, object_free=False):
        """``psi = P_M(obj)``, recording metrics on this iteration if it is due.

        With `object_free` the update that follows does not read the object (ER): with a
        PSF on, its memory then holds the blurred intensity, and the PSF needs no work
        buffer of its own.
        """
        be = self.backend
        be.fft(self.obj, self.psi)
        due = self.iteration % self.metrics_every == 0
        if self.target is not None:
            # The deconvolved pattern, projected on as a coherent one; the metrics compare
            # the blurred model with the measurement.  The blur takes the Fourier buffer's
            # memory (the sums need nothing else of it), and the transform is made again:
            # one FFT more every `metrics_every` iterations, no PSF scratch.
            if due:
                icalc = self._blurred(be.half_view(self.psi, self.shape))
                self._record(be.metric_sums(self.psi, self.amp, self.mask, icalc),
                             self._free_sums(icalc))
                be.fft(self.obj, self.psi)
            if self._free_lags is None:
                be.project_modulus(self.psi, self.target, self.mask, self.scale)
            else:
                be.project_completed(self.psi, self.target, self.mask, self._free_lags,
                                     self._psf_scratch(), self.scale)
            be.ifft(self.psi)
            return
        icalc = None
        if self.otf is not None:
            since = self.iteration - self._psf_since
            buf = be.half_view(self.obj, self.shape) if object_free else self._psf_scratch()
            icalc = self._blurred(buf, refine=self.psf_every > 0 and since > 0
                                  and since % self.psf_every == 0)
        free_sums = self._free_sums(icalc) if due else None
        sums = be.project_modulus(self.psi, self.amp, self.mask, self.scale, metrics=due,
                                  icalc=icalc)
        if due:
            self._record(sums, free_sums)
        be.ifft(self.psi)

    def end_iteration(self):
        """Count one iteration and run the callbacks."""
        self.iteration += 1
        for callback in self.callbacks:
            callback(self)

    def record_final_metrics(self):
        """Record chi² and LLK of the current object, unless this iteration already has them."""
        if self.history["iteration"] and self.history["iteration"][-1] == self.iteration:
            return
        be = self.backend
        be.fft(self.obj, self.psi)
        # With a PSF, the blurred intensity takes the Fourier buffer's own memory: the sums
        # need nothing else of it.
        icalc = (None if self.psf_core is None
                 else self._blurred(be.half_view(self.psi, self.shape)))
        self._record(be.metric_sums(self.psi, self.amp, self.mask, icalc),
                     self._free_sums(icalc))

    def _free_sums(self, icalc=None):
        if self.free_index is None:
            return None
        return self.backend.metric_sums_at(self.psi, self.amp, self.free_index, icalc)

    def _record(self, sums, free_sums=None):
        chi_sum, deviance_sum = sums
        self.history["iteration"].append(self.iteration)
        self.history["chi2"].append(chi_sum / self.iobs_sum)
        self.history["llk"].append(deviance_sum / max(self.n_data, 1))
        self.history["llk_free"].append(
            free_sums[1] / self.n_free if free_sums is not None else float("nan")
        )
        self.history["support_size"].append(self.support_size)
