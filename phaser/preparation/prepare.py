"""From a raw Bragg CDI rocking scan to a diffraction data file (``phaser prepare``).

A rocking scan arrives as one detector frame per rocking angle (a TIFF series) or as a
stacked array.  :func:`prepare` turns it into the intensity phaser reconstructs:

1. read the frames into a (frames, rows, cols) float32 stack
   (:func:`~phaser.preparation.frames.read_frames`);
2. subtract the dark field, clipping at 0 (:func:`~phaser.preparation.detector.subtract_dark`);
   pixels that are hot in the dark field itself are masked;
3. divide by the white (flat) field normalised to its median
   (:func:`~phaser.preparation.detector.divide_white`); pixels with almost no response in the
   white field are dead and masked;
4. mask detector gaps, rows or columns that read zero in every frame
   (:func:`~phaser.preparation.detector.find_gaps`), and hot pixels, isolated pixels far above
   their neighbours (:func:`~phaser.preparation.detector.find_hot_pixels`);
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

import h5py
import numpy as np
from scipy import ndimage

from phaser import __version__

from phaser.conventions import INTENSITY_DTYPE, MASK_DTYPE
from phaser.errors import InputError
from phaser.io import cxi
from phaser.io.atomic import atomic_output, check_output
from phaser.preparation.detector import apply_threshold, divide_white, find_gaps, find_hot_pixels, subtract_dark
from phaser.preparation.frames import crop_field, read_field, read_frames
from phaser.io.paths import check_file, file_format
from phaser.io.validate import check_intensity, check_mask

__all__ = [
    "Prepared",
    "prepare",
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
    max_size : int or None
        Cap of the automatic size (None: no cap).  Larger boxes cost time (a 600-iteration run grows
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
            room = 2 * min(p, n - p) // b
            if max_size is not None:
                room = min(room, max_size)
            try:
                want = fft_friendly_size(room, even=True)
            except ValueError:
                raise InputError(
                    f"the peak at {name} = {p} is too close to the edge of the data"
                    f" ({n} pixels) for a box around it; give `roi`", options=("roi",)) from None
        else:
            if not is_fft_friendly(want):
                lower = fft_friendly_size(want)
                upper = want + 1
                while not is_fft_friendly(upper):
                    upper += 1
                raise InputError(
                    f"`roi` {want} along {name} is not FFT-friendly (a product of 2, 3 and 5);"
                    f" use {lower} or {upper}", options=("roi",))
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


def _triple(value, name, minimum):
    if value is None:
        return None
    values = (value,) * 3 if np.isscalar(value) else tuple(value)
    if len(values) == 1:
        values = values * 3
    if len(values) != 3 or any(v is not None and (int(v) != v or v < minimum) for v in values):
        raise InputError(f"`{name}` takes one integer or three (z,y,x), each at least {minimum};"
                         f" got {value!r}", options=(name,))
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
        The scan, as :func:`~phaser.preparation.frames.read_frames` takes it.
    dark, white : str, os.PathLike or numpy.ndarray, optional
        Dark and white (flat) fields, 2-D (or 3-D, averaged), as
        :func:`~phaser.preparation.frames.read_field` takes them; the frames' shape, or the full
        detector with `detector_roi`.
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
        to 0 (:func:`~phaser.preparation.detector.apply_threshold`).
    dead_fraction : float
        See :func:`~phaser.preparation.detector.divide_white`.
    hot_sigma, hot_ratio : float
        See :func:`~phaser.preparation.detector.find_hot_pixels`; ``hot_sigma`` is also the
        dark-field criterion of :func:`~phaser.preparation.detector.subtract_dark`.
    max_size : int or None
        Cap of the automatic output size (None: no cap, the largest box the data hold).
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
    roi = _triple(roi, "roi", 2)
    binning = _triple(binning, "binning", 1)
    if detector_roi is not None:
        detector_roi = tuple(int(v) for v in detector_roi)
        if (len(detector_roi) != 4 or min(detector_roi) < 0
                or detector_roi[1] <= detector_roi[0] or detector_roi[3] <= detector_roi[2]):
            raise InputError(
                f"`detector_roi` takes Y0,Y1,X0,X1 with 0 <= Y0 < Y1 and 0 <= X0 < X1;"
                f" got {','.join(map(str, detector_roi))}", options=("detector_roi",))
    if threshold is not None and not (threshold >= 0 and math.isfinite(threshold)):
        raise InputError(f"`threshold` must be a non-negative number, got {threshold}",
                         options=("threshold",))
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
                 f"automatic: largest even 2,3,5-smooth size"
                 f"{'' if max_size is None else f' <= {max_size}'} centred on the peak"),
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


def write_prepared(path, prepared, *, force=False, command=None, attribution=None,
                   geometry=None):
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
    geometry : (dict, phaser.geometry.Geometry), optional
        The geometry values of the prepared box and the geometry they make, stored with
        :func:`phaser.io.cxi.write_geometry`.

    Raises
    ------
    InputError
        If the suffix is not an HDF5 one, the file exists without `force`, or it cannot
        be written.  The file appears complete or not at all.
    """
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
            if geometry is not None:
                cxi.write_geometry(f, *geometry)


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
