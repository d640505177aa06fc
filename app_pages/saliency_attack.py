"""Saliency attacks (Ghorbani et al. 2019, paper 003): move a map while the prediction stays."""
import streamlit as st
import torch

from functools import partial

from app_pages.common import (details, digit_picker, downloads, figure, get_model, interactive_charts, keep_result,
                              link_wants_result, model_help, more_settings, picked_index, presenting,
                              provenance_json, provenance_npz, region_picker, result_or_stop, run_job, sidebar,
                              test_split_for, timing_caption, url_choice, url_number, user_errors)
from sem_core import list_shipped, model_device
from sem_core.attacks import ATTACKS, SALIENCY_METHODS, list_attacks
from sem_core.explain import explain_all
from sem_core.digit_io import digit_to_png
from sem_core.serve.views import saliency_job
from sem_core.viz.attacks import maps_before_after, prediction_change, result_row
from sem_core.viz.maps import explainer_grid, images_figure, region_overlay
from sem_core.viz.static import digits_pixels, explainer_grid_pixels, maps_pixels, region_pixels

ATTACK_OF = {ATTACKS.get(n).label: ATTACKS.get(n) for n in list_attacks(family="saliency")}  # URL holds the label

sidebar()
st.title("Saliency attacks")
st.markdown("A **saliency map** colours the pixels a network looked at. Watch the colours: after a change too "
            "small to see, the map points somewhere else, while the prediction stays the same.")
with details():
    st.markdown("A feature-importance map I(x) = |m(x)| / Σ|m(x)| says which pixels mattered. Within an ε-ball "
                "around the digit, sign-gradient steps maximise a dissimilarity D between the perturbed and the "
                "natural map; the iterate kept is the most dissimilar one whose **prediction is unchanged** "
                "(paper 003, Algorithm 1). The attacks differ in D: top-k moves the k most important pixels away, "
                "center shifts the map's center of mass, region pulls importance into a chosen region.")

params, x = None, None
with user_errors():
    c1, c2, c3 = st.columns(3)
    name = url_choice("Model", "sal_model", list_shipped(), "cnn", container=c1,
                      help=model_help(list_shipped()))
    method = url_choice("Explainer", "sal_method", list(SALIENCY_METHODS), "saliency", container=c2)
    cls = ATTACK_OF[url_choice("Attack", "sal_kind", list(ATTACK_OF), "top-k", container=c3)]
    c1, c2, c3 = st.columns(3)
    eps = url_number("ε (L∞ radius, pixel units)", "sal_eps", 0.1, 0.01, 1.0, step=0.01, format="%.2f", container=c1)
    with more_settings():
        c2, c3 = st.columns(2) if presenting() else (c2, c3)
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

    params = dict(model=name, method=method, attack=cls.name, eps=eps, steps=steps, k=k, x=caption,
                  mask=mask.nonzero().tolist())


@st.fragment
def run_and_show() -> None:
    """The Run button and the result, as a fragment (as on the concept page): a click (Run, Compare all explainers,
    the charts switch) reruns this part alone, with the controls' values of the last whole-page run."""
    with user_errors():
        if (st.button("Run saliency attack", type="primary", disabled=x is None)
                or link_wants_result("sal", params, x is not None and not cls.targeted)) and x is not None:
            res, times = run_job(saliency_job(name, cls.name, x, y, method=method, eps=eps, steps=steps, k=k,
                                              mask=mask if cls.targeted else None))
            keep_result("sal", params, res=res, times=times, model=name, attack=cls, method=method, k=k,
                        mask=mask.clone(), caption=caption, grid=None, digit=picked_index("sal_digit"))
    show_result()


def show_result() -> None:
    """The result this session holds (the last run), or a hint and a stop."""
    out = result_or_stop("sal", "Pick a model, an explainer, an attack and a digit, then press **Run saliency attack**.")
    res, cls = out["res"], out["attack"]
    i0, i1 = res.explanations["natural"][0, 0], res.explanations["adversarial"][0, 0]  # the real network's maps
    st.header(f"{cls.label} attack on {out['method']} ({out['model']})")
    st.caption(f"ε = {res.config['eps']:g}, {res.config['steps']} iterations, k = {out['k']}; {out['caption']}; "
               f"{timing_caption(out['times'])}")
    st.markdown(cls.sentence)
    with details("The objective"):
        st.latex(cls.objective_tex)

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
    st.markdown("The real network's map, drawn over the digit (brighter = more important, one colour scale for "
                "both); × marks the center of mass" + ("; on the right, the target region over the adversarial digit."
                                                       if cls.targeted else "."))
    interactive = interactive_charts("sal_interactive")
    a, b = st.columns([3, 2])
    digits = (res.x[0, 0], res.x_adv[0, 0])
    # pictures by default: the browser draws them at almost no cost (the region picker above stays a plotly chart)
    figure(partial(maps_before_after, i0, i1, images=digits), partial(maps_pixels, i0, i1, images=digits), "sal_maps",
           "saliency-maps", interactive=interactive, container=a, width="natural")
    if cls.targeted:
        figure(partial(region_overlay, res.x_adv[0, 0], out["mask"], "target region on x_adv"),
               partial(region_pixels, res.x_adv[0, 0], out["mask"]), "sal_overlay", "saliency-region",
               interactive=interactive, title="target region on x_adv", container=b, width=224)
    st.subheader("Digits")
    st.markdown(f"The perturbation is tiny (‖δ‖∞ = {float(res.linf[0]):.3f}); the prediction "
                + prediction_change(pb, pa, float(res.prob_before[0].max()), float(res.prob_after[0].max())) + ".")
    figure(partial(images_figure, *digits), lambda: digits_pixels(*digits)[0], "sal_images", "saliency-digits",
           interactive=interactive, width="natural",
           caption=f"perturbation: red darker, blue brighter, full colour at ±{float(res.linf[0]):.3f}")

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
        st.caption("Each column has its own colour scale, shared by its two maps" + ("." if interactive else
                   ": the natural digit's map on top, the adversarial digit's below."))
        figure(partial(explainer_grid, grid.maps[:, 0], grid.maps[:, 1], grid.names),
               partial(explainer_grid_pixels, grid.maps[:, 0], grid.maps[:, 1], grid.names), "sal_grid",
               "saliency-all-explainers", interactive=interactive)

    if not presenting():
        row = result_row(res, model=out["model"], method=out["method"], kind=cls.kind)
        prov = dict(model=out["model"], digits=[out["digit"]], attack=cls.name,
                    config={**res.config, "method": out["method"], "region": out["mask"].nonzero().tolist()})
        tensors = provenance_npz(**prov, x=res.x, x_adv=res.x_adv, map_before=i0, map_after=i1, mask=out["mask"])
        downloads({"adversarial digit (PNG, 28×28)": ("x_adv.png", digit_to_png(res.x_adv), "image/png"),
                   "tensors (NPZ)": ("saliency_attack.npz", tensors, "application/octet-stream"),
                   "metrics (CSV)": ("saliency_attack.csv", row.to_csv(index=False).encode(), "text/csv"),
                   "metrics (JSON)": ("saliency_attack.json", provenance_json(res.to_dict(), **prov),
                                      "application/json")}, key="sal")


run_and_show()
