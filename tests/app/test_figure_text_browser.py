"""Figure text readable from the back row (issue 29, point 1), measured in real Chromium: every page is opened with
its result on screen, and the text of every figure must be at least ``MIN_PX`` CSS pixels high at 1280 and 1920 px
wide, and at least ``MIN_PX_PRESENTING`` in presenter mode (the sidebar's toggle) at both widths.

How a text's height on screen is measured ("height": its font size as drawn, the em box a typographer means by
"14 px text"; a line's bounding box is ≈ 1.2 × that):

- plotly charts (SVG in the page): every non-empty, visible ``svg text`` inside ``.js-plotly-plot``: its computed
  ``font-size`` times the scale of the SVG it sits in (``getScreenCTM``; 1 for plotly, which draws at CSS pixels).
- SVG pictures (``st.image`` of an SVG string, an ``<img>``): the SVG's source is fetched, laid out hidden in the page
  to read each ``<text>``'s computed font size (in its viewBox units), and scaled by the picture's size on screen:
  rendered width / viewBox width.
- PNG pictures (``st.image`` of pixels): Pillow draws the titles into the pixels, so the builder records the font
  size it drew with in the PNG (a ``tEXt`` chunk ``text_px``: ``sem_core.viz.static.TextPixels``, written by
  ``app_pages.ui.figures.png_data_url``); the test reads it from the picture's bytes and scales it by rendered
  width / natural width. A PNG without that chunk has no text (digits, maps, the grounding grid).

Each page is loaded once (a URL that names its result, served by the result cache that ``python -m sem_core
precompute`` fills, or its Run button on the smallest settings); its figures are measured at 1280 px, then at
1920 px (the same page resized), then the presenter toggle is switched on and both widths are measured again. The
smallest sizes per page land in test-artifacts/figure-text.json. About 3–5 minutes on 2 busy cores: marked slow.
"""
from __future__ import annotations

import json

import pytest

from browser_helpers import ARTIFACTS, browser_marks, click_and_wait, first_run_button, started_server, wait_idle

pytestmark = [*browser_marks(), pytest.mark.slow]

MIN_PX, MIN_PX_PRESENTING = 14.0, 20.0
WIDTHS = (1280, 1920)
# page (the file's stem) -> (its path and query: the result named where the page can name one; how to get a result
# when the page shows none after loading: "run" = its first Run button, "tour" = the tour's four step buttons,
# "chart" = the home page's chart toggle)
PAGES = {
    "home": ("", "chart"),                        # its chart is drawn on demand (a toggle)
    "tour": ("tour", "tour"),
    "quiz": ("quiz", None),                       # figures only inside a running quiz room (tests/app/test_quiz_*)
    "concept_attack": ("concept?result=concept", None),
    "prototype_attack": ("prototype?result=proto", None),
    "saliency_attack": ("saliency?result=sal", None),
    "batch_attack": ("batch?b_n=4", "run"),
    "influence_attack": ("influence?result=inf", "run"),
    "defense_comparison": ("defenses", "run"),
    "lipschitz_stability": ("lipschitz?result=lip", "run"),
    "experiment_results": ("experiments", None),  # shipped runs: never start an experiment here
    "robustness_card": ("card", None),
    "leaderboard": ("leaderboard", None),
    "sanity_lab": ("sanity?result=san", "run"),
}
NO_FIGURES = {"quiz", "leaderboard"}  # pages that show no figure without a room or a click

MEASURE_JS = r"""async () => {
  const out = [];
  const main = document.querySelector('[data-testid="stMain"]');
  const shown = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  main.querySelectorAll('.js-plotly-plot').forEach((plot, i) => {
    plot.querySelectorAll('svg text').forEach(t => {
      const text = t.textContent.trim();
      if (!text || !shown(t) || getComputedStyle(t).visibility === 'hidden' || +getComputedStyle(t).opacity === 0) return;
      const m = t.getScreenCTM();
      const scale = m ? Math.hypot(m.a, m.b) : 1;
      out.push({figure: 'plotly ' + i, text, px: parseFloat(getComputedStyle(t).fontSize) * scale});
    });
  });
  const imgs = [...main.querySelectorAll('[data-testid="stImage"] img')].filter(shown);
  for (const [i, img] of imgs.entries()) {
    const src = img.currentSrc || img.src;
    const width = img.getBoundingClientRect().width;
    const res = await fetch(src);
    if ((res.headers.get('content-type') || '').includes('svg') || src.startsWith('data:image/svg')) {
      const holder = document.createElement('div');
      holder.style.cssText = 'position:absolute; left:-99999px; top:0; width:1000px; visibility:hidden';
      holder.innerHTML = await res.text();
      document.body.appendChild(holder);
      const svg = holder.querySelector('svg');
      const box = svg.viewBox && svg.viewBox.baseVal && svg.viewBox.baseVal.width ? svg.viewBox.baseVal.width
                                                                                   : svg.getBoundingClientRect().width;
      svg.querySelectorAll('text').forEach(t => {
        const text = t.textContent.trim();
        if (text) out.push({figure: 'svg ' + i, text, px: parseFloat(getComputedStyle(t).fontSize) * width / box});
      });
      holder.remove();
    } else {                                       // PNG: the font size the builder recorded (tEXt "text_px")
      const bytes = new Uint8Array(await res.arrayBuffer());
      const view = new DataView(bytes.buffer);
      for (let p = 8; p + 8 <= bytes.length;) {
        const len = view.getUint32(p), type = String.fromCharCode(...bytes.slice(p + 4, p + 8));
        if (type === 'tEXt') {
          const body = new TextDecoder('latin1').decode(bytes.slice(p + 8, p + 8 + len)).split('\0');
          if (body[0] === 'text_px')
            out.push({figure: 'png ' + i, text: '(text drawn into the picture)',
                      px: parseFloat(body[1]) * width / img.naturalWidth});
        }
        if (type === 'IEND') break;
        p += 12 + len;
      }
    }
  }
  return {texts: out, figures: main.querySelectorAll('.js-plotly-plot').length + imgs.length};
}"""
REPORT: dict[str, dict] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # its own empty folder for runs made in the app: the Experiments page then shows the shipped runs (a run left in
    # test-artifacts by an earlier pytest process is signed with that process's secret and shown as an error first)
    srv = started_server(results_dir=tmp_path_factory.mktemp("figure-text-results"))
    yield srv
    srv.stop()


def measure(page, width: int) -> dict:
    """The page's figure texts at ``width`` px: the smallest, and every one under the limit of the mode."""
    page.set_viewport_size({"width": width, "height": 1000})
    page.wait_for_timeout(1500)                      # columns reflow, plotly re-lays its charts out
    wait_idle(page, 60, settle=0.5)
    got = page.evaluate(MEASURE_JS)
    texts = got["texts"]
    smallest = min(texts, key=lambda t: t["px"]) if texts else None
    return {"figures": got["figures"], "texts": len(texts), "smallest_px": round(smallest["px"], 1) if smallest else None,
            "smallest": smallest and f'{smallest["figure"]}: {smallest["text"][:40]!r}', "all": texts}


def show_result(page, how: str | None) -> None:
    """Get the page's figures on screen: its Run button, or the tour's four steps."""
    if how == "tour":
        for n in range(1, 5):
            click_and_wait(page, page.locator(f'[data-testid="stMain"] .st-key-tour_run{n} button'), 240)
    elif how == "chart":
        click_and_wait(page, page.locator('[data-testid="stMain"] label', has_text="as a chart"), 120)
    elif how == "run" and not page.evaluate(MEASURE_JS)["figures"]:
        button = first_run_button(page)
        if button is not None:
            click_and_wait(page, button, 240)


@pytest.mark.parametrize("name", PAGES)
def test_figure_text_is_large_enough(server, browser, name):
    path, how = PAGES[name]
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(f"{server.url}/{path}", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stAppViewContainer"]', state="attached")
        wait_idle(page, 180)
        show_result(page, how)
        runs = {f"{w}": measure(page, w) for w in WIDTHS}
        page.set_viewport_size({"width": WIDTHS[0], "height": 1000})
        click_and_wait(page, page.locator('[data-testid="stSidebar"] label', has_text="Presenter mode"), 120)
        runs.update({f"{w} presenting": measure(page, w) for w in WIDTHS})
        assert not page.locator('[data-testid="stException"]').count()
    finally:
        context.close()
    REPORT[name] = {k: {f: v[f] for f in ("figures", "texts", "smallest_px", "smallest")} for k, v in runs.items()}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "figure-text.json").write_text(json.dumps(REPORT, indent=1, ensure_ascii=False) + "\n")
    if name not in NO_FIGURES:
        assert all(r["texts"] for r in runs.values()), f"{name}: no figure text measured: {REPORT[name]}"
    small = {k: sorted({f'{t["figure"]}: {t["text"][:30]!r} {t["px"]:.1f} px' for t in r["all"]
                        if t["px"] < (MIN_PX_PRESENTING if "presenting" in k else MIN_PX)})
             for k, r in runs.items()}
    assert not any(small.values()), f"{name}: figure text under the limit: " + json.dumps(
        {k: v[:12] for k, v in small.items() if v}, indent=1, ensure_ascii=False)
