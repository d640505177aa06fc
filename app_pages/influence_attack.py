"""Influence-function attack (Ghorbani et al. 2019, paper 003 Sec. 3): other training digits explain the digit."""
from dataclasses import replace

import streamlit as st

from app_pages.ui.downloads import downloads, provenance_json, provenance_npz
from app_pages.ui.figures import chart
from app_pages.ui.jobs import estimate_caption, get_model, link_affordable, run_jobs, service, timing_caption
from app_pages.ui.layout import attack_status, details, presenting, say_verdict, sidebar, user_errors
from app_pages.ui.pickers import digit_picker, get_split, model_choice, picked_index, test_split_for
from app_pages.ui.settings import settings_controls
from app_pages.ui.state import keep_result, link_wants_result, result_or_stop
from sem_core.digit_io import digit_to_png
from sem_core.serve.jobs import job_of_spec
from sem_core.serve.views import INFLUENCE, influence_jobs
from sem_core.viz.attacks import prediction_change, result_row
from sem_core.viz.influence import influential_digits_figure
from sem_core.viz.maps import images_figure
from sem_core.viz.text import change_sentence, file_stem, visibility_note
from sem_core.viz.verdicts import verdict

sidebar()
st.title("Influence-function attack")
st.markdown("A network's prediction can also be explained by **training digits**: the ones that helped it most "
            "to answer as it does. Watch the row of training digits: after a small change to every pixel "
            f"({visibility_note()}), other training digits take their place, while the prediction stays the same.")
with details():
    st.markdown("Influence functions (Koh & Liang 2017) score a training digit z by how up-weighting it would "
                "change this digit's loss, computed on the CNN's last layer over the 4,000 training digits (H + λI "
                "solved by conjugate gradients). The attack perturbs the digit within an ε-ball, against the "
                "influence of its 3 most influential training digits, and keeps the most changed iterate whose "
                "**prediction is unchanged** (paper 003, Sec. 3). The random-sign baseline of the same ε runs "
                "alongside.")
    st.latex(r"I(z, x) = -\nabla_\theta L(z)^\top (H + \lambda I)^{-1} \nabla_\theta L(x), \qquad "
             r"x \leftarrow x - \alpha\,\mathrm{sign}\,\nabla_x \textstyle\sum_{i=1}^{3} "
             r"\nabla_\theta L(x)^\top (H + \lambda I)^{-1} \nabla_\theta L(z_{(i)})")

with user_errors():
    c1, c2, c3, c4 = st.columns(4)
    name = model_choice(INFLUENCE.picks["model"], key="inf_model", container=c1)
    settings = settings_controls(INFLUENCE, prefix="inf_", containers={"eps": c2, "steps": c3, "k": c4})
    _, card = get_model(name)
    x_all, y_all, source = test_split_for(name)
    x, y, caption = digit_picker("inf_digit", "Test digit", INFLUENCE.picks["digit"][0], x_all, y_all)

    params = dict(model=name, **settings, x=caption)
    jobs = influence_jobs(name, x, y, data=card["data"]["source"], **settings) if x is not None else {}
    # the estimate of the jobs Run submits, as the service records them; the first run on a model also builds its
    # influence functions (the setup, inside the gradient-sign job)
    setup = not service().influence_ready(name, card["data"]["source"])
    eta = estimate_caption([replace(job_of_spec(spec), setup=setup and kind == "sign") for kind, spec in jobs.items()])
    if (st.button("Run influence attack", type="primary", disabled=x is None)
            or link_wants_result("inf", params, x is not None, lambda: link_affordable(eta, jobs.values()))) and x is not None:
        with st.spinner("Preparing the training gradients and the influence (once per model)…"):
            results, _, times = run_jobs(jobs, "Attacking the influence")  # the service records the times
        keep_result("inf", params, res=results["sign"], base=results["random"], model=name, k=settings["k"],
                    caption=caption, source=card["data"]["source"], digit=picked_index("inf_digit"), times=times,
                    took=eta.took(times["queue_s"] + times["compute_s"]))

out = result_or_stop("inf", "Pick a model, ε and a test digit, then press **Run influence attack**.")
res, base = out["res"], out["base"]
nat, adv = res.explanations["natural"], res.explanations["adversarial"]
st.header(f"Gradient-sign attack on the influence ({out['model']})")
st.caption(f"ε = {res.config['eps']:g}, {res.config['steps']} sign steps, k = {out['k']}, λ = {res.config['damping']:g}; "
           f"{out['caption']}; {timing_caption(out['times'])}"
           + ("" if out["times"].get("cached") else f". {out['took']}"))
attack_status(res)
say_verdict(verdict(res, baseline=base))
pb, pa = int(res.pred_before[0]), int(res.pred_after[0])
m = {key: float(v[0]) for key, v in res.metrics.items()}
b = {key: float(v[0]) for key, v in base.metrics.items()}
cols = st.columns(5)
cols[0].metric("Label kept", "yes" if bool(res.label_kept[0]) else "no", help=f"prediction {pb} → {pa}")
cols[1].metric(f"Top-{out['k']} intersection", f"{m['topk_intersection']:.2f}",
               help="share of the natural most influential training digits still among the top after the attack")
cols[2].metric("Spearman (all training digits)", f"{m['spearman']:.2f}", help="1 = the same ranking of influence")
cols[3].metric(f"Random sign: top-{out['k']} intersection", f"{b['topk_intersection']:.2f}")
cols[4].metric("Random sign: Spearman", f"{b['spearman']:.2f}")

st.subheader("Most influential training digits, before and after")
st.markdown("Each title: the training digit's index, its label and its influence I(z, x) (more negative = more "
            "helpful to this prediction); ✓ marks a digit in both sets.")
x_train, y_train, _ = get_split("train", out["source"])
fig = influential_digits_figure(x_train, y_train, nat, adv)
stem = file_stem("influence", model=out["model"], digit=pb, eps=res.config["eps"])   # influence-cnn-digit7-eps0.1
chart(fig, "inf_digits", f"{stem}-training-digits", image=True)
st.subheader("The test digit")
st.markdown(change_sentence(float(res.linf[0]), pa, bool(res.label_kept[0]), "the network")
            + f" (‖δ‖∞ = {float(res.linf[0]):.3f}; the prediction "
            + prediction_change(pb, pa, float(res.prob_before[0].max()), float(res.prob_after[0].max())) + ").")
chart(images_figure(res.x[0, 0], res.x_adv[0, 0]), "inf_images", f"{stem}-digits", image=True)

if not presenting():
    row = result_row(res, model=out["model"], kind="influence_sign")
    prov = dict(model=out["model"], digits=[out["digit"]], attack="influence_sign", config=dict(res.config))
    tensors = provenance_npz(**prov, x=res.x, x_adv=res.x_adv, top_before=nat.top_idx, top_after=adv.top_idx,
                             scores_before=nat.scores, scores_after=adv.scores)
    downloads({"adversarial digit (PNG, 28×28)": (f"{stem}-x-adv.png", digit_to_png(res.x_adv), "image/png"),
               "tensors (NPZ)": ("influence_attack.npz", tensors, "application/octet-stream"),
               "metrics (CSV)": ("influence_attack.csv", row.to_csv(index=False).encode(), "text/csv"),
               "metrics (JSON)": ("influence_attack.json", provenance_json(res.to_dict(), **prov),
                                  "application/json")}, key="inf")
