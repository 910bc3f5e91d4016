"""``bench/report.py`` turns every kind of benchmark row into a table (it crashed on the
nn prior and nns rows, which have no backend parameter)."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _report():
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(name, group, params, median, extra=None):
    return {"name": name, "group": group, "params": params, "stats": {"median": median},
            "extra_info": extra or {}}


def test_every_benchmark_row_reaches_a_table(tmp_path, capsys):
    data = {"machine_info": {"cpu": {"brand_raw": "test cpu", "count": 2}}, "benchmarks": [
        _row("test_hio_iteration[numba-64]", "64^3", {"backend_name": "numba", "size": 64}, 1e-3),
        _row("test_fft_pair[numba-64]", "64^3", {"backend_name": "numba", "size": 64}, 8e-4),
        _row("test_prediction_64", "nn prior", None, 0.05),
        _row("test_initializer_64", "nn prior", {}, 0.07),
        _row("test_search", "nns search", None, 0.002),
        _row("test_dataset_throughput[faceted]", "simulate", {"family": "faceted"}, 2.0,
             {"strain": "gaussian", "workers": 2, "count": 40}),
    ]}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data))
    _report().main(path)
    out = capsys.readouterr().out
    assert "| numba | 64³ | 1.00 | 0.80 | 1.25 |" in out
    assert "| nn prior | prediction_64 | 50.00 |" in out
    assert "| nn prior | initializer_64 | 70.00 |" in out
    assert "| nns search | search | 2.00 |" in out
    assert "| dataset_throughput | faceted | gaussian | 2 | 2 | 20.0 |" in out
