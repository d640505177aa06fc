"""An experiment started from the app: run into <root>/<name>-n<N>, shown again without rerunning, resumed."""
import pytest

from sem_core.errors import SemError, UnknownNameError
from sem_core.experiments import EXPERIMENTS, list_experiments, run_experiment
from sem_core.experiments import runner as runner_mod
from sem_core.experiments.launch import APP_DIGITS, MAX_DIGITS, digits_param, folder_for, run_in_folder


def test_a_run_lands_in_its_folder_and_is_reused_the_second_time(tmp_path, monkeypatch):
    steps = []
    first = run_in_folder("faithfulness", tmp_path, 10, on_step=lambda done, total: steps.append((done, total)))
    assert first.folder == folder_for(tmp_path, "faithfulness", 10) == tmp_path / "faithfulness-n10"
    assert (first.folder / "manifest.json").is_file() and first.manifest["experiment"] == "faithfulness"
    assert not first.reused and first.fresh and first.seconds > 0 and steps and steps[-1][0] == steps[-1][1]

    exp_cls = runner_mod.EXPERIMENTS.get("faithfulness")
    monkeypatch.setattr(exp_cls, "run_chunk", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    again = run_in_folder("faithfulness", tmp_path, 10)
    assert again.reused and not again.fresh and again.seconds == 0 and again.manifest == first.manifest


def test_a_run_made_by_another_installation_is_made_again_not_shown(tmp_path, monkeypatch):
    """A finished folder whose seal this installation cannot vouch for (another secret: copied from elsewhere, or
    made before the secret changed) is computed again, its chunks too (they are not signed here either)."""
    first = run_in_folder("faithfulness", tmp_path, 4)
    monkeypatch.setenv("SEM_SECRET_FILE", str(tmp_path / "another" / "secret"))
    again = run_in_folder("faithfulness", tmp_path, 4)
    assert not again.reused and again.manifest["chunks_reused"] == 0 and again.manifest["chunks_recomputed"] > 0
    assert again.manifest["summary"] == first.manifest["summary"]
    assert run_in_folder("faithfulness", tmp_path, 4).reused      # signed now: shown as it is


def test_a_partial_run_is_resumed_and_not_counted_as_fresh(tmp_path):
    folder = folder_for(tmp_path, "faithfulness", 20)
    run_experiment("faithfulness", folder, n=20)                 # all chunks there, then the manifest goes
    (folder / "manifest.json").unlink()
    run = run_in_folder("faithfulness", tmp_path, 20)
    assert not run.reused and run.manifest["chunks_reused"] > 0 and not run.fresh


@pytest.mark.parametrize("name", list_experiments())
def test_the_apps_number_of_digits_is_the_declared_one_kept_short(name):
    declared = EXPERIMENTS.get(name).defaults["n"]
    n = digits_param(name)
    assert n.name == "n" and n.kind is int and (n.lo, n.hi) == (1, MAX_DIGITS)
    assert n.default == min(declared, APP_DIGITS) and n.check(n.default) == n.default
    assert f"{declared:,}" in n.help


def test_the_apps_number_of_digits_keeps_a_smaller_declared_default_and_checks_its_range():
    assert digits_param("protodl-table").default == EXPERIMENTS.get("protodl-table").defaults["n"] < APP_DIGITS
    assert digits_param("faithfulness").default == APP_DIGITS < EXPERIMENTS.get("faithfulness").defaults["n"]
    for bad in (0, MAX_DIGITS + 1, 2.5):
        with pytest.raises(SemError, match="n must be an integer in 1..1000"):
            digits_param("faithfulness").check(bad)
    with pytest.raises(UnknownNameError, match="faithfulness"):
        digits_param("no-such-experiment")
