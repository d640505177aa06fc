"""Every experiment runs end to end on a tiny N; resuming recomputes nothing; the report builds."""
import json
from pathlib import Path

import pytest

from sem_core.errors import SemError, UnknownNameError
from sem_core.experiments import list_experiments, run_experiment, write_report
from sem_core.experiments import runner as runner_mod

TINY = {
    "senn-distances": dict(n=3, targets=2, steps=3, chunk=2),
    "protodl-distances": dict(n=12, steps=3, chunk=5, xi_values=[0.3, 1.0], alpha_values=[0.0, 0.01]),
    "protodl-table": dict(n=2, steps=3),
    "saliency-fragility": dict(n=2, steps=2, methods=["saliency", "deeplift"], kinds=["random", "topk"], eps_values=[0.1]),
    "saliency-region": dict(n=2, steps=2, methods=["saliency"], protocol="strict"),
    "lipschitz": dict(n=2, calls=4, explainers=["gradxinput", "occlusion", "senn:self"], compare=False),
    "discrete-lipschitz": dict(n=2, explainers=["saliency", "senn:theta_pred"]),
    "noise-stability": dict(n=2, draws=1, sigmas=[0.1], explainers=["saliency", "senn:theta_pred"]),
    "senn-lambda": dict(n=2, epochs=1, train_limit=64, lambdas=[0.0, 0.1], train_seeds=[0, 1], budget=5),
    "faithfulness": dict(n=20, chunk=10),
    "defenses": dict(n=2, targets=2, steps=2, saliency_steps=2, chunk=2),
    "influence-fragility": dict(n=2, steps=2, eps_values=[0.1], chunk=2),
    "card": dict(n=2, steps=2, concept_steps=2, targets=2, lipschitz_calls=2, chunk=1, model="senn"),
}


def test_every_experiment_has_a_tiny_configuration():
    assert sorted(TINY) == list_experiments()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    manifests = {}
    for name, params in TINY.items():
        p = dict(params)
        manifests[name] = run_experiment(name, root / name, n=p.pop("n"), device="cpu", **p)
    return root, manifests


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.slow
def test_experiment_writes_results_figures_manifest(finished, name):
    root, manifests = finished
    m = manifests[name]
    out = root / name
    assert m["chunks_computed"] == m["chunks_total"] > 0 and m["chunks_reused"] == 0
    assert json.loads((out / "manifest.json").read_text())["experiment"] == name
    assert m["verdict"] in {"reproduced", "partly", "not"} and m["verdict_reason"]
    assert m["data_source"] == "subset"
    assert (out / "results.json").exists() and (out / "results.csv").read_text().count("\n") >= 2
    for entry in m["figures"].values():
        assert (out / entry["html"]).stat().st_size > 1000
        assert "png" in entry or "png_skipped" in entry
    assert not list(out.rglob("*.tmp")), "a half-written file was left behind"


def test_resume_recomputes_nothing_finished(tmp_path, monkeypatch):
    calls = []
    exp_cls = runner_mod.EXPERIMENTS.get("protodl-distances")
    real = exp_cls.run_chunk

    def counting(self, spec, ctx):
        calls.append(spec["digits"][0])
        if len(calls) == 2 and not getattr(counting, "crashed", False):
            counting.crashed = True
            raise KeyboardInterrupt  # the run is interrupted in its second chunk
        return real(self, spec, ctx)

    monkeypatch.setattr(exp_cls, "run_chunk", counting)
    monkeypatch.setattr(exp_cls, "probe", None)   # only the run's own chunks are counted
    one = dict(n=15, device="cpu", steps=2, chunk=5, xi_values=[0.3], alpha_values=[0.0])  # 2 models x 3 chunks
    with pytest.raises(KeyboardInterrupt):
        run_experiment("protodl-distances", tmp_path, **one)
    assert len(list((tmp_path / "chunks").glob("0*.json"))) == 1
    calls.clear()
    m = run_experiment("protodl-distances", tmp_path, **one)
    assert (m["chunks_computed"], m["chunks_reused"]) == (5, 1)
    assert len(calls) == 5
    calls.clear()
    m = run_experiment("protodl-distances", tmp_path, **one)
    assert (m["chunks_computed"], m["chunks_reused"]) == (0, 6) and calls == []


def test_other_parameters_in_the_same_folder_are_refused(tmp_path):
    run_experiment("faithfulness", tmp_path, n=10, device="cpu", chunk=10)
    with pytest.raises(SemError, match="other parameters"):
        run_experiment("faithfulness", tmp_path, n=20, device="cpu", chunk=10)


def test_a_finished_run_is_found_only_for_the_same_parameters_code_and_models(tmp_path):
    from sem_core.experiments import completed_run

    assert completed_run("faithfulness", tmp_path, n=10, chunk=10) is None           # nothing run yet
    m = run_experiment("faithfulness", tmp_path, n=10, device="cpu", chunk=10)
    assert completed_run("faithfulness", tmp_path, n=10, chunk=10) == m
    assert completed_run("faithfulness", tmp_path, n=20, chunk=10) is None           # another N
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    with pytest.MonkeyPatch.context() as mp:   # the code moved, its numbers did not (the fingerprint is the same)
        mp.setattr(runner_mod.integrity, "code_version", lambda exp: "3-refactored")
        assert completed_run("faithfulness", tmp_path, n=10, chunk=10) == m
        mp.setattr(runner_mod, "behaviour", lambda *a: "computes-something-else")
        assert completed_run("faithfulness", tmp_path, n=10, chunk=10) is None       # the code computes otherwise
    models = {"senn": {**manifest["models"]["senn"], "sha256": "0" * 64}}
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "models": models}))
    assert completed_run("faithfulness", tmp_path, n=10, chunk=10) is None           # other weights
    (tmp_path / "manifest.json").write_text("{not json")
    assert completed_run("faithfulness", tmp_path, n=10, chunk=10) is None           # unreadable


def test_unknown_experiment_lists_them(tmp_path):
    with pytest.raises(UnknownNameError, match="available: card, defenses, discrete-lipschitz, faithfulness, influence-"):
        run_experiment("nope", tmp_path)


@pytest.mark.slow
def test_report_builds_from_results(finished, tmp_path):
    root, _ = finished
    path = write_report(root, tmp_path / "docs" / "RESULTS.md")
    text = path.read_text()
    for name in TINY:
        assert f"## {name}" in text
    assert "Verdict:" in text and "python -m sem_core experiment" in text
    assert (tmp_path / "docs" / "figures" / "senn-distances-senn_distances.html").exists()
    with pytest.raises(SemError, match="no manifest.json"):
        write_report(tmp_path / "docs", tmp_path / "x.md")


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.slow
def test_manifest_command_reproduces_the_parameters(finished, name):
    """The command in the manifest (and the report) names every non-default parameter of the run."""
    import shlex

    from sem_core.cli.main import build_parser

    m = finished[1][name]
    argv = shlex.split(m["command"])
    assert argv[:4] == ["python", "-m", "sem_core", "experiment"]
    args = build_parser().parse_args(argv[3:])
    exp = runner_mod.EXPERIMENTS.get(name)
    params = {**exp.defaults, **{k: json.loads(v) for k, v in (p.split("=", 1) for p in args.param)},
              "n": args.n, "seed": args.seed}
    assert params == m["params"]


@pytest.mark.slow
def test_report_shows_row_tables_and_protocol_notes(finished, tmp_path):
    root, _ = finished
    text = write_report(root, tmp_path / "RESULTS.md").read_text()
    assert "| lam | models | accuracy | lipschitz_median |" in text  # senn-lambda rows as a table, not "[2 items]"
    assert text.count("**Differences from the paper's protocol.**") == len(TINY)


@pytest.mark.slow
def test_report_builds_from_a_fresh_clone_of_the_results(finished, tmp_path):
    """Committed result folders keep the plotly JSON but not the (gitignored) HTML: the report rebuilds it."""
    import shutil

    root, _ = finished
    clone = tmp_path / "results"
    shutil.copytree(root, clone, ignore=shutil.ignore_patterns("*.html", "plotly.min.js", "chunks", "models"))
    assert not list(clone.rglob("*.html"))
    write_report(clone, tmp_path / "docs" / "RESULTS.md")
    html = tmp_path / "docs" / "figures" / "senn-distances-senn_distances.html"
    assert html.exists() and "plotly.min.js" in html.read_text()
    assert (tmp_path / "docs" / "figures" / "plotly.min.js").exists()


def test_report_puts_the_senn_lambda_recipes_side_by_side():
    from sem_core.experiments.report import _protocols_side_by_side

    def run(folder, recipe, acc):
        params = {"n": 2} | ({"recipe": recipe} if recipe else {})
        rows = [{"lam": 0.0, "accuracy": acc, "lipschitz_median": 2.0}, {"lam": 1.0, "accuracy": acc - 0.1}]
        return {"experiment": "senn-lambda", "params": params, "summary": {"rows": rows}, "verdict": "partly",
                "_dir": Path("results") / folder}

    text = "\n".join(_protocols_side_by_side([run("senn-lambda-authors", "authors", 0.9),
                                              run("senn-lambda", None, 0.8)]))
    assert "### senn-lambda: recipes side by side" in text
    assert "recipe project in `senn-lambda` (run before the recipe parameter existed)" in text
    assert "| lam | accuracy (authors) | accuracy (project) | lipschitz_median (authors) | lipschitz_median (project) |" in text
    assert "| 1 | 0.8 | 0.7 | — | — |" in text                  # a quantity a row lacks is shown as missing
    assert "recipes side by side" not in "\n".join(_protocols_side_by_side([run("senn-lambda", None, 0.8)]))


def test_a_finished_folder_is_sealed_and_an_edit_after_the_run_is_refused(tmp_path, monkeypatch):
    """seal.json holds the SHA-256 of every file of the run and an HMAC under the installation's secret: an edited
    number, manifest or figure is refused by load_results (the app and the report show nothing of it)."""
    from sem_core.experiments import integrity, load_results

    out = tmp_path / "run"
    run_experiment("faithfulness", out, n=6)
    manifest, _ = load_results(out)
    assert integrity.check_seal(out, manifest) == "signed"
    for name, edit in (("results.json", lambda t: t.replace("0", "1", 1)),
                       ("manifest.json", lambda t: t.replace('"partly"', '"reproduced"').replace('"not"', '"reproduced"')),
                       (next(iter(manifest["figures"].values()))["json"], lambda t: t.replace("{", "{ ", 1))):
        original = (out / name).read_text()
        (out / name).write_text(edit(original))
        with pytest.raises(SemError, match=f"{name} was changed after the run"):
            load_results(out)
        (out / name).write_text(original)
    monkeypatch.setenv("SEM_SECRET_FILE", str(tmp_path / "another-installation" / "secret"))
    assert integrity.check_seal(out, manifest) == "foreign"      # copied from elsewhere: digests hold, not signed here
    with pytest.raises(SemError, match="sealed on another installation and not published"):
        load_results(out)                                        # numbers nobody here can vouch for: not shown
    monkeypatch.setattr(integrity, "PUBLISHED_FILE", tmp_path / "published.json")
    integrity.publish([out])
    assert integrity.check_seal(out, manifest) == "published"   # what the code publishes reads on any installation
    (out / "seal.json").unlink()
    assert integrity.check_seal(out, manifest) == "unsealed"
    with pytest.raises(SemError, match="not sealed"):
        load_results(out)


def test_the_committed_results_are_sealed_and_published(monkeypatch, tmp_path):
    """Every committed results/ folder (and results/cards/ card) is sealed and its digest is in
    sem_core/experiments/published.json (and nothing else is): on any installation, its own secret or another, the
    folders read as published."""
    from pathlib import Path

    from sem_core.experiments import integrity, load_results

    monkeypatch.setenv("SEM_SECRET_FILE", str(tmp_path / "a-fresh-installation" / "secret"))
    root = Path(__file__).resolve().parents[2] / "results"
    folders = [f for f in sorted([*root.glob("*/"), *root.glob("cards/*/")]) if (f / "manifest.json").is_file()]
    assert set(integrity.published()) == {f"cards/{f.name}" if f.parent.name == "cards" else f.name for f in folders}
    for folder in folders:
        manifest, _ = load_results(folder)
        assert integrity.check_seal(folder, manifest) == "published", folder.name


def test_a_run_refused_before_its_first_chunk_leaves_no_folder(tmp_path):
    with pytest.raises(SemError, match="unknown saliency protocol 'bad'"):
        run_experiment("saliency-region", tmp_path / "new", n=2, protocol="bad")
    assert not (tmp_path / "new").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(SemError):
        run_experiment("saliency-region", tmp_path / "mine", n=2, protocol="bad")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"      # a folder that was there stays as it was


def test_the_report_of_the_committed_results_is_docs_results_md_byte_for_byte(tmp_path):
    """Issue 28: `python -m sem_core report --results results --out "$D/R.md"` into a fresh folder gives
    docs/RESULTS.md exactly (the report reads only the sealed folders; a stale run says so in it)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "fresh" / "R.md"
    done = subprocess.run([sys.executable, "-m", "sem_core", "report", "--results", "results", "--out", str(out)],
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.read_bytes() == (root / "docs" / "RESULTS.md").read_bytes()


#: committed runs that today's code would compute otherwise, each waiting for a rerun (issue 28: hours of compute);
#: the report marks them stale. A run that leaves this list must be valid; one that joins it needs a reason here.
AWAITING_RERUN = {
    "senn-lambda-authors": "trains 15 SENNs for 5 h; computed before the fingerprints (chunk format 2)",
}


def test_every_committed_run_is_what_the_committed_code_computes():
    """Issue 28, point 8: each manifest in results/ has today's code digest or today's behavioural fingerprint,
    except the named runs awaiting a rerun (the report calls them stale)."""
    from sem_core.experiments.runner import valid_for_code

    root = Path(__file__).resolve().parents[2] / "results"
    stale = {f.name for f in sorted(root.glob("*/")) if (f / "manifest.json").is_file()
             and not valid_for_code(json.loads((f / "manifest.json").read_text()))}
    assert stale == set(AWAITING_RERUN)


def test_lipschitz_runs_a_protocol_with_another_search_in_digit_chunks(tmp_path):
    """Issue 28, point 2: the authors' protocol with the batched search, each explainer's digits in resumable
    chunks; the chunks of one explainer are merged into one row per digit, in the digits' order."""
    from sem_core.experiments.sampling import pick_digits
    from sem_core.data import load_split

    m = run_experiment("lipschitz", tmp_path / "lip", n=3, device="cpu", protocol="authors", search="bayesopt",
                       chunk=2, calls=2, explainers=["saliency", "senn:theta_pred"])
    assert m["chunks_total"] == 4 and m["summary"]["search"] == "bayesopt"
    rows = json.loads((tmp_path / "lip" / "results.json").read_text())["rows"]
    want = pick_digits(load_split("test", "subset")[1], 3, 0).tolist()
    for e in ("saliency", "senn:theta_pred"):
        mine = [r for r in rows if r["explainer"] == e]
        assert [r["idx"] for r in mine] == want and all(r["search"] == "bayesopt" for r in mine)
    assert set(m["summary"]["elasticity"]) == {"saliency", "senn:theta_pred"}
    with pytest.raises(SemError, match="parameter search"):
        run_experiment("lipschitz", tmp_path / "bad", n=1, device="cpu", search="annealing")
    with pytest.raises(SemError, match="parameter chunk"):
        run_experiment("lipschitz", tmp_path / "bad2", n=1, device="cpu", chunk=0)


def test_null_is_a_value_where_the_experiment_says_so():
    """senn-lambda's train_limit: null trains on every digit; before, a given null fell back to the default 1,000
    (the report's rerun command `--param train_limit=null` did not reproduce its run)."""
    from sem_core.experiments import EXPERIMENTS
    from sem_core.experiments.runner import full_params

    lam = EXPERIMENTS.get("senn-lambda")()
    assert full_params(lam, "senn-lambda", 4, 0, {"train_limit": None})["train_limit"] is None
    assert full_params(lam, "senn-lambda", 4, 0, {})["train_limit"] == lam.defaults["train_limit"]
    assert full_params(lam, "senn-lambda", 4, 0, {"epochs": None})["epochs"] == lam.defaults["epochs"]
    with pytest.raises(SemError, match="train_limit"):
        full_params(lam, "senn-lambda", 4, 0, {"train_limit": "all"})
