from app_helpers import open_page
from streamlit.testing.v1 import AppTest


def _page(tmp_path, monkeypatch):
    monkeypatch.setenv("SEM_RESULTS_DIR", str(tmp_path))
    at = open_page("experiment_results.py", timeout=180)
    assert not at.exception
    return at


def test_empty_results_folder_says_so_then_a_run_shows_its_figures(tmp_path, monkeypatch):
    at = _page(tmp_path, monkeypatch)
    assert any("No runs of your own" in i.value for i in at.info)
    at.selectbox(key="exp_name").set_value("faithfulness").run()
    at.number_input(key="exp_n").set_value(12).run()
    at.button(key="exp_run").click().run()
    assert not at.exception
    assert (tmp_path / "faithfulness-n12" / "manifest.json").is_file()
    assert at.selectbox(key="exp_folder").value == "faithfulness-n12"
    assert any("Verdict" in m.value for m in at.markdown)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["digits (N)"] == "12" and metrics["chunks computed / reused"] == "1 / 0"
    # running it again shows the finished run at once (same parameters, code and models): nothing is redone
    written = (tmp_path / "faithfulness-n12" / "manifest.json").stat().st_mtime_ns
    at.button(key="exp_run").click().run()
    assert not at.exception
    assert any("result from the cache" in s.value for s in at.success)
    assert {m.label: m.value for m in at.metric}["chunks computed / reused"] == "1 / 0"
    assert (tmp_path / "faithfulness-n12" / "manifest.json").stat().st_mtime_ns == written


def test_a_broken_folder_is_a_clear_error(tmp_path, monkeypatch):
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "manifest.json").write_text("{not json")
    at = _page(tmp_path, monkeypatch)
    assert not at.exception
    assert at.error, "a broken manifest must show an error, not a traceback"



def _shared_link(monkeypatch, **query):
    """The Experiments page opened from a URL with ``query``, on the repo's own results/ folder."""
    monkeypatch.delenv("SEM_RESULTS_DIR", raising=False)
    at = AppTest.from_file("../../app.py", default_timeout=180)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("app_pages/experiment_results.py").run()
    assert not at.exception
    return at


def test_committed_results_open_from_a_shared_link(monkeypatch):
    """The repo's results/ folder (the report's runs) opens on the experiment named in the URL."""
    at = _shared_link(monkeypatch, exp_folder="senn-distances")
    assert at.selectbox(key="exp_folder").value == "senn-distances"
    import json
    from pathlib import Path

    manifest = json.loads((Path(__file__).parents[2] / "results" / "senn-distances" / "manifest.json").read_text())
    assert any("Verdict" in m.value and manifest["verdict"] in m.value for m in at.markdown)
    assert any(manifest["command"] in c.value for c in at.code)                 # the folder's own command
    assert float({m.label: m.value for m in at.metric}["compute seconds"]) > 60


def test_a_bad_folder_in_the_url_is_ignored_with_a_warning(monkeypatch):
    at = _shared_link(monkeypatch, exp_folder="../../etc")
    assert any("exp_folder" in w.value for w in at.warning)


def test_the_number_of_digits_starts_at_the_experiments_declared_n_kept_short(tmp_path, monkeypatch):
    from sem_core.experiments.launch import digits_param

    monkeypatch.setenv("SEM_RESULTS_DIR", str(tmp_path))
    for name in ("protodl-table", "faithfulness"):           # declared 5 (kept) and 1,000 (a short run: 20)
        at = open_page("experiment_results.py", {"exp_name": name}, timeout=180)
        assert not at.exception
        n = at.number_input(key="exp_n")
        assert n.value == digits_param(name).default and (n.min, n.max) == (1, 1000)


def test_a_tampered_folder_shows_no_markup_no_link_no_image_and_not_its_own_verdict(tmp_path, monkeypatch):
    """A results folder whose manifest carries Markdown links and images, LaTeX colour, directives and a foreign
    verdict, and whose figure JSON carries a title link and a remote layout image, is shown as plain text with the
    verdict its numbers give and a figure without the link and the image."""
    import json
    import shutil
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "results" / "faithfulness"
    dst = tmp_path / "faithfulness"
    shutil.copytree(src, dst)
    payload = "[click](https://evil.example) ![x](https://evil.example/a.png) $\\color{red}{PWNED}$ :red[PWNED]"
    manifest = json.loads((dst / "manifest.json").read_text())
    manifest.update(claim=payload, paper=payload, verdict="reproduced", verdict_reason=payload, notes=payload)
    (dst / "manifest.json").write_text(json.dumps(manifest))
    for entry in manifest["figures"].values():
        fig = json.loads((dst / entry["json"]).read_text())
        fig["layout"]["title"] = {"text": '<a href="https://evil.example">open me</a> title'}
        fig["layout"]["images"] = [{"source": "https://evil.example/track.png", "x": 0, "y": 0, "sizex": 1, "sizey": 1}]
        (dst / entry["json"]).write_text(json.dumps(fig))
    from sem_core.experiments import integrity

    integrity.seal_folder(dst, manifest)   # signed here: hostile text of a run of yours is still never markup
    at = _page(tmp_path, monkeypatch)
    at.selectbox(key="exp_folder").set_value("faithfulness (yours)").run()
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert "[click](" not in shown and "![x](" not in shown and ":red[" not in shown and "$\\color" not in shown
    # the payload is shown once, as escaped text, in the run's notes; claim, paper and verdict reason are the code's
    assert "\\[click\\]" in shown and sum(m.value.count("click") for m in at.markdown) == 1
    assert any("Verdict: 🟡 partly" in m.value for m in at.markdown)        # the numbers' verdict, not "reproduced"
    assert any("differs from what its numbers give" in w.value for w in at.warning)
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        assert not spec["layout"].get("images") and "href" not in chart.proto.spec and "evil.example" not in chart.proto.spec



def test_a_sealed_folder_edited_after_its_run_is_refused(tmp_path, monkeypatch):
    import json
    import shutil
    from pathlib import Path

    dst = tmp_path / "faithfulness"
    shutil.copytree(Path(__file__).resolve().parents[2] / "results" / "faithfulness", dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    (dst / "manifest.json").write_text(json.dumps({**manifest, "verdict": "reproduced"}))
    at = _page(tmp_path, monkeypatch)
    at.selectbox(key="exp_folder").set_value("faithfulness (yours)").run()
    assert not at.exception and not any("Verdict" in m.value for m in at.markdown)
    assert any("was changed after the run" in e.value for e in at.error)


def test_a_run_refused_by_another_sessions_lock_leaves_no_starting_bar(tmp_path, monkeypatch):
    import os

    folder = tmp_path / "faithfulness-n12"
    folder.mkdir()
    (folder / ".lock").write_text(str(os.getpid()))          # a live process holds it: another session's run
    at = _page(tmp_path, monkeypatch)
    at.selectbox(key="exp_name").set_value("faithfulness").run()
    at.number_input(key="exp_n").set_value(12).run()
    at.button(key="exp_run").click().run()
    assert not at.exception and at.error
    assert not at.get("progress")
