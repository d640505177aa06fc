"""The app's warm-up (issue 29, point 8): it imports and loads in a thread, waits for its trigger, records what
failed instead of raising, runs once; the light entry points stay light (a fresh interpreter each)."""
import subprocess
import sys
import threading
from pathlib import Path

from sem_core.serve.preload import Warmup

ROOT = Path(__file__).resolve().parents[2]


def test_a_warmup_never_started_does_not_block():
    assert Warmup().wait(timeout=0) is True


def test_it_loads_every_shipped_model_into_the_service_and_the_test_split(shipped):
    from sem_core.serve.service import get_service

    w = Warmup(modules=("json",))
    assert w.start() and not w.start()           # once
    assert w.wait(timeout=120)
    rep = w.report()
    assert rep == {**rep, "started": True, "done": True, "errors": []}
    names = [name for name, _ in rep["steps"]]
    assert names[0] == "import json" and names[-1] == "test split (subset)"
    assert {f"model {m}" for m in shipped} <= set(names)
    assert set(shipped) <= set(get_service()._models)   # what a page's get_model then finds loaded
    assert all(seconds >= 0 for _, seconds in rep["steps"])


def test_a_failing_step_is_recorded_and_the_others_still_run():
    w = Warmup(modules=("sem_core.no_such_module", "json"), models=False, data=False)
    w.start()
    assert w.wait(timeout=30)
    rep = w.report()
    assert rep["errors"] == ["import sem_core.no_such_module: ModuleNotFoundError: No module named "
                             "'sem_core.no_such_module'"]
    assert [n for n, _ in rep["steps"]] == ["import sem_core.no_such_module", "import json"]


def test_it_waits_for_its_trigger_and_gives_up_waiting_after_its_timeout():
    go = threading.Event()
    w = Warmup(modules=("json",), models=False, data=False)
    w.start(after=go.is_set, after_timeout=30)
    assert not w.wait(timeout=0.3)               # still waiting for the server
    go.set()
    assert w.wait(timeout=10)
    late = Warmup(modules=(), models=False, data=False)
    late.start(after=lambda: False, after_timeout=0.1)
    assert late.wait(timeout=10) and late.report()["steps"][0][0] == "wait for the server"


def _fresh(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=True).stdout.split()
    return set(out)


def test_import_sem_core_is_light_and_the_first_page_does_not_load_scipy_or_sklearn():
    assert not {"torch", "scipy", "sklearn"} & _fresh("import sem_core; from sem_core.serve import preload")
    home = _fresh("import sem_core.serve.service, sem_core.serve.views, sem_core.viz.attacks, sem_core.viz.digits\n"
                  "import sem_core; sem_core.list_shipped()")
    assert "torch" in home and not {"sklearn", "scipy.stats", "scipy.optimize"} & home
