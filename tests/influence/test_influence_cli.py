"""``attack influence``: strict arguments (exit 2 and one JSON error before any work) and its JSON keys."""
import json

import numpy as np
import pytest

from sem_core.cli.main import main


@pytest.mark.parametrize("argv,flag", [
    (["--eps", "0"], "--eps"), (["--eps", "nan"], "--eps"), (["--eps", "1.5"], "--eps"),
    (["--k", "0"], "--k"), (["--k", "2.5"], "--k"), (["--top", "-1"], "--top"), (["--steps", "0"], "--steps"),
    (["--damping", "-1"], "--damping"), (["--damping", "inf"], "--damping"), (["--n", "0"], "--n"),
    (["--model", "senn"], "--model"), (["--kind", "topk"], "--kind"), (["--save", "out.txt"], "--save"),
])
def test_bad_arguments_exit_2_with_a_one_line_json_error(capsys, argv, flag):
    assert main(["attack", "influence", *argv, "--json"]) == 2
    out, err = capsys.readouterr()
    assert flag in json.loads(out)["error"] and err.count("\n") == 1


def test_json_keys_and_save(capsys, tmp_path):
    assert main(["attack", "influence", "--n", "2", "--steps", "1", "--json", "--device", "cpu",
                 "--save", str(tmp_path / "i.npz")]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("topk_intersection", "topk_intersection_median", "spearman", "spearman_median", "label_kept_rate",
                "linf_max", "seconds", "seconds_per_digit", "top_before", "top_after", "cg_residual_max"):
        assert key in out
    assert out["n"] == 2 and out["label_kept_rate"] == 1.0 and out["linf_max"] <= 0.1 + 1e-6
    assert len(out["top_before"]) == 2 and len(out["top_before"][0]) == 5
    d = np.load(tmp_path / "i.npz")
    assert set(d.files) >= {"x", "x_adv", "y", "pred_before", "pred_after", "label_kept", "top_before", "top_after"}
    assert d["top_after"].tolist() == out["top_after"]
