"""Concept attack (SENN): make a 9's concepts look like a 2's while SENN still says 9 (paper 000, Fig. 1)."""
from functools import partial

import streamlit as st

from app_pages.ui.downloads import downloads, provenance_json, provenance_npz
from app_pages.ui.figures import chart, figure, interactive_charts, picture
from app_pages.ui.jobs import get_model, run_job, timing_caption
from app_pages.ui.layout import attack_status, details, presenting, say_verdict, sidebar, user_errors
from app_pages.ui.pickers import digit_picker, get_split, model_choice, picked_index, test_split_for
from app_pages.ui.settings import settings_controls
from app_pages.ui.state import keep_result, link_wants_result, result_or_stop
from sem_core.serve.views import CONCEPT, concept_job
from sem_core.digit_io import digit_to_png
from sem_core.viz import grounding_figure, image_figure, perturbation_figure
from sem_core.viz.attacks import prediction_text, senn_figure, senn_figures, senn_frame, senn_ranges, stack
from sem_core.viz.static import explanations_svg, grid_pixels, image_pixels, signed_pixels
from sem_core.viz.text import change_sentence, file_stem, visibility_note
from sem_core.viz.verdicts import verdict

sidebar()
st.title("Concept attack (SENN)")
st.markdown("SENN explains each prediction with a few learnt **concepts** c1, c2, …: *this 9 looks like that*. "
            f"Watch the bars: after a small change to every pixel ({visibility_note()}), the 9's concepts look "
            "like a **2**'s, while SENN still says **9**.")
with details():
    st.markdown("SENN's explanation: concepts h(x), weighted by relevances θ(x). The attack looks, within an "
                "ε-ball around x (every pixel moves by at most ε), for an image x* whose concepts match those of a "
                "target digit x_t of another class, while a cross-entropy term keeps SENN's prediction "
                "(paper 000, eq. 1), solved by projected gradient descent (PGD):")
    st.latex(r"x^* = \arg\min_{x^* \in B_\varepsilon(x)} \;\|h(x^*) - h(x_t)\|_2^2 + \lambda\, L_y\big(f(x^*), y\big)")

params, ready = None, False
with user_errors():
    name = model_choice("senn")
    model, card = get_model(name)
    x_all, y_all, source = test_split_for(name)
    left, right = st.columns(2)
    with left:
        x, y, x_caption = digit_picker("src", "Source digit x (attacked)", CONCEPT.picks["src"][0], x_all, y_all)
    with right:
        x_t, y_t, t_caption = digit_picker("tgt", "Target digit x_t (concepts to imitate)", CONCEPT.picks["tgt"][0],
                                           x_all, y_all, avoid="src")
    settings = settings_controls(CONCEPT, containers={"eps": st.columns(3)[0]})
    params = dict(model=name, x=x_caption, t=t_caption, **settings)
    ready = x is not None and x_t is not None


@st.fragment
def run_and_show() -> None:
    """The Run button and the result, as a fragment: a click (or the replay slider, the charts switch) reruns this
    part alone, not the controls above it, so the server re-executes and each browser redraws only what changed
    (a class's 20 browsers share the server's cores: benchmarks/bench_load.py). It reads the controls' values of
    the last whole-page run, which every change of a control starts."""
    with user_errors():
        autorun = st.session_state.pop("concept_autorun", False)  # set by the home page's "Try this" button
        if (st.button("Run concept attack", type="primary", disabled=not ready) or autorun
                or link_wants_result("concept", params, ready)) and ready:
            res, times = run_job(concept_job(name, x, y, x_t, **settings))
            keep_result("concept", params, res=res, captions=[x_caption, t_caption], model=name, times=times,
                        digits={"source": picked_index("src"), "target": picked_index("tgt")})
    show_result()


def show_result() -> None:
    """The result this session holds (the last run), or a hint and a stop."""
    out = result_or_stop("concept", "Pick the digits and press **Run concept attack**.")
    res = out["res"]
    expls = [res.explanations[k] for k in ("natural", "adversarial", "target")]
    ranges = senn_ranges(expls)  # one concept scale for x, x* and x_t
    st.caption(f"ε = {res.config['eps']:g}, {res.config['steps']} steps, λ = {res.config['lam']:g}; "
               f"source: {out['captions'][0]}, target: {out['captions'][1]}; {timing_caption(out['times'])}")
    attack_status(res)

    st.subheader("Did the attack work?")
    say_verdict(verdict(res))
    d_adv, d_nat = float(res.metrics["concept_distance_adv"][0]), float(res.metrics["concept_distance_nat"][0])
    kept = bool(res.label_kept[0])
    pb, pa = int(res.pred_before[0]), int(res.pred_after[0])
    st.markdown(f"{change_sentence(float(res.linf[0]), pa, kept, 'SENN')} The concepts moved "
                f"{'toward' if d_adv < d_nat else 'away from'} the target's: distance {d_nat:.2f} → {d_adv:.2f}.")
    m1, m2, m3 = st.columns(3)
    m1.metric("‖h(x*) − h(x_t)‖", f"{d_adv:.3f}", delta=f"{d_adv - d_nat:+.3f} vs natural", delta_color="inverse")
    m2.metric("‖h(x) − h(x_t)‖", f"{d_nat:.3f}")
    m3.metric("label kept", "✓" if kept else "✗", help=f"prediction {pb} → {pa}")

    st.subheader("The three digits and what SENN says about them")
    interactive = interactive_charts("concept_interactive")
    cols = st.columns(4)
    titles = ["natural x", "adversarial x*", "target x_t"]
    stem = file_stem("concept", model=out["model"], digit=pb, target=int(expls[2].logits[0].argmax()),
                     eps=res.config["eps"])  # concept-senn-digit9-to2-eps0.3
    images = [res.x[0, 0], res.x_adv[0, 0], res.extras["x_target"][0, 0]]
    delta = res.x_adv[0, 0] - res.x[0, 0]
    for j, (col, title, img) in enumerate(zip(cols, titles, images)):
        figure(partial(image_figure, img, title), partial(image_pixels, img), f"concept_img{j}",
               f"{stem}-{title.split()[0]}", interactive=interactive, title=title, container=col)
        col.markdown(prediction_text(expls[j].logits[0]))
    figure(partial(perturbation_figure, delta), lambda: signed_pixels(delta)[0], "concept_delta", f"{stem}-perturbation",
           interactive=interactive, title="perturbation x* − x", container=cols[3],
           caption=f"red: darker, blue: brighter; full colour at ±{float(delta.abs().max()):.3f}")
    cols[3].metric("‖x* − x‖∞", f"{res.linf[0]:.3f}")

    st.markdown("Bars: the concepts h, their relevances θ for the predicted class, and the contributions θ·h whose sum "
                f"is that class's score. {'Below' if presenting() else 'On the right'}, what each concept means.")
    if interactive:
        cols = st.columns([1, 1, 1, 1.3])
        for j, (col, title) in enumerate(zip(cols, titles)):
            chart(senn_figure(expls[j], ranges=ranges, title=title), f"concept_expl{j}", f"{stem}-bars-{titles[j].split()[0]}",
                  container=cols[j])
        grid_col = cols[3]
    else:
        wide = presenting()  # presenter mode: the bars as wide as the page (the SVG's text grows with it), the grid under
        bars_col, grid_col = (st, None) if wide else st.columns([3, 1.3])
        picture(explanations_svg(expls, titles, ranges), "", "concept_expl",
                lambda: senn_figures(expls, titles, ranges), f"{stem}-bars", container=bars_col)
        if wide:
            grid_col = st.columns([1.3, 1.7])[0]
    with grid_col, user_errors():
        st.markdown("**What c1 … c" f"{model.config.n_concepts} mean**: each row shows the training digits that "
                    "activate one concept most.")
        train_x = get_split("train", card["data"]["source"])[0]
        figure(partial(grounding_figure, train_x, model.grounding, cell=42),
               lambda: grid_pixels(train_x[model.grounding.cpu().flatten()], cols=model.grounding.shape[1]),
               "concept_grid", file_stem("concept", model=out["model"], extra="grounding"), interactive=interactive,
               caption=f"rows c1 (top) … c{model.config.n_concepts} (bottom)")

    st.subheader("Replay the attack")
    st.markdown("Slide through the attack's steps: the image, its concepts and the prediction at that step.")
    frames = [snap.step for snap in res.snapshots]
    step = st.select_slider("Step", options=frames, value=frames[-1], key="concept_step")
    if step == frames[-1]:  # the last iterate is x*, drawn above: no second copy (2 of the page's 10 charts, the
        # browser's costliest work when a class runs it at once: benchmarks/bench_page_cpu.py)
        st.caption(f"Step {step} is the adversarial x* shown above; slide back to watch its concepts move.")
    else:
        snap = res.snapshots[frames.index(step)]
        step_ranges = senn_ranges([s.explanation for s in res.snapshots])  # one scale for every step
        r1, r2 = st.columns([1, 2])
        figure(partial(image_figure, snap.x[0, 0], f"x at step {step}"), partial(image_pixels, snap.x[0, 0]),
               "concept_replay_img", f"{stem}-step{step}", interactive=interactive, title=f"x at step {step}",
               container=r1)
        figure(partial(senn_figure, snap.explanation, ranges=step_ranges),
               partial(explanations_svg, [snap.explanation], [f"step {step}"], step_ranges), "concept_replay_bars",
               f"{stem}-step{step}-bars", interactive=interactive, container=r2, image=False)
        r1.markdown(prediction_text(snap.explanation.logits[0]))

    if not presenting():
        both = stack(expls)  # x, x*, x_t
        metrics = {**res.to_dict(), "h": both.concepts.tolist(), "theta": both.relevances.tolist()}
        prov = dict(model=out["model"], digits=out["digits"], attack="senn_concept", config=res.config)
        tensors = provenance_npz(**prov, x=res.x, x_adv=res.x_adv, x_target=res.extras["x_target"], h=both.concepts,
                                 theta=both.relevances, objective=res.objective)
        downloads({"adversarial image (PNG, 28×28)": (f"{stem}-x-adv.png", digit_to_png(res.x_adv), "image/png"),
                   "tensors (NPZ)": ("concept_attack.npz", tensors, "application/octet-stream"),
                   "metrics (JSON)": ("concept_attack.json", provenance_json(metrics, **prov), "application/json"),
                   "explanations (CSV)": ("concept_attack.csv", senn_frame(titles, expls).to_csv(index=False).encode(),
                                          "text/csv")}, key="concept")


run_and_show()
