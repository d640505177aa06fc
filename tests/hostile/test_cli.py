"""Hostile command lines: every bad argument is refused before any data or model is loaded, with exit 2
and one `error: ...` line (never a traceback); Ctrl-C exits 130 in one line; NaN never reaches JSON.

Each case is argv + expected exit code + a substring of the message. `{tmp}` is a fresh folder holding a
file `file.txt` and a folder `d.npz`. Everything runs `main(argv)` in-process, with the loaders replaced
by a tripwire, so a case that gets past validation fails loudly instead of running an attack.
"""
import json
import math
from pathlib import Path

import pytest
import torch

from sem_core.cli import main as cli

CASES = [
    # (id, argv, exit code, substring of the message)
    ("no-command", [], 2, "required: command"),
    ("unknown-command", ["explode"], 2, "invalid choice: 'explode'"),
    ("attack-no-kind", ["attack"], 2, "required: KIND"),
    ("unknown-option", ["eval", "--model", "cnn", "--frobnicate"], 2, "unrecognized arguments"),
    ("device-nonsense", ["eval", "--model", "cnn", "--device", "quantum"], 2, "unknown device 'quantum'"),
    # --seed (every command)
    ("seed-2**70", ["eval", "--model", "cnn", "--seed", str(2**70)], 2, "--seed: must be an integer in 0..4294967295"),
    ("seed-negative", ["attack", "senn", "--seed", "-1"], 2, "--seed: must be an integer"),
    ("seed-text", ["lipschitz", "--seed", "abc"], 2, "--seed: must be an integer"),
    ("seed-huge-digits", ["eval", "--model", "cnn", "--seed", "9" * 5000], 2, "--seed: must be an integer"),
    # attack senn
    ("senn-targets-0", ["attack", "senn", "--targets", "0"], 2, "--targets: must be an integer in 1..1000"),
    ("senn-n-0", ["attack", "senn", "--n", "0"], 2, "--n: must be an integer in 1..10000"),
    ("senn-n-float", ["attack", "senn", "--n", "1.5"], 2, "--n: must be an integer"),
    ("senn-n-exponent", ["attack", "senn", "--n", "1e3"], 2, "--n: must be an integer"),
    ("senn-steps-huge", ["attack", "senn", "--steps", "10001"], 2, "--steps: must be an integer in 0..10000"),
    ("senn-steps-negative", ["attack", "senn", "--steps", "-1"], 2, "--steps: must be an integer in 0..10000"),
    ("senn-eps-0", ["attack", "senn", "--eps", "0"], 2, "--eps: must be a finite number in (0, 1]"),
    ("senn-eps-big", ["attack", "senn", "--eps", "1.5"], 2, "--eps: must be a finite number in (0, 1]"),
    ("senn-eps-nan", ["attack", "senn", "--eps", "nan"], 2, "--eps: must be a finite number"),
    ("senn-eps-inf", ["attack", "senn", "--eps", "inf"], 2, "--eps: must be a finite number"),
    ("senn-lam-nan", ["attack", "senn", "--lam", "nan"], 2, "--lam: must be a finite number >= 0"),
    ("senn-lam-NaN", ["attack", "senn", "--lam", "NaN"], 2, "--lam: must be a finite number >= 0"),
    ("senn-lam-inf", ["attack", "senn", "--lam=-inf"], 2, "--lam: must be a finite number >= 0"),
    ("senn-lam-negative", ["attack", "senn", "--lam", "-1"], 2, "--lam: must be a finite number >= 0"),
    ("senn-too-many-pairs", ["attack", "senn", "--n", "1000", "--targets", "1000"], 2, "at most 100,000 pairs"),
    # attack protodl
    ("protodl-xi-nan", ["attack", "protodl", "--xi", "nan"], 2, "--xi: must be a finite number >= 0"),
    ("protodl-alpha-inf", ["attack", "protodl", "--alpha", "inf"], 2, "--alpha: must be a finite number >= 0"),
    ("protodl-lam-nan", ["attack", "protodl", "--lam", "nan"], 2, "--lam: must be a finite number >= 0"),
    ("protodl-n-0", ["attack", "protodl", "--n", "0"], 2, "--n: must be an integer in 1..10000"),
    # attack saliency
    ("saliency-beta-0", ["attack", "saliency", "--beta", "0"], 2, "--beta: must be a finite number in (0, 1e+06]"),
    ("saliency-beta-negative", ["attack", "saliency", "--beta", "-3"], 2, "--beta: must be a finite number"),
    ("saliency-beta-nan", ["attack", "saliency", "--beta", "nan"], 2, "--beta: must be a finite number"),
    ("saliency-k-0", ["attack", "saliency", "--k", "0"], 2, "--k: must be an integer in 1.."),
    ("saliency-region-backwards", ["attack", "saliency", "--region", "5,5,2,2"], 2, "--region must be four integers"),
    ("saliency-region-text", ["attack", "saliency", "--region", "a,b"], 2, "--region must be four integers"),
    ("saliency-kind-unknown", ["attack", "saliency", "--kind", "nope"], 2, "invalid choice: 'nope'"),
    ("saliency-method-unknown", ["attack", "saliency", "--method", "nope"], 2, "must be one of saliency, gradxinput, ig, deeplift, got 'nope'"),
    # lipschitz
    ("lipschitz-budget-1", ["lipschitz", "--budget", "1"], 2, "--budget: must be an integer in 2..100000"),
    ("param-own-n", ["experiment", "faithfulness", "--out", "{tmp}/o", "--param", "n=4"], 2, "--param n: set it with --n"),
    ("param-own-seed", ["experiment", "faithfulness", "--out", "{tmp}/o", "--param", "seed=1"], 2,
     "--param seed: set it with --seed"),
    ("param-own-executor", ["experiment", "faithfulness", "--out", "{tmp}/o", "--param", 'executor="ray"'], 2,
     "--param executor: set it with --executor"),
    ("param-deep", ["experiment", "faithfulness", "--out", "{tmp}/o", "--param", "chunk=" + "[" * 3000 + "]" * 3000],
     2, "--param chunk: nested deeper than 4 levels"),
    ("param-5000-digits", ["experiment", "faithfulness", "--out", "{tmp}/o", "--param", "chunk=" + "7" * 5000], 2,
     "must be JSON of a usable size"),
    ("param-huge", ["experiment", "faithfulness", "--out", "{tmp}/o", "--param", "chunk=" + "7" * 20_000], 2,
     "the value is 20,000 characters"),
    ("n-arabic-indic", ["attack", "saliency", "--n", "\u0662"], 2, "--n: must be an integer in 1..10000"),
    ("seed-full-width", ["attack", "saliency", "--seed", "\uff17"], 2, "--seed: must be an integer in 0..4294967295"),
    ("eps-arabic-indic", ["attack", "saliency", "--eps", "\u0660.\u0661"], 2, "--eps: must be a finite number"),
    ("lipschitz-restarts-0", ["lipschitz", "--restarts", "0"], 2, "--restarts: must be an integer in 1..1000"),
    ("lipschitz-eps-nan", ["lipschitz", "--eps", "nan"], 2, "--eps: must be a finite number"),
    ("lipschitz-n-0", ["lipschitz", "--n", "0"], 2, "--n: must be an integer in 1..10000"),
    # --save (before the attack runs: no work lost)
    ("save-no-suffix", ["attack", "senn", "--save", "{tmp}/out"], 2, "--save must name a .npz file (e.g. out.npz)"),
    ("save-other-suffix", ["attack", "protodl", "--save", "{tmp}/out.png"], 2, "--save must name a .npz file"),
    ("save-is-a-folder", ["attack", "saliency", "--save", "{tmp}/d.npz"], 2, "is a folder"),
    ("save-under-a-file", ["lipschitz", "--save", "{tmp}/file.txt/x.npz"], 2, "is a file, not a folder"),
    ("save-deep-under-a-file", ["attack", "senn", "--save", "{tmp}/file.txt/a/x.npz"], 2, "--save: cannot write in"),
    # train (before training)
    ("train-epochs-0", ["train", "--model", "senn", "--epochs", "0"], 2, "--epochs: must be an integer in 1..1000"),
    ("train-epochs-negative", ["train", "--model", "senn", "--epochs", "-1"], 2, "--epochs: must be an integer"),
    ("train-concepts-0", ["train", "--model", "senn", "--concepts", "0"], 2, "--concepts: must be an integer"),
    ("train-stability-nan", ["train", "--model", "senn", "--stability", "nan"], 2, "--stability: must be a finite"),
    ("train-unknown-model", ["train", "--model", "alexnet", "--out", "{tmp}/m"], 2, "available: cnn, protodl, senn"),
    ("train-recipe-not-senn", ["train", "--model", "cnn", "--recipe", "authors", "--out", "{tmp}/m"], 2,
     "--recipe authors is a SENN recipe; got --model cnn"),
    ("train-recipe-unknown", ["train", "--model", "senn", "--recipe", "paper"], 2, "invalid choice: 'paper'"),
    ("train-data-unknown", ["train", "--model", "cnn", "--data", "imagenet"], 2, "invalid choice: 'imagenet'"),
    ("train-out-is-a-file", ["train", "--model", "cnn", "--out", "{tmp}/file.txt"], 2, "'{tmp}/file.txt' is a file"),
    ("train-out-under-a-file", ["train", "--model", "cnn", "--out", "{tmp}/file.txt/m"], 2, "--out: cannot write in"),
    ("train-name-with-folders", ["train", "--model", "cnn", "--out", "{tmp}/m", "--name", "../evil"], 2,
     "--name must be a plain file name"),
    # experiment (its --param and --out are checked by the runner) and report
    ("experiment-n-0", ["experiment", "senn-distances", "--n", "0", "--out", "{tmp}/e"], 2, "--n: must be an integer"),
    ("experiment-no-out", ["experiment", "senn-distances"], 2, "required: --out"),
    ("report-results-missing", ["report", "--results", "{tmp}/missing", "--out", "{tmp}/R.md"], 2, "folder not found"),
    ("report-out-is-a-folder", ["report", "--results", "{tmp}", "--out", "{tmp}/d.npz"], 2, "is a folder"),
]


@pytest.fixture
def tmp(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "d.npz").mkdir()
    return tmp_path


@pytest.fixture
def tripwire(monkeypatch):
    """Any data or model loading (or training, or an experiment) fails the test: the case got too far."""
    import sem_core.models.hub
    import sem_core.cli.attacks
    import sem_core.experiments
    import sem_core.models.train

    def boom(*a, **k):
        raise AssertionError("validation let this case through to the real work")

    for module, name in [(sem_core.cli.attacks, "_data_for"), (sem_core.models.hub, "load_model_with_card"),
                         (sem_core.models.train, "train_model"), (sem_core.experiments, "run_experiment"),
                         (sem_core.experiments, "write_report")]:
        monkeypatch.setattr(module, name, boom)


def _run(capsys, argv):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("case_id,argv,code,message", CASES, ids=[c[0] for c in CASES])
def test_hostile_argv_is_refused_in_one_line(capsys, tmp, tripwire, case_id, argv, code, message, as_json):
    argv = [a.replace("{tmp}", str(tmp)) for a in argv] + (["--json"] if as_json else [])
    message = message.replace("{tmp}", str(tmp))
    got, out, err = _run(capsys, argv)
    assert got == code, err
    assert "Traceback" not in err and "Traceback" not in out
    assert err.startswith("error: ") and err.count("\n") == 1, err  # exactly one line
    assert message in err
    if as_json:
        assert json.loads(out) == {"error": err.removeprefix("error: ").rstrip("\n")}
    else:
        assert out == ""


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_absent_cuda_is_refused_before_loading(capsys, tripwire):
    code, _, err = _run(capsys, ["eval", "--model", "cnn", "--device", "cuda"])
    assert code == 2 and "CUDA is not available" in err and err.count("\n") == 1


def test_nothing_is_created_by_a_refused_save(capsys, tmp, tripwire):
    _run(capsys, ["attack", "senn", "--save", str(tmp / "new" / "out")])
    assert not (tmp / "new" / "out").exists() and not (tmp / "new" / "out.npz").exists()


@pytest.mark.parametrize("argv,message", [
    (["eval", "--model", "cnn"], "interrupted"),
    (["attack", "senn", "--n", "2"], "interrupted"),
    (["experiment", "senn-distances", "--out", "somewhere"], "interrupted; rerun the same command to resume"),
])
def test_ctrl_c_exits_130_in_one_line(capsys, monkeypatch, argv, message):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, argv[0], interrupted)
    code, out, err = _run(capsys, argv)
    assert (code, out, err) == (130, "", message + "\n")


def test_ctrl_c_with_json_still_prints_one_object(capsys, monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "eval", lambda args: (_ for _ in ()).throw(KeyboardInterrupt))
    code, out, err = _run(capsys, ["eval", "--model", "cnn", "--json"])
    assert code == 130 and json.loads(out) == {"error": "interrupted"} and "Traceback" not in err


def test_os_error_mid_run_is_one_line_exit_1(capsys, monkeypatch):
    def disk_full(args):
        raise OSError(28, "No space left on device", "/results/x.npz")

    monkeypatch.setitem(cli.COMMANDS, "eval", disk_full)
    code, _, err = _run(capsys, ["eval", "--model", "cnn"])
    assert (code, err) == (1, "error: No space left on device: /results/x.npz\n")


@pytest.mark.parametrize("as_json", [False, True])
def test_nan_and_inf_never_reach_the_json(capsys, monkeypatch, as_json):
    result = {"median": math.nan, "values": [1.0, math.inf], "config": {"lam": -math.inf}, "n": 3, "ok": "yes"}
    monkeypatch.setitem(cli.COMMANDS, "eval", lambda args: result)
    code, out, err = _run(capsys, ["eval", "--model", "cnn"] + (["--json"] if as_json else []))
    assert code == 0
    assert "warning: non-finite values written as null: median, values[1], config.lam" in err
    if as_json:
        def refuse(token):
            raise AssertionError(f"bare {token} in the JSON")

        assert json.loads(out, parse_constant=refuse) == {"median": None, "values": [1.0, None],
                                                           "config": {"lam": None}, "n": 3, "ok": "yes"}
    else:
        assert "median: None" in out and "nan" not in out.lower()


@pytest.mark.parametrize("name,kwargs,message", [
    ("senn", {"lam": math.nan}, "lam must be a finite number"),
    ("protodl", {"xi": math.nan}, "xi must be a finite number"),
    ("protodl", {"alpha": math.inf}, "alpha must be a finite number"),
    ("cnn", {"beta": 0.0}, "beta must be a finite number in (0, 1e"),
    ("cnn", {"beta": math.nan}, "beta must be a finite number in (0, 1e"),
    ("cnn", {"eps": math.nan}, "eps must be a finite number in (0, 1]"),
])
def test_the_attacks_refuse_nonfinite_weights_too(shipped, name, kwargs, message):
    from sem_core.attacks import ProtoDLAttack, SennConceptAttack, TopKAttack
    from sem_core.errors import AttackError

    cls = {"senn": SennConceptAttack, "protodl": ProtoDLAttack, "cnn": TopKAttack}[name]
    with pytest.raises(AttackError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cls(shipped[name][0], **kwargs)


def test_a_closed_stdout_ends_quietly():
    """``python -m sem_core ... --json | head -c 0``: the reader goes away; no traceback, the command's own exit code."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "sem_core", "eval", "--model", "cnn", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2])
    proc.stdout.close()                       # nobody reads the JSON
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(120) == 0 and "Traceback" not in err and "BrokenPipe" not in err, err
