"""Saliency attacks (Ghorbani et al. 2019, paper 003): move a map while the prediction stays."""
from functools import partial

import streamlit as st

from app_pages.ui.downloads import downloads, provenance_json, provenance_npz
from app_pages.ui.figures import figure, interactive_charts
from app_pages.ui.jobs import run_jobs, timing_caption
from app_pages.ui.layout import attack_status, details, presenting, say_verdict, sidebar, user_errors
from app_pages.ui.pickers import digit_picker, link_region, model_help, picked_index, region_picker, test_split_for
from app_pages.ui.settings import settings_controls
from app_pages.ui.state import keep_result, link_wants_result, result_or_stop, url_choice
from sem_core import list_shipped
from sem_core.digit_io import digit_to_png
from sem_core.serve.views import SALIENCY, attack_view_of, explain_jobs, explainer_grid_of, saliency_jobs
from sem_core.viz.attacks import maps_before_after, prediction_change, result_row
from sem_core.viz.digits import empty_mask, stack_images
from sem_core.viz.maps import explainer_grid, images_figure, region_overlay
from sem_core.viz.menus import attack_choices
from sem_core.viz.static import digits_pixels, explainer_grid_pixels, maps_pixels, region_pixels
from sem_core.viz.text import change_sentence, file_stem, visibility_note
from sem_core.viz.verdicts import verdict

ATTACK_OF = attack_choices("saliency")  # label -> attack; the URL holds the label
DEFAULT_KIND = next(label for label, c in ATTACK_OF.items() if c.name == SALIENCY.picks["attack"])

sidebar()
st.title("Saliency attacks")
st.markdown("A **saliency map** colours the pixels a network looked at. Watch the colours: after a small change to "
            f"every pixel ({visibility_note()}), the map points somewhere else, while the prediction stays the same.")
with details():
    st.markdown("A feature-importance map I(x) = |m(x)| / Σ|m(x)| says which pixels mattered. Within an ε-ball "
                "around the digit, sign-gradient steps maximise a dissimilarity D between the perturbed and the "
                "natural map; the iterate kept is the most dissimilar one whose **prediction is unchanged** "
                "(paper 003, Algorithm 1). The attacks differ in D: top-k moves the k most important pixels away, "
                "center shifts the map's center of mass, region pulls importance into a chosen region.")

params, x = None, None
with user_errors():
    c1, c2, c3 = st.columns(3)
    name = url_choice("Model", "sal_model", list_shipped(), SALIENCY.picks["model"], container=c1,
                      help=model_help(list_shipped()))
    cls = ATTACK_OF[url_choice("Attack", "sal_kind", list(ATTACK_OF), DEFAULT_KIND, container=c3)]
    view = attack_view_of(SALIENCY, cls.name)      # the one-step baseline's view shows no steps
    settings = settings_controls(view, prefix="sal_", containers={"method": c2, "eps": st.columns(3)[0]})
    x_all, y_all, source = test_split_for(name)
    left, right = st.columns(2)
    with left:
        x, y, caption = digit_picker("sal_digit", "Digit", SALIENCY.picks["digit"][0], x_all, y_all)
    mask = empty_mask()
    if cls.targeted and x is not None:
        with right:
            mask = region_picker(x, "sal")

    params = dict(model=name, attack=cls.name, **settings, x=caption, mask=mask.nonzero().tolist())


@st.fragment
def run_and_show() -> None:
    """The Run button and the result, as a fragment (as on the concept page): a click (Run, Compare all explainers,
    the charts switch) reruns this part alone, with the controls' values of the last whole-page run."""
    with user_errors():
        if (st.button("Run saliency attack", type="primary", disabled=x is None)
                or link_wants_result("sal", params, x is not None and (not cls.targeted or bool(mask.any())))) and x is not None:
            # the attack and the random-sign baseline of the same ε beside it (what the verdict compares with)
            results, _, times = run_jobs(saliency_jobs(name, cls.name, x, y, mask=mask if cls.targeted else None,
                                                       **settings), "Attacking")
            keep_result("sal", params, res=results["attack"], base=results.get("random"), times=times, model=name, attack=cls, method=settings["method"],
                        k=settings["k"], mask=mask.clone(), caption=caption, grid=None, digit=picked_index("sal_digit"))
            if cls.targeted:  # the region travels in the link with the result
                link_region("sal", mask)
    show_result()


def show_result() -> None:
    """The result this session holds (the last run), or a hint and a stop."""
    out = result_or_stop("sal", "Pick a model, an explainer, an attack and a digit, then press **Run saliency attack**.")
    res, cls = out["res"], out["attack"]
    i0, i1 = res.explanations["natural"][0, 0], res.explanations["adversarial"][0, 0]  # the real network's maps
    st.header(f"{cls.label} attack on {out['method']} ({out['model']})")
    st.caption(f"ε = {res.config['eps']:g}, {res.config['steps']} iterations, k = {out['k']}; {out['caption']}; "
               f"{timing_caption(out['times'])}")
    attack_status(res)
    say_verdict(verdict(res, baseline=out.get("base"), mask=out["mask"]))
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
    stem = file_stem("saliency", model=out["model"], attack=cls.name.removeprefix("saliency_"), digit=pb,
                     eps=res.config["eps"], extra=out["method"])   # saliency-cnn-topk-digit3-eps0.1-saliency
    a, b = st.columns([3, 2])
    digits = (res.x[0, 0], res.x_adv[0, 0])
    # pictures by default: the browser draws them at almost no cost (the region picker above stays a plotly chart)
    figure(partial(maps_before_after, i0, i1, images=digits), partial(maps_pixels, i0, i1, images=digits), "sal_maps",
           f"{stem}-maps", interactive=interactive, container=a, width="natural")
    if cls.targeted:
        figure(partial(region_overlay, res.x_adv[0, 0], out["mask"], "target region on x_adv"),
               partial(region_pixels, res.x_adv[0, 0], out["mask"]), "sal_overlay", f"{stem}-region",
               interactive=interactive, title="target region on x_adv", container=b, width=224)
    st.subheader("Digits")
    st.markdown(change_sentence(float(res.linf[0]), pa, kept, "the network") + f" (‖δ‖∞ = {float(res.linf[0]):.3f}; "
                "the prediction " + prediction_change(pb, pa, float(res.prob_before[0].max()),
                                                      float(res.prob_after[0].max())) + ").")
    figure(partial(images_figure, *digits), lambda: digits_pixels(*digits)[0], "sal_images", f"{stem}-digits",
           interactive=interactive, width="natural",
           caption=f"perturbation: red darker, blue brighter, full colour at ±{float(res.linf[0]):.3f}")

    st.subheader("Every explainer on the same two digits")
    st.markdown("The attack targeted one explainer; this grid shows whether the others are fooled as well.")
    if st.button("Compare all explainers", key="sal_grid_btn"):
        with user_errors():  # one cached "explain" job per explainer; one the model refuses (LRP on SENN) is skipped
            jobs = explain_jobs(out["model"], stack_images(res.x, res.x_adv), target=res.pred_before.repeat(2))
            maps, skipped, _ = run_jobs(jobs, "Explaining", skip_errors=True)
            out["grid"] = explainer_grid_of(maps, skipped)  # maps [E,2,28,28]: natural, adversarial
    if out["grid"] is not None:
        grid = out["grid"]
        for e, msg in grid.skipped.items():
            st.caption(f"{e}: not available for this model ({msg})")
        st.caption("Each column has its own colour scale, shared by its two maps" + ("." if interactive else
                   ": the natural digit's map on top, the adversarial digit's below."))
        figure(partial(explainer_grid, grid.maps[:, 0], grid.maps[:, 1], grid.names),
               partial(explainer_grid_pixels, grid.maps[:, 0], grid.maps[:, 1], grid.names), "sal_grid",
               f"{stem}-all-explainers", interactive=interactive)

    if not presenting():
        row = result_row(res, model=out["model"], method=out["method"], kind=cls.kind)
        prov = dict(model=out["model"], digits=[out["digit"]], attack=cls.name,
                    config={**res.config, "method": out["method"], "region": out["mask"].nonzero().tolist()})
        tensors = provenance_npz(**prov, x=res.x, x_adv=res.x_adv, map_before=i0, map_after=i1, mask=out["mask"])
        downloads({"adversarial digit (PNG, 28×28)": (f"{stem}-x-adv.png", digit_to_png(res.x_adv), "image/png"),
                   "tensors (NPZ)": ("saliency_attack.npz", tensors, "application/octet-stream"),
                   "metrics (CSV)": ("saliency_attack.csv", row.to_csv(index=False).encode(), "text/csv"),
                   "metrics (JSON)": ("saliency_attack.json", provenance_json(res.to_dict(), **prov),
                                      "application/json")}, key="sal")


run_and_show()
