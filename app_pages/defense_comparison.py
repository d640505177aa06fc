"""Defenses: the same explanation attack on a natural self-explaining model and on its robust version."""
import streamlit as st

import sem_core
from app_pages.ui.figures import chart
from app_pages.ui.jobs import estimate_caption, link_affordable, run_jobs, timing_caption
from app_pages.ui.layout import details, say_verdict, sidebar, user_errors
from app_pages.ui.pickers import MODEL_LABELS, digit_picker, model_help, test_split_for
from app_pages.ui.settings import settings_controls
from app_pages.ui.state import keep_result, link_wants_result, result_or_stop, url_choice
from sem_core.experiments.defenses import PAIRS
from sem_core.serve.jobs import job_of_spec
from sem_core.serve.views import DEFENSES, attack_view_of, comparison_jobs, comparison_of
from sem_core.viz import image_figure
from sem_core.viz.attacks import senn_figure, senn_ranges
from sem_core.viz.tables import comparison_frame
from sem_core.viz.text import file_stem
from sem_core.viz.verdicts import comparison_verdict, verdict

ATTACK = {"senn": "senn_concept", "protodl": "protodl_prototype"}
FAMILY = {"SENN: concept attack": "senn", "PrototypeDL: prototype attack": "protodl"}

sidebar()
st.title("Defenses")
st.markdown("Can an explanation be trained to resist the attack? Zheng et al. (paper 000, Sec. 5) propose two "
            "defenses for SENN and never build them; here they are, next to an adversarially trained PrototypeDL. "
            "Run **the same attack, on the same digit,** against the natural model and its robust version.")
with details("How the robust models were trained"):
    st.markdown("- **senn-adv**: every training batch runs 5 PGD steps of the concept attack (eq. 1) toward a digit "
                "of another class, and the loss asks h(x*) to stay near h(x), relative to the spread of the batch's "
                "concepts.\n- **senn-madry**: the same idea given a real chance (Madry et al. 2018): 20 PGD steps from a "
                "random point of the ε-ball toward three digits of other classes, and the worst of the three counts."
                "\n- **senn-lip**: a local Lipschitz penalty: how far h moves at a random corner of the "
                "ε-ball, relative to the same spread.\n- **protodl-adv**: the shipped PrototypeDL fine-tuned against "
                "its own attack (eq. 3), asking the digit's own class to keep the nearest prototypes.\n\n"
                "Details and measured results: `python -m sem_core experiment defenses` and docs/RESULTS.md.")

with user_errors():
    c1, c2 = st.columns(2)
    family = FAMILY[url_choice("Attack", "def_family", list(FAMILY), "SENN: concept attack", container=c1)]
    robust_names = [n for n in sem_core.list_shipped(family) if n in PAIRS]  # each beside its natural model
    if not robust_names:
        st.info(f"No robust {family} is shipped: train one with `python -m sem_core train --model {family} "
                f"--defense adversarial --name {family}-adv`.")
        st.stop()
    default = next((m for m in DEFENSES.picks["models"] if m in robust_names), robust_names[0])  # the default view's
    robust = url_choice("Robust model", "def_model", robust_names, default, container=c2, help=model_help(robust_names))
    natural = PAIRS[robust]
    x_all, y_all, _ = test_split_for(natural)
    left, right = st.columns(2)
    with left:
        x, y, caption = digit_picker("def_src", "Digit x (attacked)", DEFENSES.picks["src"][0], x_all, y_all)
    x_t, t_caption = None, ""
    if family == "senn":
        with right:
            x_t, _, t_caption = digit_picker("def_tgt", "Target x_t (concepts to imitate)", DEFENSES.picks["tgt"][0], x_all,
                                     y_all, avoid="def_src")
    view = attack_view_of(DEFENSES, ATTACK[family])  # this family's attack: its declared settings
    settings = settings_controls(view, "def_", containers={"eps": st.columns(3)[0]})
    ready = x is not None and (family != "senn" or x_t is not None)
    jobs = comparison_jobs([natural, robust], ATTACK[family], x, y, x_t, **settings) if ready else {}
    eta = estimate_caption([job_of_spec(spec) for spec in jobs.values()])  # the jobs Run submits
    params = dict(family=family, model=robust, x=caption, t=t_caption, **settings)
    if (st.button("Run on both models", type="primary", disabled=not ready)
            or link_wants_result("def", params, ready, lambda: link_affordable(eta, jobs.values()))) and ready:
        results, _, times = run_jobs(jobs, "Attacking")  # the service records each batch's time for the estimates
        keep_result("def", params, cmp=comparison_of(ATTACK[family], results), family=family, caption=caption,
                    times=times, took=eta.took(times["queue_s"] + times["compute_s"]))

out = result_or_stop("def", "Pick the digits and press **Run on both models**.")
cmp, family = out["cmp"], out["family"]
config = next(iter(cmp.results.values())).config  # the result's own settings, not the controls' now
st.caption(f"{out['caption']}; ε = {config['eps']:g}, {config['steps']} steps; {timing_caption(out['times'])}"
           + ("" if out["times"].get("cached") else f". {out['took']}"))
st.subheader("Did the attack work on each model?")
st.markdown("SENN: the attack succeeds when the concept distance to the target after the attack, ‖h(x*) − h(x_t)‖, "
            "falls far below the one before, ‖h(x) − h(x_t)‖. PrototypeDL: it succeeds when the nearest prototype "
            "stops being of the digit's class while the label is kept.")
natural_name, robust_name = list(cmp.results)[:2]
say_verdict(comparison_verdict(cmp.results, natural_name, robust_name))
each = {name: verdict(res) for name, res in cmp.results.items()}
st.dataframe(comparison_frame(cmp.attack, cmp.results, verdicts={n: v.short for n, v in each.items()}),
             hide_index=True)
cols = st.columns(len(cmp.results))
ranges = senn_ranges([e for r in cmp.results.values() for e in r.explanations.values()]) if family == "senn" else None
for col, (name, res) in zip(cols, cmp.results.items()):
    stem = file_stem("defenses", model=name, digit=int(res.pred_before[0]), eps=res.config["eps"])
    col.markdown(f"**{MODEL_LABELS.get(name, name)}** (`{name}`)")
    say_verdict(each[name], container=col)
    chart(image_figure(res.x_adv[0, 0], "adversarial x*"), f"def_img_{name}", f"{stem}-x-adv", container=col,
          image=True)
    if family == "senn":
        chart(senn_figure(res.explanations["adversarial"], ranges=ranges, title="explanation of x*"),
              f"def_expl_{name}", f"{stem}-bars-adv", container=col)
        chart(senn_figure(res.explanations["target"], ranges=ranges, title="explanation of x_t"),
              f"def_tgt_{name}", f"{stem}-bars-target", container=col)
    else:
        e = res.explanations["adversarial"]
        col.markdown(f"nearest prototype: class **{int(res.explanations['natural'].nearest_class[0])}** → "
                     f"**{int(e.nearest_class[0])}** (label {int(res.pred_after[0])})")
