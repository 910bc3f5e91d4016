"""From a raw Bragg CDI rocking scan to a diffraction data file (``phaser prepare``).

A rocking scan arrives as one detector frame per rocking angle (a TIFF series) or as a
stacked array.  :func:`prepare` turns it into the intensity phaser reconstructs:

1. read the frames into a (frames, rows, cols) float32 stack (:func:`read_frames`);
2. subtract the dark field, clipping at 0 (:func:`subtract_dark`); pixels that are hot in
   the dark field itself are masked;
3. divide by the white (flat) field normalised to its median (:func:`divide_white`);
   pixels with almost no response in the white field are dead and masked;
4. mask detector gaps, rows or columns that read zero in every frame (:func:`find_gaps`),
   and hot pixels, isolated pixels far above their neighbours (:func:`find_hot_pixels`);
5. optionally set counts below a background threshold to 0;
6. find the Bragg peak (:func:`find_peak`) and cut a box of FFT-friendly size centred on
   it (:func:`choose_box`), optionally binning each axis by summing counts
   (:func:`bin_counts`, :func:`bin_mask`).

Every step appends a record (what was done, with which parameters, and what was found) to
:attr:`Prepared.steps`; :func:`write_prepared` stores the data in the CXI layout of
:func:`phaser.io.save_data` and the records as NeXus notes in
``/entry_1/data_1/process_1``, so the file says how it was made.

Masks follow :mod:`phaser.conventions`: nonzero = bad pixel.  Masked voxels are written as
0 and carry no weight in a reconstruction.
"""

import dataclasses
import datetime
import json
import math
import re
from pathlib import Path

import numpy as np

from ..conventions import INTENSITY_DTYPE, MASK_DTYPE
from ..errors import InputError
from . import arrays, cxi
from .atomic import atomic_output, check_output
from .paths import check_file, file_format
from .validate import check_intensity, check_mask

__all__ = [
    "Prepared",
    "prepare",
    "read_frames",
    "read_field",
    "crop_field",
    "subtract_dark",
    "divide_white",
    "find_gaps",
    "find_hot_pixels",
    "apply_threshold",
    "find_peak",
    "is_fft_friendly",
    "fft_friendly_size",
    "choose_box",
    "bin_counts",
    "bin_mask",
    "write_prepared",
    "read_steps",
    "PROCESS_PATH",
    "MASK_CAUSES",
]

PROCESS_PATH = "/entry_1/data_1/process_1"
"""HDF5 group holding the preparation record (an NXprocess with one NXnote per step)."""

MASK_CAUSES = ("input", "invalid", "dark", "dead", "gap", "hot")
"""Why a pixel is masked: a mask already in the input file; a negative, non-finite or
flag value in the frames; hot in the dark field; dead in the white field; a detector gap;
a hot pixel in the scan."""

DEFAULT_MAX_SIZE = 128
"""Largest automatic box edge (output pixels) when no size is asked for."""

_FRAME_SUFFIXES = (".tif", ".tiff")


@dataclasses.dataclass
class Prepared:
    """A prepared diffraction data set and the record of how it was made.

    Attributes
    ----------
    iobs : numpy.ndarray
        float32 intensity (z, y, x), Bragg peak at index ``n // 2`` on each axis (file
        layout); masked voxels are 0.
    mask : numpy.ndarray
        uint8, same shape, 1 = bad voxel.
    steps : list of dict
        One JSON-serialisable record per step, in order; each has a ``"step"`` name.
    peak : tuple of int
        Bragg peak position in the raw stack (frame, row, col).
    box : tuple of (int, int)
        The crop, ``(start, stop)`` per axis of the raw stack, before binning.
    """

    iobs: np.ndarray
    mask: np.ndarray
    steps: list
    peak: tuple
    box: tuple

    def step(self, name):
        """Return the record of the step called `name` (KeyError if absent)."""
        for record in self.steps:
            if record["step"] == name:
                return record
        raise KeyError(name)

    def summary(self):
        """One line: output shape, peak, counts kept and masked pixels by cause."""
        shape = "x".join(map(str, self.iobs.shape))
        binning = self.step("crop")["bin"]
        kept = self.step("crop")
        masked = self.step("mask")
        causes = ", ".join(f"{k} {v}" for k, v in masked["pixels_by_cause"].items() if v)
        n_bad = int(np.count_nonzero(self.mask))
        offset = tuple(kept["peak_offset_from_centre"])
        where = "centred on" if not any(offset) else f"off centre by {offset} from"
        text = (
            f"{shape} (bin {','.join(map(str, binning))}) {where} the peak at "
            f"{tuple(self.peak)} (frame, row, col); {kept['counts_kept']:.4g} counts kept "
            f"({kept['fraction_kept']:.1%}); masked {masked['detector_pixels']} detector pixels"
            f"{f' ({causes})' if causes else ''}, {n_bad} voxels ({n_bad / self.mask.size:.2%})"
        )
        return text


# --------------------------------------------------------------------------- reading


def _natural_key(path):
    # "frame_10" after "frame_9": compare digit runs as numbers, the rest as text.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


def _expand(paths):
    """Files to read: a lone directory stands for the TIFF files in it."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no frames given")
    if len(paths) == 1 and paths[0].is_dir():
        files = [p for p in paths[0].iterdir() if p.suffix.lower() in _FRAME_SUFFIXES]
        if not files:
            raise InputError(f"{paths[0]} holds no .tif/.tiff frames")
        paths = files
    for p in paths:
        check_file(p)
    return sorted(paths, key=_natural_key)


def _read_one(path):
    """Array and optional mask of one file, in whatever format its suffix says."""
    fmt = file_format(path)
    if fmt == "hdf5":
        return cxi.read_data(path)
    if fmt == "tiff":
        return arrays.read_arrays(path)[""], None
    found = arrays.read_arrays(path)
    return (arrays.pick_array(found, arrays.DATA_KEYS, path, ignore=arrays.MASK_KEYS),
            found.get("mask"))


def _invalid(a):
    """Voxels that hold a flag, not a count.

    In integer (raw) data: negative values (Pilatus writes -1 into gaps, -2 into bad
    pixels) and the type's largest value (Eiger's gap and dead-pixel flag).  In float
    data: NaN and infinities; negative floats are noise left by an earlier background
    subtraction, and are clipped to 0 rather than masked.
    """
    if a.dtype.kind == "f":
        return ~np.isfinite(a)
    bad = np.zeros(a.shape, bool)
    if a.dtype.kind in "iu":
        bad |= a == np.iinfo(a.dtype).max
    if a.dtype.kind == "i":
        bad |= a < 0
    return bad


def read_frames(frames, *, progress=None):
    """Read a rocking scan into a (frames, rows, cols) stack.

    Parameters
    ----------
    frames : str, os.PathLike, sequence of them, or numpy.ndarray
        A 3-D array; one file holding a 3-D stack (multi-page TIFF, ``.npy``, ``.npz``
        with one array or ``data``/``iobs``, CXI/HDF5 data file); several files each
        holding one 2-D frame (or a 3-D block of frames), stacked in natural order
        (``f_9`` before ``f_10``); or one directory, meaning its ``.tif``/``.tiff`` files.
    progress : callable, optional
        Wraps the list of files (e.g. ``tqdm``) to show reading progress.

    Returns
    -------
    stack : numpy.ndarray
        float32 counts, negative and non-finite values set to 0.
    invalid : numpy.ndarray
        bool, same shape: voxels holding a detector flag (NaN or infinite; in integer
        data, negative or the type's largest value), or masked in a CXI/``.npz`` input
        file.  Negative floats are clipped to 0, not flagged.
    info : dict
        ``files`` (names, in stacking order), ``dtype`` (as stored), ``n_invalid`` and
        ``n_input_masked``.

    Raises
    ------
    InputError
        If a file is missing or unreadable, a file is not 2-D or 3-D, frames differ in
        shape, or the stack has fewer than 2 frames.
    """
    if isinstance(frames, np.ndarray):
        blocks, names, masks = [(frames, "array")], [], [None]
    else:
        paths = _expand(frames)
        names = [str(p) for p in paths]
        blocks, masks = [], []
        for path in progress(paths) if progress else paths:
            a, m = _read_one(path)
            blocks.append((np.asarray(a), path))
            masks.append(m)
    for a, path in blocks:
        if a.ndim not in (2, 3):
            raise InputError(f"{path} is {a.ndim}-D; frames must be 2-D images or a 3-D stack")
        if np.iscomplexobj(a) or not np.issubdtype(a.dtype, np.number):
            raise InputError(f"{path} has dtype {a.dtype}; frames must hold real counts")
    shapes = [a.shape[-2:] for a, _ in blocks]
    # Name the odd one out, measured against the shape most files share (on a tie, the
    # first file's).
    shape = max(dict.fromkeys(shapes), key=shapes.count)
    for (_, path), s in zip(blocks, shapes):
        if s != shape:
            n = shapes.count(shape)
            raise InputError(
                f"frames differ in shape: {path} is {_fmt(s)} but {n} of the {len(blocks)}"
                f" files are {_fmt(shape)}"
            )
    dtype = blocks[0][0].dtype
    stack = np.empty((sum(1 if a.ndim == 2 else len(a) for a, _ in blocks), *shape),
                     INTENSITY_DTYPE)
    invalid = np.zeros(stack.shape, bool)
    input_mask = np.zeros(stack.shape, bool)
    i = 0
    for (a, path), m in zip(blocks, masks):
        a3 = a[None] if a.ndim == 2 else a
        block = slice(i, i + len(a3))
        invalid[block] = _invalid(a3)
        if m is not None:
            input_mask[block] = check_mask(m, a.shape, f"the mask in {path}") != 0
        with np.errstate(over="ignore", invalid="ignore"):
            stack[block] = a3
        i += len(a3)
    if len(stack) < 2:
        raise InputError(
            f"{blocks[0][1]} holds a single 2-D frame; a rocking scan needs several frames"
            " (give them all, or a 3-D stack)"
        )
    # Values too large for float32 became inf: as unusable as a NaN.
    invalid |= ~np.isfinite(stack)
    # Flagged values must not leak into sums or the peak search; counts cannot be negative.
    stack[invalid] = 0
    np.maximum(stack, 0, out=stack)
    invalid |= input_mask
    info = {
        "files": names if names else None,
        "dtype": str(dtype),
        "n_invalid": int(np.count_nonzero(invalid & ~input_mask)),
        "n_input_masked": int(np.count_nonzero(input_mask)),
    }
    return stack, invalid, info


def read_field(field, name):
    """Read a dark or white field as a 2-D float64 image.

    Parameters
    ----------
    field : str, os.PathLike or numpy.ndarray
        TIFF, ``.npy``, ``.npz`` or CXI/HDF5 file, or an array.  A 3-D field (several
        exposures) is averaged over its first axis.
    name : str
        What it is (``"dark field"``), for messages.

    Returns
    -------
    numpy.ndarray
        2-D float64.

    Raises
    ------
    InputError
        If the file is missing or unreadable, or the field is not 2-D or 3-D.
    """
    label = name
    if not isinstance(field, np.ndarray):
        label = str(field)
        field, _ = _read_one(check_file(field))
    a = np.asarray(field)
    if np.iscomplexobj(a) or not np.issubdtype(a.dtype, np.number):
        raise InputError(f"the {name} {label} has dtype {a.dtype}; it must be a real image")
    if a.ndim == 3:
        # Several dark (or flat) exposures: their mean is the best estimate per pixel.
        a = a.mean(axis=0, dtype=np.float64)
    if a.ndim != 2:
        raise InputError(f"the {name} {label} is {a.ndim}-D; it must be a 2-D detector image")
    return a.astype(np.float64, copy=False)


def crop_field(field, frame_shape, detector_roi, name):
    """Cut a full-detector field down to the region the frames were read from.

    Parameters
    ----------
    field : numpy.ndarray
        2-D dark or white field.
    frame_shape : tuple of int
        (rows, cols) of the frames.
    detector_roi : tuple of int or None
        ``(y0, y1, x0, x1)``: the frames are ``detector[y0:y1, x0:x1]``.
    name : str
        For messages.

    Returns
    -------
    numpy.ndarray
        The field, of shape `frame_shape`.  A field that already has the frames' shape is
        returned as is.

    Raises
    ------
    InputError
        If the shapes differ and no (or a non-matching, or out-of-bounds) `detector_roi`
        is given.
    """
    frame_shape = tuple(frame_shape)
    if field.shape == frame_shape:
        return field
    if detector_roi is None:
        raise InputError(
            f"the {name} is {_fmt(field.shape)} but the frames are {_fmt(frame_shape)};"
            " give --detector-roi Y0,Y1,X0,X1 (where the frames sit on the detector)"
        )
    y0, y1, x0, x1 = detector_roi
    if (y1 - y0, x1 - x0) != frame_shape:
        raise InputError(
            f"--detector-roi {y0},{y1},{x0},{x1} is {_fmt((y1 - y0, x1 - x0))} but the frames"
            f" are {_fmt(frame_shape)}"
        )
    if y1 > field.shape[0] or x1 > field.shape[1]:
        raise InputError(
            f"--detector-roi {y0},{y1},{x0},{x1} reaches beyond the {name}"
            f" ({_fmt(field.shape)})"
        )
    return field[y0:y1, x0:x1]


# --------------------------------------------------------------------------- corrections


def _robust_sigma(values):
    # 1.4826 * MAD estimates a Gaussian sigma and ignores the outliers it is used to find.
    med = np.median(values)
    return med, 1.4826 * float(np.median(np.abs(values - med)))


def subtract_dark(stack, dark, *, hot_sigma=10.0):
    """Subtract a dark field from every frame, in place, clipping at 0.

    Parameters
    ----------
    stack : numpy.ndarray
        (frames, rows, cols) float32, modified in place.
    dark : numpy.ndarray
        (rows, cols) dark field, same exposure as the frames.
    hot_sigma : float
        A pixel is *hot in the dark* (bad) when its dark value exceeds the dark median by
        more than `hot_sigma` noise units, the noise being the larger of the dark's robust
        spread (1.4826 MAD) and the Poisson noise of its median (``sqrt(median) + 1``).
        Photon-counting detectors ship a dark field that is 0 except at known bad pixels
        (cohere treats ``dark > 1`` as bad on 34-ID-C's Timepix); subtracting such a value
        would turn the pixel into a false zero measurement, so it is masked instead.

    Returns
    -------
    bad : numpy.ndarray
        (rows, cols) bool, pixels hot in the dark.
    record : dict
        Parameters and findings.
    """
    med, sigma = _robust_sigma(dark)
    noise = max(sigma, math.sqrt(max(med, 0.0)) + 1.0)
    bad = ~np.isfinite(dark) | (dark > med + hot_sigma * noise)
    dark = np.where(np.isfinite(dark), dark, 0.0).astype(INTENSITY_DTYPE)
    before = float(stack.sum(dtype=np.float64))
    np.subtract(stack, dark, out=stack)
    # Counts are non-negative: noise in the dark must not create negative intensity.
    np.maximum(stack, 0, out=stack)
    record = {
        "step": "dark",
        "hot_sigma": hot_sigma,
        "dark_median": float(med),
        "dark_max": float(np.nanmax(dark)),
        "hot_threshold": float(med + hot_sigma * noise),
        "pixels_hot_in_dark": int(np.count_nonzero(bad)),
        "counts_removed": before - float(stack.sum(dtype=np.float64)),
    }
    return bad, record


def divide_white(stack, white, *, dead_fraction=0.25):
    """Correct every frame, in place, for the detector's pixel-to-pixel response.

    Each frame is divided by ``white / median(white)``, so counts keep their scale (a
    pixel of median response is unchanged) while over- and under-responsive pixels are
    evened out.  The median is over the valid white pixels of the frames' region.

    Parameters
    ----------
    stack : numpy.ndarray
        (frames, rows, cols) float32, modified in place.
    white : numpy.ndarray
        (rows, cols) white (flat) field.
    dead_fraction : float
        Pixels whose white value is at most this fraction of the median, or not finite,
        are dead: set to 0 and masked.  Dividing by a tiny response would amplify noise
        without bound; 0.25 is close to cohere's ``mean - 3 std`` rule on the 34-ID-C
        white field (0.24 of its median) and sits in the sparse tail below the main
        response peak.

    Returns
    -------
    dead : numpy.ndarray
        (rows, cols) bool.
    record : dict
        Parameters and findings.

    Raises
    ------
    InputError
        If the white field has no positive finite value.
    """
    finite = np.isfinite(white) & (white > 0)
    if not finite.any():
        raise InputError("the white field has no positive value")
    ref = float(np.median(white[finite]))
    dead = ~finite | (white <= dead_fraction * ref)
    if dead.all():
        raise InputError(f"every white-field pixel is at most {dead_fraction} of its median")
    med = float(np.median(white[~dead]))
    gain = np.where(dead, 1.0, white / med).astype(INTENSITY_DTYPE)
    np.divide(stack, gain, out=stack)
    stack[:, dead] = 0
    record = {
        "step": "white",
        "dead_fraction": dead_fraction,
        "white_median": med,
        "gain_range": [float(gain[~dead].min()), float(gain[~dead].max())],
        "dead_pixels": int(np.count_nonzero(dead)),
    }
    return dead, record


def find_gaps(stack, bad=None):
    """Detector gaps: whole rows or columns that read zero in every frame.

    Parameters
    ----------
    stack : numpy.ndarray
        (frames, rows, cols) counts.
    bad : numpy.ndarray, optional
        (rows, cols) bool, pixels already known bad; they count as zero here, so a gap
        line crossing a dead pixel is still found.

    Returns
    -------
    numpy.ndarray
        (rows, cols) bool.

    Notes
    -----
    Only whole lines count: in a sparse photon-counting scan many single pixels far from
    the peak record nothing over the whole scan, and those are valid zero measurements,
    not gaps.  A gap between detector modules, or a dead readout line, is a full line.
    """
    lit = np.any(stack != 0, axis=0)
    if bad is not None:
        lit &= ~bad
    gap = np.zeros(lit.shape, bool)
    gap[~lit.any(axis=1), :] = True
    gap[:, ~lit.any(axis=0)] = True
    return gap


def find_hot_pixels(stack, bad=None, *, sigma=10.0, ratio=5.0):
    """Hot pixels: isolated detector pixels whose scan total stands far above their neighbours.

    Parameters
    ----------
    stack : numpy.ndarray
        (frames, rows, cols) corrected counts.
    bad : numpy.ndarray, optional
        (rows, cols) bool, pixels already masked (ignored; they are never reported again).
    sigma : float
        A pixel is hot when its time-summed counts ``S`` exceed the median ``B`` of its 8
        neighbours by more than `sigma` noise units, ``sqrt(B + s**2 + 1)`` with ``s`` the
        robust (1.4826 MAD) spread of ``S - B`` over the detector: Poisson noise plus the
        image's own roughness, so that speckle texture is not taken for hot pixels ...
    ratio : float
        ... *and* ``S > ratio * B``.  The Bragg peak and its fringes have neighbours that
        hold a good part of their counts (the pattern is oversampled, speckles span
        several pixels), so their ratio is small however large ``S - B`` is; a hot pixel
        sits alone.

    Returns
    -------
    numpy.ndarray
        (rows, cols) bool.
    """
    from scipy import ndimage

    total = stack.sum(axis=0, dtype=np.float64)
    if bad is not None:
        total[bad] = 0
    ring = np.ones((3, 3), bool)
    ring[1, 1] = False
    neighbours = ndimage.median_filter(total, footprint=ring, mode="mirror")
    excess = total - neighbours
    _, spread = _robust_sigma(excess)
    noise = np.sqrt(np.maximum(neighbours, 0) + spread**2 + 1.0)
    hot = (excess > sigma * noise) & (total > ratio * np.maximum(neighbours, 1.0))
    if bad is not None:
        hot &= ~bad
    return hot


def apply_threshold(stack, threshold):
    """Set counts below `threshold` to 0, in place (background removal).

    Like cohere's ``amp_threshold``: applied per detector pixel and frame, after the dark
    and white corrections and before binning.  Pixels are zeroed, not masked: a count this
    low is taken as "no signal", which is still a measurement.

    Returns
    -------
    dict
        Parameters and findings (voxels zeroed, counts removed).
    """
    low = (stack < threshold) & (stack > 0)
    removed = float(stack[low].sum(dtype=np.float64))
    stack[low] = 0
    return {"step": "threshold", "threshold": float(threshold),
            "voxels_zeroed": int(np.count_nonzero(low)), "counts_removed": removed}


# --------------------------------------------------------------------------- peak and box


def find_peak(stack, mask=None, *, smooth=3):
    """Position of the Bragg peak: the brightest voxel after a small box average.

    Parameters
    ----------
    stack : numpy.ndarray
        (frames, rows, cols) counts.
    mask : numpy.ndarray, optional
        Bad voxels or detector pixels (broadcast over frames); they count as 0.
    smooth : int
        Edge of the averaging box.  The brightest voxel of the box-averaged stack is
        found first, then the brightest raw voxel within that box around it.  Averaging
        over 3 x 3 x 3 voxels keeps a single spurious voxel (a cosmic ray, an unmasked hot
        pixel) from winning, since the speckle at the Bragg peak spans several voxels in
        an oversampled pattern; the refinement puts the result on the data's actual
        maximum.  Use 1 for the plain raw maximum.

    Returns
    -------
    tuple of int
        (frame, row, col).

    Notes
    -----
    The brightest voxel, rather than the centre of mass, is what sits at q = 0 for a
    crystal with small strain, and it is unaffected by the background, by other peaks,
    and by the asymmetric tails that strain gives to the pattern.
    """
    from scipy import ndimage

    a = stack
    if mask is not None:
        a = np.where(mask, np.float32(0), stack)
    if smooth <= 1:
        return tuple(int(i) for i in np.unravel_index(int(np.argmax(a)), a.shape))
    smoothed = ndimage.uniform_filter(a, size=smooth, mode="constant")
    coarse = np.unravel_index(int(np.argmax(smoothed)), a.shape)
    # The average of a lopsided speckle peaks up to a voxel off its top; the brightest
    # raw voxel next to it is the actual maximum, and still cannot be a lone outlier.
    h = smooth // 2
    near = tuple(slice(max(c - h, 0), c + h + 1) for c in coarse)
    local = np.unravel_index(int(np.argmax(a[near])), a[near].shape)
    return tuple(int(s.start + i) for s, i in zip(near, local))


def is_fft_friendly(n):
    """Whether `n` is a product of 2, 3 and 5 only (fast for every FFT library)."""
    if n < 1:
        return False
    for p in (2, 3, 5):
        while n % p == 0:
            n //= p
    return n == 1


def fft_friendly_size(n, *, even=False):
    """The largest product of 2, 3 and 5 not above `n` (optionally even).

    This is :func:`scipy.fft.next_fast_len` going down instead of up (and without the
    factors 7 and 11 that only some libraries handle fast), because a crop cannot grow
    past the data.

    Raises
    ------
    ValueError
        If no such size exists (``n < 1``, or ``n < 2`` with `even`).
    """
    for m in range(int(n), 0, -1):
        if is_fft_friendly(m) and not (even and m % 2):
            return m
    raise ValueError(f"no FFT-friendly size up to {n}")


def choose_box(shape, peak, size=None, binning=(1, 1, 1), *, max_size=DEFAULT_MAX_SIZE):
    """Where to crop: a box centred on the peak, its size FFT-friendly after binning.

    Parameters
    ----------
    shape : tuple of int
        Raw stack shape (frames, rows, cols).
    peak : tuple of int
        Peak position in the stack.
    size : tuple of int or None
        Output size per axis (after binning).  ``None`` per axis (or for all) means
        automatic: the largest even product of 2, 3, 5, at most `max_size`, whose box
        (``size * bin`` raw pixels) fits in the data with the peak at its centre.
    binning : tuple of int
        Bin factor per axis; the raw box is ``size * bin``.
    max_size : int
        Cap of the automatic size.  Larger boxes cost time (a 600-iteration run grows
        with the voxel count) while adding only the weak high-q tail of the pattern.

    Returns
    -------
    box : tuple of (int, int)
        ``(start, stop)`` per axis in the raw stack.
    sizes : tuple of int
        Output size per axis.

    Raises
    ------
    InputError
        If an asked size is not FFT-friendly, or its box is larger than the data.

    Notes
    -----
    The peak goes to raw index ``size * bin // 2`` of the box, hence into output voxel
    ``size // 2``, the q = 0 position of :mod:`phaser.conventions`.  Where an asked box
    fits in the data but not centred (peak near an edge), it is shifted to stay inside
    the data rather than padded with invented pixels; the peak is then off centre, which
    only adds a phase ramp to the reconstruction, and the record says by how much.
    Automatic sizes are even so that ``fftshift`` and ``ifftshift`` coincide and every
    program puts q = 0 on the same voxel.
    """
    if size is None:
        size = (None,) * 3
    box, sizes = [], []
    for axis, (n, p, want, b) in enumerate(zip(shape, peak, size, binning)):
        name = "zyx"[axis]
        if want is None:
            # An even raw box of c pixels puts the peak at c // 2: it needs c / 2 pixels
            # before the peak (index p) and c / 2 from the peak on (n - p).
            room = min(2 * min(p, n - p) // b, max_size)
            try:
                want = fft_friendly_size(room, even=True)
            except ValueError:
                raise InputError(
                    f"the peak at {name} = {p} is too close to the edge of the data"
                    f" ({n} pixels) for a box around it; give --roi"
                ) from None
        else:
            if not is_fft_friendly(want):
                lower = fft_friendly_size(want)
                upper = want + 1
                while not is_fft_friendly(upper):
                    upper += 1
                raise InputError(
                    f"--roi {want} along {name} is not FFT-friendly (a product of 2, 3 and 5);"
                    f" use {lower} or {upper}"
                )
        raw = want * b
        if raw > n:
            raise InputError(
                f"crop larger than the data: {want} x bin {b} = {raw} pixels along {name},"
                f" but the data have {n}"
            )
        start = min(max(p - raw // 2, 0), n - raw)
        box.append((start, start + raw))
        sizes.append(want)
    return tuple(box), tuple(sizes)


def bin_counts(a, binning):
    """Sum counts over blocks of ``binning`` pixels (each axis a multiple of its factor)."""
    shape = []
    for n, b in zip(a.shape, binning):
        shape += [n // b, b]
    return a.reshape(shape).sum(axis=(1, 3, 5), dtype=np.float64)


def bin_mask(mask, binning, *, fraction=0.0):
    """Bin a bad-pixel mask.

    Parameters
    ----------
    mask : numpy.ndarray
        Raw mask, nonzero = bad.
    binning : tuple of int
    fraction : float
        A binned voxel is bad when more than this fraction of its raw voxels are bad.
        The default 0 masks a bin with any bad voxel, as bcdi does: a bin missing
        part of its counts would otherwise read low.  With ``fraction > 0``
        :func:`prepare` scales kept partial bins up by ``pixels / good pixels``.

    Returns
    -------
    bad : numpy.ndarray
        bool, binned shape.
    n_bad : numpy.ndarray
        Raw bad voxels per bin.
    """
    n_bad = bin_counts((mask != 0).astype(np.float64), binning)
    return n_bad > fraction * math.prod(binning), n_bad


# --------------------------------------------------------------------------- the chain


def _fmt(shape):
    return "x".join(str(int(n)) for n in shape)


def _triple(value, name, minimum):
    if value is None:
        return None
    values = (value,) * 3 if np.isscalar(value) else tuple(value)
    if len(values) == 1:
        values = values * 3
    if len(values) != 3 or any(v is not None and (int(v) != v or v < minimum) for v in values):
        raise InputError(
            f"{name} takes one integer or three (z,y,x), each at least {minimum}; got {value!r}"
        )
    return tuple(None if v is None else int(v) for v in values)


def _exclusive_counts(causes):
    seen, counts = None, {}
    for cause in MASK_CAUSES:
        if cause in causes:
            new = causes[cause] if seen is None else causes[cause] & ~seen
            counts[cause] = int(np.count_nonzero(new))
            seen = causes[cause] if seen is None else seen | causes[cause]
    return counts


def _label(x):
    return "array" if isinstance(x, np.ndarray) else str(x)


def prepare(frames, dark=None, white=None, *, detector_roi=None, roi=None, binning=1,
            threshold=None, dead_fraction=0.25, hot_sigma=10.0, hot_ratio=5.0,
            max_size=DEFAULT_MAX_SIZE, bin_mask_fraction=0.0, progress=None):
    """Turn a raw rocking scan into a centred, masked, FFT-friendly diffraction pattern.

    Parameters
    ----------
    frames : str, os.PathLike, sequence of them, or numpy.ndarray
        The scan, as :func:`read_frames` takes it.
    dark, white : str, os.PathLike or numpy.ndarray, optional
        Dark and white (flat) fields, 2-D (or 3-D, averaged), as :func:`read_field` takes
        them; the frames' shape, or the full detector with `detector_roi`.
    detector_roi : tuple of int, optional
        ``(y0, y1, x0, x1)``: where the frames sit on the detector, to cut the fields.
    roi : int or tuple of int, optional
        Output size, one value or (z, y, x), each a product of 2, 3 and 5 (default: the
        automatic size of :func:`choose_box`).
    binning : int or tuple of int
        Bin factor per axis, summing counts (default 1, no binning).  The raw box is
        ``roi * binning``.
    threshold : float, optional
        Counts below this (per detector pixel and frame, after the corrections) are set
        to 0 (:func:`apply_threshold`).
    dead_fraction : float
        See :func:`divide_white`.
    hot_sigma, hot_ratio : float
        See :func:`find_hot_pixels`; ``hot_sigma`` is also the dark-field criterion of
        :func:`subtract_dark`.
    max_size : int
        Cap of the automatic output size.
    bin_mask_fraction : float
        See :func:`bin_mask`.
    progress : callable, optional
        Wraps the list of frame files while reading.

    Returns
    -------
    Prepared

    Raises
    ------
    InputError
        For unreadable or inconsistent input (frames of different shapes, fields of
        another size without a matching `detector_roi`, a crop larger than the data, a
        size that is not FFT-friendly) or when nothing is left to reconstruct.

    Examples
    --------
    >>> p = prepare("frames/", dark="dark.tif", white="white.tif",
    ...             detector_roi=(0, 256, 0, 256), roi=64)        # doctest: +SKIP
    >>> p.iobs.shape, p.peak                                      # doctest: +SKIP
    ((64, 64, 64), (99, 127, 128))
    """
    roi = _triple(roi, "--roi", 2)
    binning = _triple(binning, "--bin", 1)
    if detector_roi is not None:
        detector_roi = tuple(int(v) for v in detector_roi)
        if (len(detector_roi) != 4 or min(detector_roi) < 0
                or detector_roi[1] <= detector_roi[0] or detector_roi[3] <= detector_roi[2]):
            raise InputError(
                f"--detector-roi takes Y0,Y1,X0,X1 with 0 <= Y0 < Y1 and 0 <= X0 < X1;"
                f" got {','.join(map(str, detector_roi))}"
            )
    if threshold is not None and not (threshold >= 0 and math.isfinite(threshold)):
        raise InputError(f"--threshold must be a non-negative number, got {threshold}")
    # Read the small fields first: a wrong file name fails before reading 200 frames.
    dark_field = None if dark is None else read_field(dark, "dark field")
    white_field = None if white is None else read_field(white, "white field")

    stack, invalid, info = read_frames(frames, progress=progress)
    frame_shape = stack.shape[1:]
    total_raw = float(stack.sum(dtype=np.float64))
    steps = [{
        "step": "read",
        "source": info["files"] if info["files"] else "array",
        "n_files": len(info["files"]) if info["files"] else 0,
        "shape": list(stack.shape),
        "dtype": info["dtype"],
        "total_counts": total_raw,
        "max_counts": float(stack.max()),
        "raw_max_at": list(np.unravel_index(int(np.argmax(stack)), stack.shape)),
        "invalid_voxels": info["n_invalid"],
        "input_masked_voxels": info["n_input_masked"],
    }]
    if detector_roi is not None:
        steps[0]["detector_roi"] = list(detector_roi)

    causes = {}  # cause -> (rows, cols) bool, detector pixels
    if dark_field is not None:
        dark_field = crop_field(dark_field, frame_shape, detector_roi, "dark field")
        causes["dark"], record = subtract_dark(stack, dark_field, hot_sigma=hot_sigma)
        steps.append({**record, "file": _label(dark)})
    if white_field is not None:
        white_field = crop_field(white_field, frame_shape, detector_roi, "white field")
        causes["dead"], record = divide_white(stack, white_field, dead_fraction=dead_fraction)
        steps.append({**record, "file": _label(white)})
    known = np.zeros(frame_shape, bool)
    for bad in causes.values():
        known |= bad
    # Gaps are sought on the corrected stack, where dead pixels are already 0.
    causes["gap"] = find_gaps(stack, known) & ~known
    known |= causes["gap"]
    causes["hot"] = find_hot_pixels(stack, known, sigma=hot_sigma, ratio=hot_ratio)
    known |= causes["hot"]
    steps.append({
        "step": "mask",
        "hot_sigma": hot_sigma,
        "hot_ratio": hot_ratio,
        "gap_rows": [int(i) for i in np.flatnonzero(causes["gap"].all(axis=1))],
        "gap_cols": [int(i) for i in np.flatnonzero(causes["gap"].all(axis=0))],
        "hot_pixels": [[int(y), int(x)] for y, x in np.argwhere(causes["hot"])][:100],
        # Each pixel counted once, under the first cause that caught it (the order above).
        "pixels_by_cause": _exclusive_counts(causes),
        "detector_pixels": int(np.count_nonzero(known)),
        "voxels_invalid": info["n_invalid"],
        "voxels_input_mask": info["n_input_masked"],
    })
    bad = invalid | known[None]
    stack[bad] = 0
    if bad.all():
        raise InputError("every pixel of the scan is masked; nothing is left to reconstruct")

    if threshold:
        steps.append(apply_threshold(stack, threshold))
    total_corrected = float(stack.sum(dtype=np.float64))
    if total_corrected <= 0:
        raise InputError("the corrected scan holds no counts (all zero after the corrections)")

    peak = find_peak(stack)  # masked voxels are already 0
    box, sizes = choose_box(stack.shape, peak, roi, binning, max_size=max_size)
    cut = tuple(slice(a, b) for a, b in box)
    iobs = stack[cut]
    mask = bad[cut]
    if binning != (1, 1, 1):
        n_pixels = math.prod(binning)
        binned_bad, n_bad = bin_mask(mask, binning, fraction=bin_mask_fraction)
        summed = bin_counts(iobs, binning)
        # Partial bins kept (fraction > 0) are scaled to what the whole bin would hold.
        partial = ~binned_bad & (n_bad > 0)
        summed[partial] *= n_pixels / (n_pixels - n_bad[partial])
        summed[binned_bad] = 0
        iobs, mask = summed, binned_bad
    iobs = iobs.astype(INTENSITY_DTYPE)
    mask = mask.astype(MASK_DTYPE)
    centre = [box[i][0] + sizes[i] * binning[i] // 2 for i in range(3)]
    kept = float(iobs.sum(dtype=np.float64))
    crop = {
        "step": "crop",
        "rule": ("asked (--roi)" if roi is not None else
                 f"automatic: largest even 2,3,5-smooth size <= {max_size} centred on the peak"),
        "peak": list(peak),
        "peak_on_detector": (None if detector_roi is None else
                             [peak[0], peak[1] + detector_roi[0], peak[2] + detector_roi[2]]),
        "peak_counts": float(stack[peak]),
        "box": [list(b) for b in box],
        "peak_offset_from_centre": [p - c for p, c in zip(peak, centre)],
        "bin": list(binning),
        "bin_mask_fraction": bin_mask_fraction,
        "shape": list(iobs.shape),
        "counts_corrected": total_corrected,
        "counts_kept": kept,
        "fraction_kept": kept / total_corrected,
        "masked_voxels": int(np.count_nonzero(mask)),
    }
    steps.append(crop)
    if not np.any(iobs[mask == 0] > 0):
        raise InputError("the cropped box holds no counts in unmasked pixels")
    return Prepared(iobs=iobs, mask=mask, steps=steps, peak=peak, box=box)


# --------------------------------------------------------------------------- writing


def _json(obj):
    return json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o))


def write_prepared(path, prepared, *, force=False, command=None, attribution=None):
    """Write a prepared data set to a CXI file, with the record of its preparation.

    The data use the layout of :func:`phaser.io.save_data` (so :func:`phaser.load_data`
    and ``phaser run`` read it).  The record goes to ``/entry_1/data_1/process_1``, an
    NXprocess (``program``, ``version``, ``date``, ``command``) holding one NXnote per
    step, ``note_1``, ``note_2``, ... (``description`` = step name, ``type`` =
    ``application/json``, ``data`` = the step's record); ``/entry_1/notes`` gets the
    one-line summary.  Read the steps back with :func:`read_steps`.

    Parameters
    ----------
    path : str or os.PathLike
        ``.cxi``, ``.h5`` or ``.hdf5``.
    prepared : Prepared
    force : bool
        Replace an existing file.
    command : str, optional
        Command line to record.
    attribution : str, optional
        Where the data come from.

    Raises
    ------
    InputError
        If the suffix is not an HDF5 one, the file exists without `force`, or it cannot
        be written.  The file appears complete or not at all.
    """
    import h5py

    from phaser import __version__

    file_format(path, allowed=("hdf5",))
    check_output(path, force=force)
    mask = check_mask(prepared.mask, prepared.iobs.shape, "mask")
    iobs = check_intensity(prepared.iobs, "iobs", mask)
    with atomic_output(path, force=force) as tmp:
        cxi.write_data(tmp, iobs, mask, attribution=attribution,
                       notes=f"phaser prepare: {prepared.summary()}")
        with h5py.File(tmp, "a") as f:
            process = f.create_group(PROCESS_PATH)
            process.attrs["NX_class"] = "NXprocess"
            process.create_dataset("program", data="phaser prepare")
            process.create_dataset("version", data=__version__)
            process.create_dataset(
                "date", data=datetime.datetime.now().astimezone().isoformat(timespec="seconds"))
            process.create_dataset("command", data=command or "")
            process.create_dataset("sequence_index", data=np.int64(1))
            for i, record in enumerate(prepared.steps, 1):
                note = process.create_group(f"note_{i}")
                note.attrs["NX_class"] = "NXnote"
                note.create_dataset("description", data=record["step"])
                note.create_dataset("type", data="application/json")
                note.create_dataset("data", data=_json(record))


def read_steps(path):
    """Read back the preparation record of a file written by :func:`write_prepared`.

    Returns
    -------
    list of dict
        The steps in order; empty if the file has no record.
    """
    path = check_file(path)
    with cxi.open_hdf5(path) as f:
        process = f.get(PROCESS_PATH)
        if process is None:
            return []
        notes = sorted((k for k in process if k.startswith("note_")),
                       key=lambda k: int(k.split("_")[1]))
        out = []
        for key in notes:
            raw = process[key]["data"][()]
            out.append(json.loads(raw.decode() if isinstance(raw, bytes) else raw))
        return out
