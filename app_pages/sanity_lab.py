"""Sanity checks: do the explanations change when the model is randomised? (Adebayo et al. 2018)."""
import json

import streamlit as st

from app_pages.ui.downloads import downloads, provenance_json
from app_pages.ui.figures import chart
from app_pages.ui.jobs import run_job, timing_caption
from app_pages.ui.layout import details, presenting, sidebar, user_errors
from app_pages.ui.pickers import model_help, test_split_for
from app_pages.ui.settings import setting_control
from app_pages.ui.state import keep_result, link_wants_result, stale_notice, url_choice
from sem_core import list_shipped
from sem_core.experiments.sampling import pick_digits
from sem_core.serve.views import SANITY, sanity_job
from sem_core.viz.sanity import (MEASURE_LABELS, PASS_BELOW, explainer_options, explanation_label, maps_figure, similarity_figure,
                                 verdict_lines)

sidebar()
st.title("Sanity checks")
st.markdown("An explanation should explain the **model**. Here the model's layers are replaced by random ones, one "
            "after another from the output down: a good explanation falls apart, one that still looks the same "
            "was only showing the digit.")
with details():
    st.markdown("Adebayo et al. (2018), *Sanity checks for saliency maps*. **Cascading**: randomise the layers "
                "from the output to the input, keeping the earlier ones random, until the network is entirely "
                "random. **Independent**: randomise one layer at a time of the trained model. **Labels**: compare "
                "with the same CNN trained on shuffled labels (it learnt nothing about digits). At each step the "
                "explanation of the same digit, for the same class, is compared with the trained model's:")
    st.latex(r"\rho_s\big(|E_{\text{trained}}(x)|,\ |E_{\text{random}}(x)|\big)\ \text{(Spearman)},\quad "
             r"\mathrm{SSIM}\big(|E_{\text{trained}}(x)|,\ |E_{\text{random}}(x)|\big)")
    st.markdown("Layers are re-initialised with PyTorch's default initialisation, seeded. A method passes when the "
                f"median Spearman correlation falls below {PASS_BELOW:g} (a rule of thumb; the paper judges by the "
                "trend).")

with user_errors():
    c1, c2 = st.columns([1, 3])
    name = url_choice("Model", "san_model", list_shipped(), SANITY.picks["model"], container=c1,
                      help=model_help(list_shipped()))
    names = c2.multiselect("Explainers", explainer_options(), default=list(SANITY.picks["explainers"]), key="san_expl",
                           format_func=explanation_label)
    row = st.columns(2)
    mode = setting_control(SANITY.settings["mode"], "san_mode", row[0])
    n = setting_control(SANITY.own["n"], "san_n", row[1])
    x_all, y_all, source = test_split_for(name)
    idx = pick_digits(y_all, n)  # the app's draw (its default seed), as the Lipschitz page's
    params = dict(model=name, explainers=list(names), mode=mode, n=n)
    if (st.button("Run sanity check", type="primary", disabled=not names)
            or link_wants_result("san", params, bool(names))) and names:
        result, times = run_job(sanity_job(name, x_all[idx], names, mode=mode), "Randomising layers…")
        keep_result("san", params, result=result, idx=idx, model=name, times=times)

out = st.session_state.get("san_result", {})
if not out.get("result"):
    st.info("Choose explainers and press **Run sanity check**.")
    st.stop()
res, idx = out["result"], out["idx"]
st.header(f"{out['model']}: {len(idx)} test digits, {res.mode} randomisation")
stale_notice("san")
for e, msg in res.skipped.items():
    st.error(f"{explanation_label(e)} was skipped: {msg}")
for passes, sentence in verdict_lines(res):
    (st.success if passes else st.warning)(sentence)
st.caption(timing_caption(out["times"]) + (f"; not randomised (the output does not depend on them): "
                                           f"{', '.join(res.unused_layers)}" if res.unused_layers else ""))

st.subheader("The maps, step by step")
c1, c2 = st.columns([1, 3])
digit = c1.selectbox("Digit", range(len(idx)), key="san_digit",
                     format_func=lambda j: f"#{int(idx[j])} (explaining class {int(res.y[j])})")
step = c2.select_slider("Randomised layer", options=range(1, len(res.steps)), value=len(res.steps) - 1,
                        key="san_step", format_func=lambda s: res.steps[s])
chart(maps_figure(res, digit, step), "san_maps", "sanity-maps", image=True)

st.subheader("Similarity to the trained model, per layer")
measure = st.radio("Measure", list(MEASURE_LABELS), horizontal=True, key="san_measure",
                   format_func=lambda m: MEASURE_LABELS[m])
chart(similarity_figure(res, measure), "san_lines", "sanity-similarity")
if not presenting():
    summary = provenance_json(res.to_dict(), out["model"], idx.tolist(), "sanity", {"mode": res.mode,
                                                                                    "explainers": list(res.explainers)})
    downloads({"similarities (JSON)": ("sanity.json", summary, "application/json"),
               "medians (JSON)": ("sanity-medians.json", json.dumps(res.to_dict()["medians"]).encode(),
                                  "application/json")}, key="san")
