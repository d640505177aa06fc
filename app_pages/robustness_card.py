"""Robustness card: how robust are this model's explanations, in one page (issue 31)."""
from pathlib import Path

import streamlit as st

import sem_core
from app_pages.ui.figures import chart
from app_pages.ui.jobs import estimate_caption
from app_pages.ui.layout import more_settings, presenting, sidebar, user_errors
from app_pages.ui.pickers import model_help
from app_pages.ui.settings import setting_control
from app_pages.ui.state import url_choice
from app_pages.ui.userdata import SHIPPED_RESULTS, results_dir
from sem_core.errors import SemError
from sem_core.experiments.card import read_card
from sem_core.experiments.launch import digits_param, run_in_folder
from sem_core.serve.estimates import experiment_job, get_estimator
from sem_core.viz.card import card_html, card_json, card_markdown, card_rows
from sem_core.viz.experiments import readable, sanitized
from sem_core.viz.sanity import with_explainer_labels
from sem_core.viz.text import escape_markdown

ROOT = results_dir() / "cards"          # your cards: a per-user folder, never the repository
SHIPPED = SHIPPED_RESULTS / "cards"     # the leaderboard's cards, n = 100, shipped with the app
VERDICT_TEXT = {"reproduced": "❌ Fragile: the papers' findings hold for this model",
                "partly": "🟡 Partly fragile: some of the papers' findings hold for this model",
                "not": "✅ Robust here: none of the papers' findings hold for this model"}

sidebar()
st.title("Robustness card")
st.markdown("How robust are this model's explanations? The card runs every attack the model allows — on its "
            "concepts, its prototypes, its saliency maps — against a random control of the same size, plus the local "
            "Lipschitz estimate, and gives each number with its 95 % interval.")

names = sem_core.list_shipped()
model = url_choice("Model", "card_model", names, "cnn" if "cnn" in names else names[0], help=model_help(names))
shipped = SHIPPED / model
with more_settings():
    n = setting_control(digits_param("card"), "card_n", st)
get_estimator().record_saved([p.parent for p in SHIPPED.glob("*/manifest.json")])
eta = estimate_caption(experiment_job("card", n))
if "card_took" in st.session_state:
    st.caption(st.session_state["card_took"])

folder = None
if st.session_state.pop("card_running", False):   # the last run was interrupted (Cancel, or the tab's Stop)
    st.info("Cancelled. The parts already computed are kept: Make the card goes on from them.")
if st.button("Make the card", type="primary", key="card_run"):
    bar = st.progress(0.0, text="starting…")
    st.button("Cancel", key="card_cancel", help="stops after the part being computed; nothing computed is lost")
    st.session_state["card_running"] = True       # a click on Cancel reruns the page, which stops this run
    with user_errors():
        try:
            run = run_in_folder("card", ROOT, int(n), model=model,
                                on_step=lambda done, total: bar.progress(done / total, text=f"part {done} of {total}"))
        except SemError:     # a clear error, not a cancel
            st.session_state.pop("card_running", None)
            raise
        finally:
            bar.empty()
        st.session_state.pop("card_running", None)
        if run.fresh:
            get_estimator().record(experiment_job("card", n), run.seconds)
        took = "shown from your earlier card" if run.reused else eta.took(run.seconds).lower()
        st.session_state["card_took"] = f"{model} on {n} digit{'s' if n != 1 else ''}: {took}"
        st.session_state["card_folder"] = str(run.folder)
        st.rerun()
kept = st.session_state.get("card_folder")
if kept and Path(kept).name.startswith(f"card-{model}-"):
    folder = Path(kept)
elif (shipped / "manifest.json").is_file():
    folder = shipped
    st.info(f"Showing the card shipped with the app ({escape_markdown(model)}, 100 digits). Make the card to compute "
            "one on the number of digits you choose.")
else:
    st.info("No card yet for this model: press **Make the card**.")

if folder is not None:
    with user_errors():   # only a verified folder is shown (an edited or foreign one is refused)
        doc, figures = read_card(folder)
        v = doc["verdict"]
        st.subheader(VERDICT_TEXT.get(v["value"], v["value"]))
        for family, f in v["findings"].items():
            icon = "⚠️" if f["holds"] else "✔️"
            shown = with_explainer_labels(family)
            st.markdown(f"{icon} **{escape_markdown(shown[:1].upper() + shown[1:])}**: the attack "
                        f"{'beats' if f['holds'] else 'does not beat'} its random control — "
                        f"{escape_markdown(f['why'], limit=400)}")
        m = doc["model"]
        c1, c2, c3 = st.columns(3)
        c1.metric("Accuracy", f"{m['accuracy']:.1%}", help=f"on the {m['accuracy_digits']:,} test digits of "
                                                          f"{m['data_source']}")
        c2.metric("Digits attacked", doc["run"]["n"])
        c3.metric("Compute", f"{doc['run']['seconds']:.0f} s")
        st.table({"Part": [with_explainer_labels(a) for a, _, _ in card_rows(doc)],   # every row, the text wrapped
                  "Measure": [b for _, b, _ in card_rows(doc)],
                  "Value [95 % interval]": [c for _, _, c in card_rows(doc)]}, hide_index=True, border="horizontal")
        for title, key in (("Not applicable to this model", "not_applicable"), ("Could not run", "failed")):
            for part, why in doc[key].items():
                (st.caption if key == "not_applicable" else st.warning)(
                    f"{title}: {escape_markdown(part)} — {escape_markdown(why, limit=300)}")
        for name, fig in figures.items():
            fig = readable(sanitized(fig)).for_each_trace(lambda t: t.update(name=with_explainer_labels(t.name or "")))
            chart(fig, f"card_{folder.name}_{name}", f"card-{model}-{name}")
        stem = f"robustness-card-{model}-n{doc['run']['n']}"
        c1, c2, c3 = st.columns(3)
        c1.download_button("Download card.json", card_json(doc), f"{stem}.json", "application/json")
        c2.download_button("Download card.md", card_markdown(doc), f"{stem}.md", "text/markdown")
        c3.download_button("Download card.html", card_html(doc, figures), f"{stem}.html", "text/html")
        if not presenting():
            with st.expander("Reproduce this card"):
                st.code(doc["run"]["command"], language="bash")
