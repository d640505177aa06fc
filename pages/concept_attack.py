"""Concept attack (SENN): make a 9's concepts look like a 2's while SENN still says 9 (paper 000, Fig. 1)."""
import json

import pandas as pd
import streamlit as st
import torch

from pages.common import (IMAGE_CHART, digit_picker, downloads, get_model, get_split, sidebar, test_split_for, url_number,
                          user_errors)
from sem_core.attacks import SennConceptAttack
from sem_core.imageio import digit_to_png, npz_bytes
from sem_core.viz import explanation_figure, explanation_ranges, image_figure, image_grid_figure, perturbation_figure

sidebar()
st.title("Concept attack (SENN)")
st.markdown("SENN explains its prediction with a few concepts h(x) weighted by relevances θ(x). "
            "The attack looks, within an ε-ball around x, for an image x* whose concepts match those of a "
            "target digit x_t of another class, while the cross-entropy term keeps SENN's prediction (eq. 1):")
st.latex(r"x^* = \arg\min_{x^* \in B_\varepsilon(x)} \;\|h(x^*) - h(x_t)\|_2^2 + \lambda\, L_y\big(f(x^*), y\big)")

with user_errors():
    model, card = get_model("senn")
    x_all, y_all, source = test_split_for("senn")
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
        bar = st.progress(0.0, text="Attacking…")
        every = max(1, steps // 50)
        attack = SennConceptAttack(model, eps=eps, steps=steps, lam=lam, snapshot_every=-(-steps // 15))
        res = attack(x, None if y is None else torch.tensor([y]), target=x_t,
                     on_step=lambda t, n: t % every == 0 and bar.progress(t / n, text=f"step {t}/{n}"))
        bar.empty()
        dev = next(model.parameters()).device
        with torch.no_grad():  # explanations of x, x*, x_t and of every replay frame
            expl = model.explain(torch.cat([res.x, res.x_adv, x_t]).to(dev))
            frames = torch.cat([s for _, s in res.snapshots])
            replay = model.explain(frames.to(dev))
        st.session_state["concept_result"] = dict(
            res=res, expl=expl, frames=frames, replay=replay, steps=[t for t, _ in res.snapshots],
            captions=[x_caption, t_caption])

if "concept_result" not in st.session_state:
    st.info("Pick the digits and press **Run concept attack**.")
    st.stop()

out = st.session_state["concept_result"]
res, expl = out["res"], out["expl"]
cpu = lambda t: t.detach().cpu()  # noqa: E731
h, theta, contrib = cpu(expl.concepts), cpu(expl.relevances), cpu(expl.contributions)
ranges = explanation_ranges(h, theta, contrib)  # one concept scale for x, x* and x_t
probs = cpu(torch.softmax(expl.logits, 1))
st.caption(f"ε = {res.config['eps']:g}, {res.config['steps']} steps, λ = {res.config['lam']:g}; "
           f"source: {out['captions'][0]}, target: {out['captions'][1]}")

st.subheader("Inputs and explanations")
st.markdown("Each column shows an image, its concepts h, their relevances θ for the predicted class and the "
            "contributions θ·h whose sum is that class's logit. The perturbation is x* − x "
            "(red darker, blue brighter).")
cols = st.columns(4)
titles = ["natural x", "adversarial x*", "target x_t"]
images = [res.x[0, 0], res.x_adv[0, 0], res.extras["x_target"][0, 0]]
for j, (col, title, img) in enumerate(zip(cols, titles, images)):
    col.plotly_chart(image_figure(img, title), width="stretch", key=f"concept_img{j}", config=IMAGE_CHART)
    col.markdown(f"prediction **{int(probs[j].argmax())}** (p = {probs[j].max():.3f})")
    col.plotly_chart(explanation_figure(h[j], theta[j], contrib[j], ranges=ranges), width="stretch",
                     key=f"concept_expl{j}")
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
step = st.select_slider("Step", options=out["steps"], value=out["steps"][-1], key="concept_step")
f = out["steps"].index(step)
r1, r2 = st.columns([1, 2])
r1.plotly_chart(image_figure(out["frames"][f, 0], f"x at step {step}"), width="stretch", key="concept_replay_img",
                config=IMAGE_CHART)
p_f = torch.softmax(cpu(out["replay"].logits[f]), 0)
r1.markdown(f"prediction **{int(p_f.argmax())}** (p = {p_f.max():.3f})")
replay = [cpu(v) for v in (out["replay"].concepts, out["replay"].relevances, out["replay"].contributions)]
r2.plotly_chart(explanation_figure(*(v[f] for v in replay), ranges=explanation_ranges(*replay)), width="stretch",
                key="concept_replay_bars")  # one scale for every step, so the slider does not rescale

st.subheader("What the concepts mean")
st.markdown("Each row shows the eight training digits that activate one concept most (the concept's grounding).")
with user_errors():
    train_x = get_split("train", card["data"]["source"])[0]
    grounding = model.grounding.cpu()                                   # [k, 8] indices into the training split
    k, n = grounding.shape
    grid = train_x[grounding.flatten()]
    st.plotly_chart(image_grid_figure(grid, cols=n, row_titles=[f"c{i + 1}" for i in range(k)]), width="stretch",
                    key="concept_grid", config=IMAGE_CHART)

st.subheader("Downloads")
metrics = {**res.to_dict(), "h": h.tolist(), "theta": theta.tolist()}
table = pd.DataFrame({"image": titles, "prediction": probs.argmax(1).tolist(), "probability": probs.max(1).values.tolist(),
                      **{f"h{i + 1}": h[:, i].tolist() for i in range(h.shape[1])}})
tensors = npz_bytes(x=res.x, x_adv=res.x_adv, x_target=res.extras["x_target"], h=h, theta=theta,
                    objective=res.objective)
downloads({"adversarial image (PNG)": ("x_adv.png", digit_to_png(res.x_adv), "image/png"),
           "tensors (NPZ)": ("concept_attack.npz", tensors, "application/octet-stream"),
           "metrics (JSON)": ("concept_attack.json", json.dumps(metrics, indent=1).encode(), "application/json"),
           "explanations (CSV)": ("concept_attack.csv", table.to_csv(index=False).encode(), "text/csv")},
          key="concept")
