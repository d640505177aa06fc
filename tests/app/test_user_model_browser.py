"""A researcher's quick start end to end (slow): docs/examples/quickstart.py trains a CNN with functional ReLUs,
explains and attacks it and saves it through its plug-in; then the CLI attacks it, estimates its Lipschitz constant
and runs an experiment on it; then the app, served with SEM_MODELS_DIR and SEM_PLUGINS, opens it on the Saliency
page in real Chromium and runs the attack (screenshot in test-artifacts/screenshots/user-model-saliency.png)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from browser_helpers import (ARTIFACTS, ROOT, SCREENSHOTS, StreamlitServer, alert_texts, click_and_wait, discover_pages,
                             find_chromium, full_page_screenshot, wait_idle)

PLUGIN = "docs/examples/my_cnn.py"
pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(find_chromium() is None and os.environ.get("SEM_REQUIRE_BROWSER") != "1",
                                 reason="browser test skipped: Chromium not found")]


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600)


def _cli_json(*argv: str) -> dict:
    res = _run("-m", "sem_core", *argv, "--plugin", PLUGIN, "--json", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_the_quickstart_then_the_cli_then_the_app_on_the_researchers_model(tmp_path, browser):
    runs = tmp_path / "runs"
    res = _run("docs/examples/quickstart.py", str(runs))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert sum(1 for line in lines if line.startswith("explainer ")) == len(__import__("sem_core").list_explainers())
    assert any(line.startswith("explainer deeplift: refused: DeepLIFT cannot see") for line in lines)
    assert any(line.startswith("attack saliency_topk: ok") for line in lines)
    card = runs / "my_cnn.json"
    assert card.exists() and json.loads(card.read_text())["architecture"] == "my_cnn:MyCNN"

    out = _cli_json("attack", "saliency", "--model", str(card), "--n", "4", "--steps", "10")
    assert out["outcome"] == "ok" and out["provenance"]["model_sha256"] == json.loads(card.read_text())["sha256"]
    out = _cli_json("lipschitz", "--model", str(card), "--n", "2", "--budget", "6")
    assert len(out["values"]) == 2
    out = _cli_json("experiment", "saliency-fragility", "--model", str(card), "--n", "2", "--param", "steps=2",
                    "--param", 'methods=["saliency"]', "--param", 'kinds=["topk"]', "--param", "eps_values=[0.1]",
                    "--out", str(tmp_path / "exp"))
    assert out["params"]["model"] == str(card)

    server = StreamlitServer(env={"SEM_MODELS_DIR": str(runs), "SEM_PLUGINS": PLUGIN,
                                  "SEM_CACHE_DIR": str(tmp_path / "cache")}).start()
    try:
        path = next(p.url_path for p in discover_pages() if p.script.endswith("saliency_attack.py"))
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(f"{server.url}/{path}?sal_model=my_cnn", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stAppViewContainer"]', state="attached")
        wait_idle(page, 120.0)
        click_and_wait(page, page.get_by_role("button", name="Run saliency attack"), 180.0)
        time.sleep(1.0)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        full_page_screenshot(page, SCREENSHOTS / "user-model-saliency.png")
        assert page.locator('[data-testid="stException"]').count() == 0
        assert not alert_texts(page, "Error"), alert_texts(page, "Error")
        assert page.get_by_text("(my_cnn)").count() >= 1      # the header names the researcher's model
        page.context.close()
    finally:
        server.stop()
    assert ARTIFACTS.exists()
