"""Batch attack: one attack on many test digits, with the distributions the papers show and every digit's view."""
import streamlit as st
import torch

from app_pages.common import (chart, details, model_choice, model_help, service, session_id, sidebar, test_split_for,
                          timing_caption, url_choice, url_number, user_errors)
from sem_core import SemError, list_shipped
from sem_core.attacks import ATTACKS, SALIENCY_METHODS, list_attacks
from sem_core.batching import batch_rows
from sem_core.viz import image_figure
from sem_core.viz.attacks import maps_before_after, senn_figure, senn_ranges
from sem_core.viz.batch import batch_figures, batch_frame, batch_summary
from sem_core.serve.views import BATCH_DEFAULTS as D, batch_indices, batch_job

FAMILIES = {"Concept attack (SENN)": "senn", "Prototype attack (PrototypeDL)": "protodl", "Saliency attack": "saliency"}
PAGE = {"senn": "concept", "protodl": "prototype", "saliency": "saliency"}
SALIENCY = {ATTACKS.get(n).label: n for n in list_attacks(family="saliency", targeted=False)}

sidebar()
st.title("Batch attack")
st.markdown("Run one attack on many test digits at once and look at the distributions, as the papers do. "
            "Jobs from every open session run together on the server, so a batch shares the machine fairly.")
with details():
    st.markdown("Every digit gets the same attack as on its own page (concept attack: eq. 1 toward a digit of "
                "another class; prototype attack: eq. 3; saliency: paper 003's top-k attack), run as one batched "
                "call. The histograms follow paper 000 Fig. 2/3 (distances to the target or the prototypes, "
                "natural vs adversarial); the box plots paper 003 Fig. 3 (top-k intersection and rank correlation "
                "per digit). Only digits whose prediction stayed count as successes.")

with user_errors():
    c1, c2, c3 = st.columns(3)
    family = FAMILIES[url_choice("Attack", "b_attack", list(FAMILIES), "Concept attack (SENN)", container=c1)]
    if family == "saliency":
        name = url_choice("Model", "b_model", list_shipped(), "cnn", container=c2, help=model_help(list_shipped()))
        method = url_choice("Explainer", "b_method", list(SALIENCY_METHODS), "saliency", container=c3)
        attack = SALIENCY[url_choice("Saliency attack", "b_kind", list(SALIENCY), "top-k", container=c1)]
    else:
        name = model_choice(family, key="b_model", container=c2)
        attack = {"senn": "senn_concept", "protodl": "protodl_prototype"}[family]
    x_all, y_all, source = test_split_for(name)
    hows = ["class pairs", "class", "random sample"] if family == "senn" else ["class", "random sample"]
    c1, c2, c3, c4 = st.columns(4)
    how = url_choice("Digits", "b_how", hows, D["how"] if D["how"] in hows else hows[0], container=c1,
                     help="class pairs: digits of one class, each imitating a digit of another (paper 000 Fig. 2)")
    n = url_number("How many digits", "b_n", D["n"], 1, 1000, integer=True, container=c2)
    src_cls = url_number("Class", "b_class", D["source_class"], 0, 9, integer=True, container=c3,
                         disabled=how == "random sample")
    tgt_cls = url_number("Target class", "b_target", D["target_class"], 0, 9, integer=True, container=c4,
                         disabled=how != "class pairs")
    c1, c2, c3, c4 = st.columns(4)
    eps = url_number("ε (L∞ radius)", "b_eps", 0.1 if family == "saliency" else D["eps"], 0.01, 1.0, step=0.05,
                     format="%.2f", container=c1)
    steps = url_number("PGD steps", "b_steps", 50 if family == "saliency" else D["steps"], 1, 500, integer=True,
                       container=c2)
    seed = url_number("Seed (random picks)", "b_seed", D["seed"], 0, 10_000, integer=True, container=c3)
    extra = ({"lam": D["lam"]} if family == "senn" else {"lam": 1.0, "xi": 0.3} if family == "protodl"
             else {"method": method, "k": url_number("k (top-k)", "b_k", 50, 1, 784, integer=True, container=c4)})
    idx, tgt = batch_indices(y_all, how, n, source_class=src_cls, target_class=tgt_cls, seed=seed,
                             targets=family == "senn")
    spec = batch_job(name, attack, x_all[idx], y_all[idx], None if tgt is None else x_all[tgt], eps=eps, steps=steps,
                     **extra)
    est = service().estimate(spec)
    st.caption(f"{len(idx)} digits. {est.describe()} (if nothing is cached)")
    if st.button("Run batch", type="primary", key="b_run"):
        old = st.session_state.pop("batch_job", None)
        if old is not None:
            old["handle"].cancel()
        st.session_state["batch_job"] = dict(handle=service().submit(session_id(), spec), family=family, model=name,
                                             idx=idx.tolist(), tgt=None if tgt is None else tgt.tolist(), attack=attack, est=est)

job = st.session_state.get("batch_job")
if job is not None and not job["handle"].done():
    if st.button("Cancel", key="b_cancel"):  # the click reruns the page: the job stops here
        job["handle"].cancel()
    else:
        bar = st.progress(0.0, text=job["handle"].status())
        while not job["handle"].wait(0.2):
            bar.progress(job["handle"].progress, text=job["handle"].status())
        bar.empty()
if job is not None and job["handle"].done():
    st.session_state.pop("batch_job")
    handle = job.pop("handle")
    try:  # the last result replaces the one before (issue 16: one batch result per session)
        st.session_state["batch_result"] = dict(job, res=handle.result(), times=dict(handle.timings(),
                                                                                     cached=handle.cached == handle.n))
    except SemError as exc:
        st.error(str(exc))

out = st.session_state.get("batch_result")
if out is None:
    st.info("Choose the digits and press **Run batch**.")
    st.stop()
res, family = out["res"], out["family"]
label = getattr(ATTACKS.get(out["attack"]), "label", out["attack"])
st.subheader(f"{len(out['idx'])} digits: {label} on {out['model']}")
st.caption(timing_caption(out["times"]) + ("" if out["times"]["cached"] else
                                           f"; {out['est'].took(out['times']['compute_s']).lower()}"))
summary = batch_summary(res)
for col, (key, value) in zip(st.columns(min(6, len(summary))), summary.items()):
    col.metric(key if key == "label kept" else f"median {key}", f"{value:.0%}" if key == "label kept" else f"{value:.3f}")
for i, fig in enumerate(batch_figures(res, family)):
    chart(fig, f"b_fig{i}", f"batch-distribution-{i}")

st.subheader("Every digit")
st.markdown("Select a row to see that digit's attack.")
table = batch_frame(res, out["idx"], out["tgt"])
picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key="b_table")
rows = picked.selection.rows
if not rows:
    st.stop()
r = rows[0]
one = batch_rows(res, r, r + 1)
i = out["idx"][r]
st.markdown(f"**Test digit #{i}** (label {int(one.y[0])}): prediction {int(one.pred_before[0])} → "
            f"{int(one.pred_after[0])}, ‖δ‖∞ = {float(one.linf[0]):.3f}")
cols = st.columns(3)
chart(image_figure(one.x[0, 0], "natural x"), "b_x", "batch-natural", container=cols[0], image=True)
chart(image_figure(one.x_adv[0, 0], "adversarial x*"), "b_xadv", "batch-adversarial", container=cols[1], image=True)
if family == "senn":
    expls = [one.explanations[k] for k in ("natural", "adversarial", "target")]
    chart(image_figure(one.extras["x_target"][0, 0], "target x_t"), "b_xt", "batch-target", container=cols[2], image=True)
    for col, e, k in zip(st.columns(3), expls, ("nat", "adv", "tgt")):
        chart(senn_figure(e, ranges=senn_ranges(expls)), f"b_senn_{k}", f"batch-concepts-{k}", container=col)
elif family == "saliency":
    chart(maps_before_after(one.explanations["natural"][0, 0], one.explanations["adversarial"][0, 0],
                            images=(one.x[0, 0], one.x_adv[0, 0])), "b_maps", "batch-saliency-maps", image=True)


def _in_class(j: int) -> tuple[int, int]:
    c = int(y_all[j])
    return c, int((torch.nonzero(y_all == c).flatten() < j).sum())


cfg = res.config
c, k = _in_class(i)
if family == "senn":
    tc, tk = _in_class(out["tgt"][r])
    link = f"concept?model={out['model']}&src={c}&src_i={k}&tgt={tc}&tgt_i={tk}&eps={cfg['eps']:g}&steps={cfg['steps']}"
elif family == "protodl":
    link = f"prototype?model={out['model']}&digits={c}&which={min(k, 50)}&eps={cfg['eps']:g}&steps={cfg['steps']}"
else:
    link = (f"saliency?sal_model={out['model']}&sal_method={cfg.get('method', 'saliency')}&sal_digit={c}"
            f"&sal_digit_i={k}&sal_eps={cfg['eps']:g}&sal_steps={cfg['steps']}&sal_k={cfg.get('k', 50)}")
st.markdown(f"[Open this digit on the {PAGE[family]} page]({link}) (press Run there for every panel and the replay).")
