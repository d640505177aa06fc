"""Reproduce this (issue 31): a session runs a concept attack, a saliency attack and Lipschitz estimates in the app;
every result shows the Python that recomputes it, and the session's exported script, run in a fresh process,
recomputes all of them and finds the same numbers."""
import subprocess
import sys
from pathlib import Path

from app_helpers import content
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def _run(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label.startswith("Run")).click().run()


def _snippets(at: AppTest) -> list[str]:
    return [c.value for c in at.code if "sem_core.load_model_with_card" in c.value]


def test_a_sessions_results_are_recomputed_by_its_exported_script(media, tmp_path):
    at = AppTest.from_file("../../app.py", default_timeout=180).run()
    at.switch_page("app_pages/concept_attack.py")
    at.query_params.update({"steps": "10"})
    _run(at.run())
    assert not at.exception
    concept = _snippets(at)
    assert len(concept) == 1 and "create_attack(model, 'senn_concept'" in concept[0] and "test_x[[" in concept[0]

    at.switch_page("app_pages/saliency_attack.py")
    at.query_params.clear()
    at.query_params.update({"steps": "5"})
    _run(at.run())
    assert not at.exception and any("saliency_" in s for s in _snippets(at))

    at.switch_page("app_pages/lipschitz_stability.py")
    at.query_params.clear()
    at.run()
    at.number_input(key="lip_n").set_value(2)
    at.number_input(key="lip_budget").set_value(4)
    at.multiselect(key="lip_expl_cnn").set_value(["saliency"]).run()
    _run(at)
    assert not at.exception and any("create_search" in s for s in _snippets(at))

    export = next(b for b in at.get("download_button") if b.proto.id.endswith("session_export") or
                  "Export this session" in b.proto.label)
    script = tmp_path / "session.py"
    script.write_bytes(content(media, export))
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    # the concept attack, the saliency attack with its random baseline (the verdict's comparison), the estimates
    assert done.stdout.count("reproduced") == 4, done.stdout


def test_batch_and_defenses_results_show_their_python_too():
    from app_helpers import open_page

    at = open_page("batch_attack.py", {"b_n": "3", "b_steps": "2"}, timeout=300)
    next(b for b in at.button if b.label == "Run batch").click().run()
    assert not at.exception
    batch = _snippets(at)
    assert len(batch) == 1 and "test_x[[" in batch[0] and "create_attack(model" in batch[0]

    at = open_page("defense_comparison.py", {"def_steps": "3"}, timeout=300)
    next(b for b in at.button if b.label == "Run on both models").click().run()
    assert not at.exception
    both = _snippets(at)
    assert len(both) == 2 and len({s.split("load_model_with_card(")[1].split(",")[0] for s in both}) == 2
