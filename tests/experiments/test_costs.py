"""The CLI's time estimate comes from a measurement, and says so; a bad table gives no number."""
import json

from sem_core.experiments.costs import estimate_text

DEFAULTS = {"n": 1000, "chunk": 250}


def _table(tmp_path, entry):
    path = tmp_path / "costs.json"
    path.write_text(json.dumps({"experiments": {"faithfulness": entry}}))
    return path


def test_the_estimate_scales_the_measured_defaults_linearly_in_n(tmp_path):
    path = _table(tmp_path, {"n": 4, "seconds": 10.0, "machine": "x86_64, 2 cores", "date": "2026-12-07"})
    text = estimate_text("faithfulness", {"n": 32, "chunk": 250, "seed": 3}, DEFAULTS, path)
    assert text.startswith("estimate: about 80 s") and "n = 4 with the defaults took 10.0 s" in text


def test_other_parameters_get_no_number(tmp_path):
    path = _table(tmp_path, {"n": 4, "seconds": 10.0, "machine": "m", "date": "d"})
    assert estimate_text("faithfulness", {"n": 4, "chunk": 2, "seed": 0}, DEFAULTS, path) == (
        "estimate: none for these parameters (measured with the defaults; this run changes chunk)")


def test_a_missing_or_malformed_table_gives_no_number(tmp_path):
    assert "no cost table" in estimate_text("faithfulness", {"n": 4, "chunk": 250}, DEFAULTS, tmp_path / "none.json")
    for bad in ({"n": 0, "seconds": 1.0, "machine": "m", "date": "d"}, {"n": 4, "seconds": float("inf")},
                {"n": 4, "seconds": -1.0, "machine": "m", "date": "d"}, "text"):
        assert "malformed" in estimate_text("faithfulness", {"n": 4, "chunk": 250}, DEFAULTS, _table(tmp_path, bad))
    (tmp_path / "garbage.json").write_text("{not json")
    assert "unreadable" in estimate_text("faithfulness", {"n": 4, "chunk": 250}, DEFAULTS, tmp_path / "garbage.json")
