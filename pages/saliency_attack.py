"""Saliency attacks (Ghorbani et al. 2019, paper 003): move a map while the prediction stays."""
import json

import streamlit as st
import torch

from pages.common import (model_help, IMAGE_CHART, digit_picker, downloads, figure_downloads, get_model, run_job,
                          sidebar, region_picker, test_split_for, timing_caption, url_choice, url_number, user_errors)
from sem_core import list_shipped, model_device
from sem_core.attacks import ATTACKS, SALIENCY_METHODS, list_attacks
from sem_core.explain import explain_all
from sem_core.digit_io import digit_to_png, npz_bytes
from sem_core.views import saliency_job
from sem_core.viz.attacks import maps_before_after, result_row
from sem_core.viz.maps import explainer_grid, images_figure, region_overlay

ATTACK_OF = {ATTACKS.get(n).label: ATTACKS.get(n) for n in list_attacks(family="saliency")}  # URL holds the label

sidebar()
st.title("Saliency attacks")
st.markdown("A feature-importance map I(x) = |m(x)| / Σ|m(x)| says which pixels mattered. Within an ε-ball around "
            "the digit, sign-gradient steps maximise a dissimilarity D between the perturbed and the natural map; "
            "the iterate kept is the most dissimilar one whose **prediction is unchanged** (paper 003, Algorithm 1).")

with user_errors():
    c1, c2, c3 = st.columns(3)
    name = url_choice("Model", "sal_model", list_shipped(), "cnn", container=c1,
                      help=model_help(list_shipped()))
    method = url_choice("Explainer", "sal_method", list(SALIENCY_METHODS), "saliency", container=c2)
    cls = ATTACK_OF[url_choice("Attack", "sal_kind", list(ATTACK_OF), "top-k", container=c3)]
    c1, c2, c3 = st.columns(3)
    eps = url_number("ε (L∞ radius, pixel units)", "sal_eps", 0.1, 0.01, 1.0, step=0.01, format="%.2f", container=c1)
    steps = url_number("Iterations", "sal_steps", 50, 1, 500, integer=True, container=c2, disabled=cls.steps_fixed)
    k = url_number("k (top-k pixels)", "sal_k", 50, 1, 784, integer=True, container=c3)
    model, card = get_model(name)
    x_all, y_all, source = test_split_for(name)
    left, right = st.columns(2)
    with left:
        x, y, caption = digit_picker("sal_digit", "Digit", 3, x_all, y_all)
    mask = torch.zeros(28, 28, dtype=torch.bool)
    if cls.targeted and x is not None:
        with right:
            mask = region_picker(x, "sal")

    if st.button("Run saliency attack", type="primary", disabled=x is None):
        res, times = run_job(saliency_job(name, cls.name, x, y, method=method, eps=eps, steps=steps, k=k,
                                          mask=mask if cls.targeted else None))
        st.session_state["sal_result"] = dict(res=res, model=name, attack=cls, method=method, k=k, mask=mask.clone(),
                                              caption=caption, grid=None, times=times)

if "sal_result" not in st.session_state:
    st.info("Pick a model, an explainer, an attack and a digit, then press **Run saliency attack**.")
    st.stop()

out = st.session_state["sal_result"]
res, cls = out["res"], out["attack"]
i0, i1 = res.explanations["natural"][0, 0], res.explanations["adversarial"][0, 0]  # the real network's maps
st.header(f"{cls.label} attack on {out['method']} ({out['model']})")
st.caption(f"ε = {res.config['eps']:g}, {res.config['steps']} iterations, k = {out['k']}; {out['caption']}; "
           f"{timing_caption(out['times'])}")
st.latex(cls.objective_tex)
st.markdown(cls.sentence)

kept = bool(res.label_kept[0])
pb, pa = int(res.pred_before[0]), int(res.pred_after[0])
m = {key: float(v[0]) for key, v in res.metrics.items()}
cols = st.columns(5 if cls.targeted else 4)
cols[0].metric("Label kept", "yes" if kept else "no", help=f"prediction {pb} → {pa}")
cols[1].metric(f"Top-{out['k']} intersection", f"{m['topk_intersection']:.2f}", help="1 = the same top-k pixels")
cols[2].metric("Spearman rank correlation", f"{m['spearman']:.2f}", help="1 = the same ranking of all pixels")
cols[3].metric("Center shift (pixels)", f"{m['center_shift']:.2f}")
if cls.targeted:
    cols[4].metric("Mass in region", f"{m['region_mass_after']:.3f}",
                   delta=f"{m['region_mass_after'] - m['region_mass_before']:+.3f}")

st.subheader("Maps before and after")
st.markdown("The real network's normalised map on the natural and on the adversarial digit; × marks the center "
            "of mass" + ("; on the right, the target region over the adversarial digit." if cls.targeted else "."))
a, b = st.columns([3, 2])
maps_fig = maps_before_after(i0, i1)
a.plotly_chart(maps_fig, key="sal_maps", config=IMAGE_CHART)
with a:
    figure_downloads(maps_fig, "saliency-maps", key="sal_maps_dl")
if cls.targeted:
    b.plotly_chart(region_overlay(res.x_adv[0, 0], out["mask"], "target region on x_adv"), key="sal_overlay",
                   config=IMAGE_CHART)
st.subheader("Digits")
st.markdown(f"The perturbation is tiny (‖δ‖∞ = {float(res.linf[0]):.3f}); the prediction goes from {pb} "
            f"(p = {float(res.prob_before[0].max()):.3f}) to {pa} (p = {float(res.prob_after[0].max()):.3f}).")
st.plotly_chart(images_figure(res.x[0, 0], res.x_adv[0, 0]), key="sal_images", config=IMAGE_CHART)

st.subheader("Every explainer on the same two digits")
st.markdown("The attack targeted one explainer; this grid shows whether the others are fooled as well.")
if st.button("Compare all explainers", key="sal_grid_btn"):
    model, _ = get_model(out["model"])
    dev = model_device(model)
    bar = st.progress(0.0)
    grid = explain_all(model, torch.cat([res.x, res.x_adv]).to(dev), target=res.pred_before.repeat(2).to(dev),
                       on_step=lambda done, total: bar.progress(done / total, text=f"explainer {done} of {total}"))
    bar.empty()
    out["grid"] = grid  # maps [E,2,28,28]: natural, adversarial
if out["grid"] is not None:
    grid = out["grid"]
    for e, msg in grid.skipped.items():
        st.caption(f"{e}: not available for this model ({msg})")
    st.plotly_chart(explainer_grid(grid.maps[:, 0], grid.maps[:, 1], grid.names), key="sal_grid", config=IMAGE_CHART)

st.subheader("Downloads")
row = result_row(res, model=out["model"], method=out["method"], kind=cls.kind)
downloads({"adversarial digit (PNG)": ("x_adv.png", digit_to_png(res.x_adv), "image/png"),
           "tensors (NPZ)": ("saliency_attack.npz", npz_bytes(x=res.x, x_adv=res.x_adv, map_before=i0, map_after=i1,
                                                               mask=out["mask"]), "application/octet-stream"),
           "metrics (CSV)": ("saliency_attack.csv", row.to_csv(index=False).encode(), "text/csv"),
           "metrics (JSON)": ("saliency_attack.json", json.dumps(res.to_dict(), indent=1).encode(),
                              "application/json")}, key="sal")
