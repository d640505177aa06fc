"""Experiment folders are verified, not trusted (issue 16): a chunk that fails a check is recomputed (results
equal a clean run), parameters and output paths are checked before any work, one writer per folder, and the
report and the Experiments page skip a corrupt manifest or figure with a message naming the file."""
import json
import re
import shutil
from pathlib import Path

import plotly.graph_objects as go
import pytest
from tests.app.app_helpers import open_page

from sem_core.cli.main import main
from sem_core.errors import SemError
from sem_core.experiments import integrity, run_experiment, write_report
from sem_core.provenance import sign
from sem_core.experiments import runner as runner_mod

FAITH = dict(n=4, chunk=2, device="cpu")       # 2 chunks of 2 digits, ~0.1 s each
TABLE = dict(n=1, steps=2, device="cpu")       # one chunk per model; their specs do not hold eps


def _no_png(*args, **kwargs):
    raise RuntimeError("no Chromium in these tests")


@pytest.fixture(scope="module", autouse=True)
def _skip_png():
    """PNG export (kaleido + Chromium) takes ~3 s a figure and is not what these tests check."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(go.Figure, "to_image", _no_png)
        yield


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A clean faithfulness run: (folder, results.json text)."""
    out = tmp_path_factory.mktemp("clean") / "faith"
    run_experiment("faithfulness", out, **FAITH)
    return out, (out / "results.json").read_text()


@pytest.fixture()
def copy(clean, tmp_path):
    out = tmp_path / "faith"
    shutil.copytree(clean[0], out)
    return out


def _reseal(stored: dict, signed: bool = True) -> bytes:
    """A consistent checksum; ``signed``: also this installation's HMAC of it (an installation's own bad chunk, so
    the later checks are reached), else the old HMAC stays (what anyone without the secret can do)."""
    body = {k: v for k, v in stored.items() if k not in ("checksum", "hmac")}
    checksum = integrity.digest(body)
    return json.dumps({**body, "checksum": checksum,
                       "hmac": sign(checksum.encode()) if signed else stored.get("hmac")}).encode()


def _forged(raw: bytes) -> bytes:  # an edited value with its checksum recomputed, without the secret
    stored = json.loads(raw)
    stored["result"]["correlation"][0] = 0.0
    return _reseal(stored, signed=False)


def _foreign(raw: bytes) -> bytes:  # a sound chunk signed by another installation
    stored = json.loads(raw)
    stored["hmac"] = "0" * 64
    return json.dumps(stored).encode()


def _edited(raw: bytes) -> bytes:
    stored = json.loads(raw)
    stored["result"]["correlation"][0] = 0.0
    return json.dumps(stored).encode()


def _short_column(raw: bytes) -> bytes:  # a consistent checksum, but one value fewer than digits
    stored = json.loads(raw)
    stored["result"]["correlation"].pop()
    return _reseal(stored)


def _other_params(raw: bytes) -> bytes:
    stored = json.loads(raw)
    stored["key"]["params"] = integrity.digest({"experiment": "faithfulness", "n": 4, "chunk": 2, "seed": 1})
    return _reseal(stored)


def _legacy(raw: bytes) -> bytes:  # the layout before chunks were sealed
    stored = json.loads(raw)
    return json.dumps({k: stored[k] for k in ("spec", "result", "seconds")}).encode()


TAMPER = {
    "edited": (_edited, "does not match its checksum"),
    "truncated": (lambda raw: raw[: len(raw) // 2], "not valid JSON"),
    "garbage": (lambda raw: b"\xff\xfe\x00garbage", "not valid JSON"),
    "empty": (lambda raw: b"", "not valid JSON"),
    "wrong length": (_short_column, "has 1 values for 2 digits"),
    "other parameters": (_other_params, "other parameters"),
    "no checksum": (_legacy, "no checksum"),
    "forged checksum": (_forged, "not signed by this installation"),
    "signed elsewhere": (_foreign, "not signed by this installation"),
    "not an object": (lambda raw: b"[1, 2]", "no checksum"),
}


@pytest.mark.parametrize("case", list(TAMPER))
def test_a_tampered_chunk_is_recomputed_and_results_equal_a_clean_run(clean, copy, case, caplog):
    tamper, reason = TAMPER[case]
    path = copy / "chunks" / "0001.json"
    path.write_bytes(tamper(path.read_bytes()))
    m = run_experiment("faithfulness", copy, **FAITH)
    assert (m["chunks_reused"], m["chunks_computed"], m["chunks_recomputed"]) == (1, 1, 1)
    assert (copy / "results.json").read_text() == clean[1]
    assert json.loads((copy / "manifest.json").read_text())["chunks_recomputed"] == 1
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("0001.json" in w and reason in w for w in warned), warned
    assert not list(copy.rglob("*.tmp")) and not (copy / ".lock").exists()
    m = run_experiment("faithfulness", copy, **FAITH)  # the recomputed chunk is sealed: reused from now on
    assert (m["chunks_reused"], m["chunks_recomputed"]) == (2, 0)


def test_params_json_deleted_then_other_params_recompute_and_the_manifest_matches(tmp_path):
    run_experiment("protodl-table", tmp_path / "a", eps=0.3, **TABLE)
    (tmp_path / "a" / "chunks" / "params.json").unlink()
    m = run_experiment("protodl-table", tmp_path / "a", eps=0.1, **TABLE)
    assert (m["chunks_reused"], m["chunks_recomputed"]) == (0, 2) and m["params"]["eps"] == 0.1  # one per model
    clean = run_experiment("protodl-table", tmp_path / "b", eps=0.1, **TABLE)
    assert (tmp_path / "a" / "results.json").read_text() == (tmp_path / "b" / "results.json").read_text()
    assert m["summary"] == clean["summary"]
    assert json.loads((tmp_path / "a" / "chunks" / "params.json").read_text())["eps"] == 0.1


def test_a_failed_run_leaves_the_folder_usable(tmp_path, monkeypatch):
    out = tmp_path / "faith"
    with pytest.raises(SemError, match=r"parameter n must be a whole number >= 1, got 0"):
        run_experiment("faithfulness", out, n=0, device="cpu")
    assert not out.exists()  # refused before any work
    exp_cls = runner_mod.EXPERIMENTS.get("faithfulness")

    def failing(self, spec, ctx):
        raise SemError("the first chunk failed")

    monkeypatch.setattr(exp_cls, "run_chunk", failing)
    with pytest.raises(SemError, match="the first chunk failed"):
        run_experiment("faithfulness", out, n=6, chunk=2, device="cpu")
    assert not (out / "chunks" / "params.json").exists() and not (out / ".lock").exists()
    monkeypatch.undo()
    m = run_experiment("faithfulness", out, **FAITH)  # other parameters than the failed run: not refused
    assert m["chunks_computed"] == 2 and (out / "chunks" / "params.json").exists()


def test_a_folder_of_a_finished_run_with_other_parameters_is_still_refused(copy):
    with pytest.raises(SemError, match=r"holds chunks of a run with other parameters \(differing: \"n\"\)"):
        run_experiment("faithfulness", copy, n=6, chunk=2, device="cpu")


def test_a_second_writer_is_refused_while_the_lock_is_held(copy):
    held = pytest.raises(SemError, match=r"another run is writing to .*faith \(pid \d+\); wait for it or "
                                         r"remove .*faith/\.lock if it crashed")
    with integrity.folder_lock(copy), held:
        run_experiment("faithfulness", copy, **FAITH)
    assert not (copy / ".lock").exists()
    (copy / ".lock").write_text("\x1b[31m not a pid")  # a crashed or hostile lock: named, never echoed
    with pytest.raises(SemError, match=r"\(pid unknown\)"):
        run_experiment("faithfulness", copy, **FAITH)
    (copy / ".lock").unlink()
    assert run_experiment("faithfulness", copy, **FAITH)["chunks_reused"] == 2


def test_temp_files_are_unique_per_writer_and_removed_on_failure(tmp_path, monkeypatch):
    names = []
    real = integrity.os.replace

    def failing(src, dst):
        names.append(src.name)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(integrity.os, "replace", failing)
    for _ in range(2):
        with pytest.raises(SemError, match="could not write .*x.json: No space left on device"):
            integrity.write_atomic(tmp_path / "x.json", "{}")
    monkeypatch.setattr(integrity.os, "replace", real)
    assert names[0] != names[1] and all(re.fullmatch(r"\.x\.json\.\d+\.[0-9a-f]{8}\.tmp", n) for n in names)
    assert list(tmp_path.iterdir()) == []


BAD_PARAMS = [
    ("senn-distances", {"targets": 0}, r"parameter targets must be a whole number >= 1, got 0"),
    ("faithfulness", {"chunk": 0}, r"parameter chunk must be a whole number >= 1, got 0"),
    ("faithfulness", {"chunk": 2.5}, r"parameter chunk must be a whole number >= 1, got 2.5"),
    ("faithfulness", {"n": True}, r"parameter n must be a whole number >= 1, got true"),
    ("senn-distances", {"eps": "a"}, r"parameter eps must be a number \(finite\), got \"a\""),
    ("senn-distances", {"eps": float("nan")}, r"parameter eps must be a number \(finite\), got NaN"),
    ("senn-distances", {"eps": -0.1}, r"parameter eps must be a number >= 0, got -0.1"),
    ("saliency-fragility", {"methods": []}, r"parameter methods must be a non-empty list"),
    ("saliency-fragility", {"eps_values": [0.1, "x"]}, r"parameter eps_values\[1\] must be a number"),
    ("protodl-table", {"classes": [12]}, r"parameter classes\[0\] must be a whole number from 0 to 9, got 12"),
    ("senn-distances", {"epz": 0.1},
     r"unknown parameter \"epz\" for experiment senn-distances; known: chunk, eps, eps_values, lam, n, steps, targets"),
    ("faithfulness", {"\x1b[31mred\n": 1}, r"unknown parameter \"\\u001b\[31mred\\n\""),
]


@pytest.mark.parametrize("name,params,message", BAD_PARAMS, ids=[f"{n}-{list(p)[0]!r}" for n, p, _ in BAD_PARAMS])
def test_bad_parameters_are_refused_before_any_work(tmp_path, name, params, message):
    with pytest.raises(SemError, match=message) as info:
        run_experiment(name, tmp_path / "out", device="cpu", **params)
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value)
    assert not (tmp_path / "out").exists()


def _cli(argv, capsys) -> tuple[int, str]:
    rc = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


@pytest.mark.parametrize("param,message", [
    ("targets=0", "targets must be a whole number >= 1"),
    ("chunk=0", "chunk must be a whole number >= 1"),
    ('eps="a"', 'eps must be a number (finite), got "a"'),
    ("bogus=1", 'unknown parameter "bogus"'),
])
def test_cli_refuses_bad_params_with_one_line(tmp_path, capsys, param, message):
    rc, err = _cli(["experiment", "senn-distances", "--param", param, "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_out_that_is_a_file_or_under_a_file_is_refused(tmp_path, capsys):
    file = tmp_path / "file.txt"
    file.write_text("keep me")
    with pytest.raises(SemError, match=r"file\.txt is an existing file; choose a folder"):
        run_experiment("faithfulness", file, **FAITH)
    with pytest.raises(SemError, match=r"cannot create the output folder .*file\.txt/sub"):
        run_experiment("faithfulness", file / "sub", **FAITH)
    rc, err = _cli(["experiment", "faithfulness", "--n", "4", "--out", str(file)], capsys)
    assert rc == 2 and "file.txt" in err
    assert file.read_text() == "keep me"


def test_report_out_that_is_a_folder_is_refused_without_a_stray_tmp(clean, tmp_path, capsys):
    with pytest.raises(SemError, match=r"the report path .* is a folder; give the report's file name"):
        write_report(clean[0], tmp_path)
    rc, err = _cli(["report", "--results", str(clean[0]), "--out", str(tmp_path)], capsys)
    assert rc == 2 and "is a folder" in err
    assert list(tmp_path.iterdir()) == []


@pytest.fixture()
def hostile_results(clean, tmp_path):
    """A results folder: one good run, one with a corrupt figure JSON (and no HTML), a manifest that is not
    JSON, one missing a field, and one whose figure names a file outside its folder."""
    root = tmp_path / "results"
    for name in ("a-good", "b-badfig", "c-broken", "d-partial", "e-escape"):
        shutil.copytree(clean[0], root / name, ignore=shutil.ignore_patterns("chunks"))
    (root / "b-badfig" / "faithfulness.plotly.json").write_text('{"data": [oops')
    (root / "b-badfig" / "faithfulness.html").unlink()
    bad = json.loads((root / "b-badfig" / "manifest.json").read_text())
    integrity.seal_folder(root / "b-badfig", bad)   # sealed here with its bad figure: the figure is skipped, not the run
    for name in ("c-broken", "d-partial", "e-escape"):
        (root / name / "seal.json").unlink()     # the manifest's own checks speak first (a sealed one: "changed")
    (root / "c-broken" / "manifest.json").write_text("{not json")
    partial = json.loads((root / "d-partial" / "manifest.json").read_text())
    del partial["verdict"]
    (root / "d-partial" / "manifest.json").write_text(json.dumps(partial))
    escape = json.loads((root / "e-escape" / "manifest.json").read_text())
    escape["figures"]["faithfulness"]["json"] = "../../../etc/passwd"
    (root / "e-escape" / "manifest.json").write_text(json.dumps(escape))
    return root


def test_report_skips_corrupt_manifests_and_figures_naming_the_file(hostile_results, tmp_path, capsys, caplog):
    rc, _ = _cli(["report", "--results", str(hostile_results), "--out", str(tmp_path / "docs" / "R.md")], capsys)
    assert rc == 0
    text = (tmp_path / "docs" / "R.md").read_text()
    assert text.count("## faithfulness") == 2 and text.count("Interactive figure:") == 1
    warned = "\n".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "c-broken/manifest.json is not a readable experiment manifest (not valid JSON" in warned
    assert "d-partial/manifest.json is not a readable experiment manifest (no verdict)" in warned
    assert "e-escape/manifest.json is not a readable experiment manifest (figure \"faithfulness\" names a file" in warned
    assert "b-badfig/faithfulness.plotly.json: not a readable plotly figure" in warned
    assert not list(tmp_path.rglob("*.tmp"))


def plain(elements) -> list[str]:
    """The messages of Streamlit elements with their Markdown escapes removed."""
    return [e.value.replace("\\", "") for e in elements]


def test_experiments_page_skips_corrupt_manifest_and_figure_with_a_message(hostile_results, monkeypatch):
    monkeypatch.setenv("SEM_RESULTS_DIR", str(hostile_results))
    at = open_page("experiment_results.py", timeout=180)
    assert not at.exception
    at.selectbox(key="exp_folder").set_value("c-broken").run()
    assert not at.exception
    assert any("c-broken/manifest.json is not a readable experiment manifest" in e for e in plain(at.error))
    at.selectbox(key="exp_folder").set_value("b-badfig").run()
    assert not at.exception and not at.error
    assert any("b-badfig/faithfulness.plotly.json is missing or not a readable plotly figure" in w for w in plain(at.warning))
    assert any("Verdict" in m.value for m in at.markdown)


def test_a_lock_whose_run_has_ended_is_taken_over_with_a_warning(copy, caplog):
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                          # a pid that no running process holds now
    (copy / ".lock").write_text(str(gone.pid))
    with caplog.at_level("WARNING"):
        m = run_experiment("faithfulness", copy, **FAITH)
    assert m["chunks_reused"] == 2 and not (copy / ".lock").exists()
    assert f"(pid {gone.pid}) has ended without releasing it" in caplog.text


@pytest.mark.parametrize("signame,code", [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_terminated_experiment_ends_in_one_line_keeps_its_chunks_and_releases_the_lock(tmp_path, signame, code):
    """SIGTERM / SIGHUP as Ctrl-C: one line, the chunks done so far kept, the lock released; the rerun resumes."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    argv = [sys.executable, "-m", "sem_core", "experiment", "faithfulness", "--n", "400", "--param", "chunk=2",
            "--out", str(out), "--device", "cpu"]
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list((out / "chunks").glob("[0-9][0-9][0-9][0-9].json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)                                 # until the first chunk is written
    proc.send_signal(getattr(signal, signame))
    out_text, err = (s.decode() for s in proc.communicate(timeout=120))
    assert proc.returncode == code, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == \
        f"terminated ({signame}); rerun the same command to resume"
    kept = list((out / "chunks").glob("[0-9][0-9][0-9][0-9].json"))
    assert kept and not (out / ".lock").exists()
    rerun = subprocess.run(argv + ["--json"], cwd=root, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["chunks_reused"] >= len(kept)
