"""Concept attack (SENN): make a 9's concepts look like a 2's while SENN still says 9 (paper 000, Fig. 1)."""
import json

import streamlit as st

from pages.common import (model_choice, IMAGE_CHART, digit_picker, downloads, get_model, get_split, run_job, sidebar,
                          test_split_for, timing_caption, url_number, user_errors)
from sem_core.digit_io import digit_to_png, npz_bytes
from sem_core.views import concept_job
from sem_core.viz import grounding_figure, image_figure, perturbation_figure
from sem_core.viz.attacks import prediction_text, senn_figure, senn_frame, senn_ranges, stack

sidebar()
st.title("Concept attack (SENN)")
st.markdown("SENN explains its prediction with a few concepts h(x) weighted by relevances θ(x). "
            "The attack looks, within an ε-ball around x, for an image x* whose concepts match those of a "
            "target digit x_t of another class, while the cross-entropy term keeps SENN's prediction (eq. 1):")
st.latex(r"x^* = \arg\min_{x^* \in B_\varepsilon(x)} \;\|h(x^*) - h(x_t)\|_2^2 + \lambda\, L_y\big(f(x^*), y\big)")

with user_errors():
    name = model_choice("senn")
    model, card = get_model(name)
    x_all, y_all, source = test_split_for(name)
    left, right = st.columns(2)
    with left:
        x, y, x_caption = digit_picker("src", "Source digit x (attacked)", 9, x_all, y_all)
    with right:
        x_t, y_t, t_caption = digit_picker("tgt", "Target digit x_t (concepts to imitate)", 2, x_all, y_all)
    c1, c2, c3 = st.columns(3)
    eps = url_number("ε (L∞ radius, pixel units)", "eps", 0.3, 0.01, 1.0, step=0.05, format="%.2f", container=c1)
    steps = url_number("PGD steps", "steps", 100, 1, 1000, integer=True, container=c2)
    lam = url_number("λ (weight of the label-keeping loss)", "lam", 1.0, 0.0, 100.0, step=0.5, container=c3)

    autorun = st.session_state.pop("concept_autorun", False)  # set by the home page's "Try this" button
    if (st.button("Run concept attack", type="primary", disabled=x is None or x_t is None) or autorun) \
            and x is not None and x_t is not None:
        res, times = run_job(concept_job(name, x, y, x_t, eps=eps, steps=steps, lam=lam))
        st.session_state["concept_result"] = dict(res=res, captions=[x_caption, t_caption], times=times)

if "concept_result" not in st.session_state:
    st.info("Pick the digits and press **Run concept attack**.")
    st.stop()

out = st.session_state["concept_result"]
res = out["res"]
expls = [res.explanations[k] for k in ("natural", "adversarial", "target")]
ranges = senn_ranges(expls)  # one concept scale for x, x* and x_t
st.caption(f"ε = {res.config['eps']:g}, {res.config['steps']} steps, λ = {res.config['lam']:g}; "
           f"source: {out['captions'][0]}, target: {out['captions'][1]}; {timing_caption(out['times'])}")

st.subheader("Inputs and explanations")
st.markdown("Each column shows an image, its concepts h, their relevances θ for the predicted class and the "
            "contributions θ·h whose sum is that class's logit. The perturbation is x* − x "
            "(red darker, blue brighter).")
cols = st.columns(4)
titles = ["natural x", "adversarial x*", "target x_t"]
images = [res.x[0, 0], res.x_adv[0, 0], res.extras["x_target"][0, 0]]
for j, (col, title, img) in enumerate(zip(cols, titles, images)):
    col.plotly_chart(image_figure(img, title), width="stretch", key=f"concept_img{j}", config=IMAGE_CHART)
    col.markdown(prediction_text(expls[j].logits[0]))
    col.plotly_chart(senn_figure(expls[j], ranges=ranges), width="stretch", key=f"concept_expl{j}")
cols[3].plotly_chart(perturbation_figure(res.x_adv[0, 0] - res.x[0, 0]), width="stretch", key="concept_delta",
                     config=IMAGE_CHART)
cols[3].metric("‖x* − x‖∞", f"{res.linf[0]:.3f}")

st.subheader("Did the attack work?")
st.markdown("Success means x*'s concepts are much closer to the target's than x's were, with the label unchanged.")
d_adv, d_nat = float(res.metrics["concept_distance_adv"][0]), float(res.metrics["concept_distance_nat"][0])
m1, m2, m3 = st.columns(3)
m1.metric("‖h(x*) − h(x_t)‖", f"{d_adv:.3f}", delta=f"{d_adv - d_nat:+.3f} vs natural", delta_color="inverse")
m2.metric("‖h(x) − h(x_t)‖", f"{d_nat:.3f}")
kept = bool(res.label_kept[0])
m3.metric("label kept", "✓" if kept else "✗",
          help=f"prediction {int(res.pred_before[0])} → {int(res.pred_after[0])}")

st.subheader("Replay the attack")
st.markdown("Slide through the PGD iterates: the image, its concepts and the prediction at that step.")
steps = [snap.step for snap in res.snapshots]
step = st.select_slider("Step", options=steps, value=steps[-1], key="concept_step")
snap = res.snapshots[steps.index(step)]
r1, r2 = st.columns([1, 2])
r1.plotly_chart(image_figure(snap.x[0, 0], f"x at step {step}"), width="stretch", key="concept_replay_img",
                config=IMAGE_CHART)
r1.markdown(prediction_text(snap.explanation.logits[0]))
r2.plotly_chart(senn_figure(snap.explanation, ranges=senn_ranges([s.explanation for s in res.snapshots])),
                width="stretch", key="concept_replay_bars")  # one scale for every step, so the slider does not rescale

st.subheader("What the concepts mean")
st.markdown("Each row shows the eight training digits that activate one concept most (the concept's grounding).")
with user_errors():
    train_x = get_split("train", card["data"]["source"])[0]
    st.plotly_chart(grounding_figure(train_x, model.grounding), width="stretch", key="concept_grid", config=IMAGE_CHART)

st.subheader("Downloads")
both = stack(expls)  # x, x*, x_t
metrics = {**res.to_dict(), "h": both.concepts.tolist(), "theta": both.relevances.tolist()}
table = senn_frame(titles, expls)
tensors = npz_bytes(x=res.x, x_adv=res.x_adv, x_target=res.extras["x_target"], h=both.concepts,
                    theta=both.relevances, objective=res.objective)
downloads({"adversarial image (PNG)": ("x_adv.png", digit_to_png(res.x_adv), "image/png"),
           "tensors (NPZ)": ("concept_attack.npz", tensors, "application/octet-stream"),
           "metrics (JSON)": ("concept_attack.json", json.dumps(metrics, indent=1).encode(), "application/json"),
           "explanations (CSV)": ("concept_attack.csv", table.to_csv(index=False).encode(), "text/csv")},
          key="concept")
