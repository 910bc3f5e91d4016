"""``phaser report``: a PNG summary of a result; bad input gives one line and no file."""

import struct

import numpy as np
import pytest

import phaser
from phaser.analysis.report import HISTORY_INCHES, PANEL_INCHES
from phaser.io import save_data, save_result

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"






def png_size(path):
    """(width, height) from the IHDR chunk, which a valid PNG has first."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def expected_size(columns, dpi):
    width = columns * PANEL_INCHES[0] * dpi
    height = (3 * PANEL_INCHES[1] + HISTORY_INCHES) * dpi
    return round(width), round(height)



def test_report_of_raw_result(invoke, copy, tmp_path):
    copy("raw.cxi")
    res = invoke("report", "raw.cxi", "--out", "r.png", "--dpi", 50)
    assert res.exit_code == 0, res.stderr
    assert "r.png" in res.stdout
    # Amplitude and raw phase: two columns of panels.
    assert png_size(tmp_path / "r.png") == expected_size(2, 50)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.png", "raw.cxi"]


def test_report_of_processed_result_has_strain_column(invoke, copy, tmp_path):
    copy("processed.cxi")
    res = invoke("report", "processed.cxi", "--dpi", 40)
    assert res.exit_code == 0, res.stderr
    # Default name next to the result.
    assert png_size(tmp_path / "processed_report.png") == expected_size(3, 40)


def test_report_figure_content(saved_results):
    from phaser.analysis.report import report_figure

    fig = report_figure(phaser.load_result(saved_results / "processed.cxi"), source="processed.cxi")
    titles = [ax.get_title() for ax in fig.axes]
    for name in ("amplitude", "phase", "strain"):
        for axis in "zyx":
            assert any(t.startswith(f"{name}, {axis} = ") for t in titles), (name, axis)
    labels = {ax.get_ylabel() for ax in fig.axes}
    assert {"phase (rad)", "strain (%)", "support size (voxels)"} <= labels
    assert "convergence" in titles
    legend = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert {"χ²", "LLK", "free LLK", "support size"} <= set(legend)
    assert fig._suptitle.get_text().startswith("processed.cxi")


def test_report_refuses_overwrite_without_force(one_line_error, invoke, copy, tmp_path):
    copy("raw.cxi")
    (tmp_path / "r.png").write_bytes(b"old")
    res = invoke("report", "raw.cxi", "--out", "r.png")
    one_line_error(res, "r.png exists; use --force", tmp_path, ["r.png", "raw.cxi"])
    assert (tmp_path / "r.png").read_bytes() == b"old"
    res = invoke("report", "raw.cxi", "--out", "r.png", "--force", "--dpi", 30)
    assert res.exit_code == 0, res.stderr
    assert png_size(tmp_path / "r.png") == expected_size(2, 30)


def test_report_of_data_file(one_line_error, invoke, tmp_path):
    save_data(tmp_path / "d.cxi", np.ones((4, 4, 4), np.float32))
    res = invoke("report", "d.cxi", "--out", "r.png")
    one_line_error(res, "not a phaser result file", tmp_path, ["d.cxi"])


def test_report_of_real_object(one_line_error, invoke, tmp_path):
    result = phaser.Result(obj=np.ones((4, 4, 4), np.complex64), support=np.ones((4, 4, 4), np.uint8))
    save_result(result, tmp_path / "real.cxi")
    res = invoke("report", "real.cxi", "--out", "r.png")
    one_line_error(res, "real.cxi holds no phase", tmp_path, ["real.cxi"])


@pytest.mark.parametrize(
    "args, phrase",
    [
        (("missing.cxi",), "no such file: missing.cxi"),
        (("raw.cxi", "--out", "r.jpg"), "give a name ending in .png"),
        (("raw.cxi", "--out", "r.png", "--dpi", 0), "dpi must be positive"),
        (("raw.cxi", "--out", "nodir/r.png"), "directory nodir does not exist"),
    ],
)
def test_report_bad_arguments(one_line_error, invoke, copy, tmp_path, args, phrase):
    copy("raw.cxi")
    one_line_error(invoke("report", *args), phrase, tmp_path, ["raw.cxi"])
