"""Every benchmark still runs: each ``benchmarks/bench_*.py`` in a subprocess with ``--quick`` (the same code path at
tiny sizes), exit status 0 and the output it exists for (its table's rows, numbers > 0, no errors). The other
modules there are helpers, each imported by a benchmark. No timing thresholds: timing lives in the benchmarks and
their results in docs/benchmarks.md.

The browser benchmarks print "skipped: <why>" and exit 0 without Chromium or playwright (the test then skips),
unless SEM_REQUIRE_BROWSER=1, which makes them fail.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCH.glob("bench_*.py"))
HELPERS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("bench_"))
NUMBER = r"[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?"

pytestmark = pytest.mark.slow


def run_quick(script: str) -> str:
    """stdout of ``python benchmarks/<script> --quick`` run from the repository's root; skips on "skipped: …"."""
    res = subprocess.run([sys.executable, f"benchmarks/{script}", "--quick"], cwd=ROOT, capture_output=True,
                         text=True, timeout=900)
    assert res.returncode == 0, f"{script} --quick exited {res.returncode}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    if res.stdout.startswith("skipped:"):
        pytest.skip(f"{script}: {res.stdout.strip()}")
    return res.stdout


def numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(NUMBER, text)]


def line_of(out: str, start: str) -> str:
    found = [line for line in out.splitlines() if line.startswith(start)]
    assert found, f"no line starting {start!r} in:\n{out}"
    return found[0]


def check_attacks(out: str) -> None:
    for attack in ("senn_concept", "protodl_prototype", "saliency_topk"):
        cells = numbers(line_of(out, attack + " "))
        # step/floor (B = 100, B = 1), batched ×, floor ×, step ms, floor ms, ms/digit batched, one by one; a step is
        # (n steps − 0 steps) / n, which at these tiny sizes can come out as 0 on a busy machine, never below
        assert len(cells) == 8 and all(v >= 0 for v in cells), f"{attack}: {cells}"
        assert all(v > 0 for v in cells[2:4] + cells[5:]), f"{attack}: {cells}"
    ig = numbers(line_of(out, "explain_ig "))
    assert len(ig) == 3 and all(v > 0 for v in ig), ig   # batched ×, ms/digit batched, ms/digit one by one
    app = re.search(r"^.* ms \(app\) \|.*$", out, re.M)   # the gil table's row at the app's switch interval
    assert app, out
    interval, *seconds = numbers(app.group(0))
    assert interval > 0 and len(seconds) == 3 and all(s > 0 for s in seconds), seconds


def check_estimates(out: str) -> None:
    assert re.search(r"^probe: .* error None;", out, re.M), out   # the calibration probe ran without error
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| ") and "job" not in line]
    assert len(rows) == 9, out
    assert sum("lipschitz" in r[0] for r in rows) == 3 and sum("influence" in r[0] for r in rows) == 2, rows
    assert all(float(r[3]) > 0 for r in rows), rows   # actual seconds
    assert "(+ setup)" in rows[-2][0] and "(+ setup)" not in rows[-1][0], rows   # the training gradients, once
    assert all(float(r[1]) > 0 for r in rows[-1:]), rows   # the second influence run has an estimate


def check_influence(out: str) -> None:
    r = json.loads(out.strip().splitlines()[-1])
    assert r["n"] == 2 and r["params"] > 0 and r["train_digits"] > 0 and r["cg_iterations"] > 0, r
    for key in ("cache_seconds", "cg_seconds_per_digit", "explicit_hessian_build_seconds",
                "cholesky_solve_seconds_per_digit", "influence_sign_seconds_per_digit",
                "influence_random_seconds_per_digit"):
        assert r[key] > 0, (key, r)
    assert r["max_relative_difference"] < 1e-2, r   # CG and the explicit inverse agree


def check_lipschitz_cost(out: str) -> None:
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert {r["model"] for r in rows} == {"cnn", "senn"}, rows
    timed = [r for r in rows if "skipped" not in r]
    assert {"saliency", "ig", "lime"} <= {r["explainer"] for r in timed if r["model"] == "cnn"}, rows
    assert "self" in {r["explainer"] for r in timed if r["model"] == "senn"}, rows
    assert all(r["n"] == 1 and r["budget"] == 2 and r["seconds_per_call"] > 0 for r in timed), timed
    assert "wrote" not in out   # --quick never writes the shipped cost table


def check_latency(out: str) -> None:
    start = numbers(line_of(out, "1 "))             # table 0: health, title, idle, click → result, click → idle
    assert len(start) == 6 and 0 < start[1] < start[2] < start[3] and start[4] > 0, start
    assert "errors: 0" in out.split("CPU seconds")[0], out
    assert "errors: 0" in out and "tracebacks in the server log: 0" in out, out
    cold, warm = re.findall(rf"{NUMBER} \({NUMBER}\)", line_of(out, "concept "))
    assert all(v > 0 for v in numbers(cold) + numbers(warm)), (cold, warm)
    assert line_of(out, "concept ").endswith("True"), out   # the warm session's result came from the cache
    for session in ("concept session 1 (computed)", "concept session 2 (cached)"):
        cpu = numbers(line_of(out, session).partition(":")[2])
        assert len(cpu) == 6 and cpu[0] > 0 and cpu[4] > 0, (session, cpu)   # renderer opening, wall to result


def check_load(out: str) -> None:
    assert "errors: 0" in out and "tracebacks in the server log: 0" in out, out
    assert "warm-up session: ok" in out and "every session got its own digit's result: True (2/2)" in out, out
    p50, p95, top = map(float, re.search(rf"p50 ({NUMBER})  p95 ({NUMBER})  max ({NUMBER})", out).groups())
    assert 0 < p50 <= p95 <= top, (p50, p95, top)
    assert re.search(rf"app server {NUMBER}", line_of(out, "CPU seconds while the sessions ran")), out
    assert re.search(r"server memory \(RSS\): start [1-9][0-9]* MB", out), out


def check_experiment_defaults(out: str) -> None:
    row = line_of(out, "| faithfulness |")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "2" and float(cells[2]) > 0 and cells[3] == "yes", row   # n, seconds, within 300 s
    assert "wrote" not in out                                                     # --quick never writes the table


def check_sanity_quantus(out: str) -> None:
    assert "all within tolerance" in out, out
    for e in ("saliency", "gradxinput"):
        block = out.split(f"\n{e}: ", 1)[1]
        ours, same = (numbers(line_of(block, start)[len(start):])
                      for start in ("  ours (seed 0) ", "  quantus, our weights "))
        assert len(ours) == 4 and all(-1 <= v <= 1 for v in ours), (e, ours)   # a median Spearman per layer
        assert max(abs(a - b) for a, b in zip(ours, same)) <= 1e-4, (e, ours, same)   # same weights, same numbers


CHECKS = {"bench_attacks.py": check_attacks, "bench_experiment_defaults.py": check_experiment_defaults, "bench_estimates.py": check_estimates,
          "bench_influence.py": check_influence, "bench_lipschitz_cost.py": check_lipschitz_cost,
          "bench_latency.py": check_latency, "bench_load.py": check_load,
          "bench_sanity_quantus.py": check_sanity_quantus}


def test_at_most_nine_scripts():
    # 9 since bench_sanity_quantus.py: a check against an optional oracle (Quantus), which no timing script measures
    files = sorted(p.name for p in BENCH.glob("*.py"))
    assert len(files) <= 9, (f"{len(files)} scripts in benchmarks/ (at most 9: merge the ones that measure the same): "
                             f"{files}")


@pytest.mark.parametrize("helper", HELPERS)
def test_helper_is_used(helper: str):
    module = helper.removesuffix(".py")
    users = [s for s in SCRIPTS if re.search(rf"^\s*(from|import) {module}\b", (BENCH / s).read_text(), re.M)]
    assert users, f"benchmarks/{helper} is not a bench_*.py script and no benchmark imports it"


@pytest.mark.parametrize("script", SCRIPTS)
def test_quick_run(script: str):
    assert script in CHECKS, f"add a check of benchmarks/{script}'s --quick output to CHECKS"
    CHECKS[script](run_quick(script))
