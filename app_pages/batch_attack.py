"""Batch attack: one attack on many test digits, with the distributions the papers show and every digit's view."""
import streamlit as st

from app_pages.ui.figures import chart
from app_pages.ui.jobs import link_affordable, model_and_split, service, session_id, timing_caption
from app_pages.ui.layout import attack_status, details, say_verdict, sidebar, user_errors
from app_pages.ui.pickers import MODEL_LABELS, model_choice, model_help, test_split_for
from app_pages.ui.reproduce import remember
from app_pages.ui.settings import setting_control, settings_controls
from app_pages.ui.state import keep_result, link_wants_result, result_or_stop, url_choice, url_number
from sem_core import SemError, list_shipped
from sem_core.batching import batch_rows
from sem_core.serve.views import (BATCH, CONCEPT, PROTOTYPE, SALIENCY as SALIENCY_VIEW, attack_view_of, batch_indices,
                                  batch_jobs)
from sem_core.viz import image_figure
from sem_core.viz.attacks import maps_before_after, senn_figure, senn_ranges
from sem_core.viz.batch import batch_figures, batch_frame, batch_summary
from sem_core.viz.digits import class_position
from sem_core.viz.menus import attack_choice, attack_choices
from sem_core.viz.text import change_look, file_stem
from sem_core.viz.verdicts import attack_label, batch_verdict, verdict, verdicts

FAMILIES = {"Concept attack (SENN)": "senn", "Prototype attack (PrototypeDL)": "protodl", "Saliency attack": "saliency"}
PAGE = {"senn": "concept", "protodl": "prototype", "saliency": "saliency"}
SALIENCY = {label: a.name for label, a in attack_choices("saliency", targeted=False).items()}

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
    top = st.columns(3)
    family = FAMILIES[url_choice("Attack", "b_attack", list(FAMILIES), "Concept attack (SENN)", container=top[0])]
    if family == "saliency":  # the saliency page's default model and attack
        name = url_choice("Model", "b_model", list_shipped(), SALIENCY_VIEW.picks["model"], container=top[1],
                          help=model_help(list_shipped()))
        attack = SALIENCY[url_choice("Saliency attack", "b_kind", list(SALIENCY),
                                     attack_choice(SALIENCY_VIEW.picks["attack"]).label, container=top[0])]
    else:
        name = model_choice(family, key="b_model", container=top[1])
        attack = {"senn": "senn_concept", "protodl": "protodl_prototype"}[family]
    view = attack_view_of(BATCH, attack)  # the chosen attack's declared settings, within the page's bounds
    x_all, y_all, source = test_split_for(name)
    hows = ["class pairs", "class", "random sample"] if family == "senn" else ["class", "random sample"]
    c1, c2, c3, c4, c5 = st.columns(5)
    how = url_choice("Digits", "b_how", hows, BATCH.picks["how"] if BATCH.picks["how"] in hows else hows[0],
                     container=c1, help="class pairs: digits of one class, each imitating a digit of another "
                                        "(paper 000 Fig. 2)")
    own = {"n": setting_control(view.own["n"], "b_n", c2)}
    for param, key, col, unused in ((view.own["source_class"], "b_class", c3, how == "random sample"),
                                    (view.own["target_class"], "b_target", c4, how != "class pairs")):
        # the declared number, greyed out where these digits do not use it (setting_control has no disabled=)
        own[param.name] = url_number(param.label, key, param.default, param.lo, param.hi, integer=True, container=col,
                                     disabled=unused, help=param.help or None)
    own["seed"] = setting_control(view.own["seed"], "b_seed", c5)
    settings = settings_controls(view, "b_", containers={"eps": st.columns(3)[0], "method": top[2]})
    idx, tgt = batch_indices(y_all, how, own["n"], source_class=own["source_class"],
                             target_class=own["target_class"], seed=own["seed"], targets=family == "senn")
    jobs = batch_jobs(name, attack, x_all[idx], y_all[idx], None if tgt is None else x_all[tgt], **settings)
    spec = jobs["attack"]   # a saliency attack also runs the random baseline of the same ε (what judges each digit)
    est = service().estimate(spec)
    st.caption(f"{len(idx)} digits. {est.describe()} (if nothing is cached)")
    params = dict(family=family, model=name, attack=attack, how=how, **own, **settings)
    if st.button("Run batch", type="primary", key="b_run") or (
            "batch_job" not in st.session_state and link_wants_result("batch", params, True,
                                                                       lambda: link_affordable(est, list(jobs.values())))):
        old = st.session_state.pop("batch_job", None)
        if old is not None:
            old["handle"].cancel()
            if old.get("base_handle") is not None:
                old["base_handle"].cancel()
        base = jobs.get("random")
        st.session_state["batch_job"] = dict(handle=service().submit(session_id(), spec), spec=spec, family=family, model=name,
                                             base_handle=None if base is None else service().submit(session_id(), base),
                                             base_spec=base,
                                             idx=idx.tolist(), tgt=None if tgt is None else tgt.tolist(), attack=attack, est=est,
                                             params=params)

job = st.session_state.get("batch_job")
if job is not None and not job["handle"].done():
    cancel = st.empty()   # cleared once the job is done: no Cancel button under a finished result
    if cancel.button("Cancel", key="b_cancel"):  # the click reruns the page: the job stops here
        job["handle"].cancel()
        if job.get("base_handle") is not None:
            job["base_handle"].cancel()
    else:
        bar = st.progress(0.0, text=job["handle"].status())
        while not job["handle"].wait(0.2):
            bar.progress(job["handle"].progress, text=job["handle"].status())
        bar.empty()
        cancel.empty()
if job is not None and job["handle"].done():
    base_handle = job.get("base_handle")
    if base_handle is not None and not base_handle.done():
        with st.spinner("The random baseline of the same ε…"):
            base_handle.wait()
    st.session_state.pop("batch_job")
    handle, spec = job.pop("handle"), job.pop("spec")
    base_handle, base_spec = job.pop("base_handle", None), job.pop("base_spec", None)
    try:  # the last result replaces the one before (issue 16: one batch result per session)
        res = handle.result()
        remember(spec, res, lambda: model_and_split(spec.model))
        base = None if base_handle is None else base_handle.result()
        keep_result("batch", job.pop("params"), **dict(job, res=res, base=base,
                                                       times=dict(handle.timings(), cached=handle.cached == handle.n)))
    except SemError as exc:
        st.error(str(exc))

out = result_or_stop("batch", "Choose the digits and press **Run batch**.")
res, family = out["res"], out["family"]
attack_status(res)
st.subheader(f"{len(out['idx'])} digits: {attack_label(out['attack'])} on "
             f"{MODEL_LABELS.get(out['model'], out['model'])}")
base = out.get("base")   # the random baseline beside a saliency attack (None for the others)
say_verdict(batch_verdict(res, baseline=base))
st.caption(timing_caption(out["times"]) + ("" if out["times"]["cached"] else
                                           f"; {out['est'].took(out['times']['compute_s']).lower()}"))
summary = batch_summary(res)
shown = list(summary.items())[:6]
for row in (shown[:3], shown[3:]):  # three to a row: the labels ("Concept distance to target (after) (median)") fit
    for col, (key, value) in zip(st.columns(3), row):
        col.metric(key, f"{value:.0%}" if key == "Labels kept" else f"{value:.3f}")
stem = file_stem("batch", model=out["model"], attack=out["attack"], eps=res.config.get("eps"),
                 extra=f"n{len(out['idx'])}")
for i, fig in enumerate(batch_figures(res, family)):
    chart(fig, f"b_fig{i}", f"{stem}-distribution-{i}")

st.subheader("Every digit")
st.markdown("Select a row to see that digit's attack.")
table = batch_frame(res, out["idx"], out["tgt"], verdicts=[v.short for v in verdicts(res, base)])
picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key="b_table")
rows = picked.selection.rows
if not rows:
    st.stop()
r = rows[0]
one = batch_rows(res, r, r + 1)
i = out["idx"][r]
st.markdown(f"**Test digit #{i}** (label {int(one.y[0])}): prediction {int(one.pred_before[0])} → "
            f"{int(one.pred_after[0])}, ‖δ‖∞ = {float(one.linf[0]):.3f} ({change_look(float(one.linf[0]))})")
say_verdict(verdict(one, baseline=None if base is None else batch_rows(base, r, r + 1)))
cols = st.columns(3)
one_stem = file_stem("batch", model=out["model"], attack=out["attack"], digit=int(one.y[0]), eps=one.config.get("eps"),
                     extra=f"test{i}")
chart(image_figure(one.x[0, 0], "natural x"), "b_x", f"{one_stem}-natural", container=cols[0], image=True)
chart(image_figure(one.x_adv[0, 0], "adversarial x*"), "b_xadv", f"{one_stem}-adversarial", container=cols[1], image=True)
if family == "senn":
    expls = [one.explanations[k] for k in ("natural", "adversarial", "target")]
    chart(image_figure(one.extras["x_target"][0, 0], "target x_t"), "b_xt", f"{one_stem}-target", container=cols[2], image=True)
    for col, e, k in zip(st.columns(3), expls, ("nat", "adv", "tgt")):
        chart(senn_figure(e, ranges=senn_ranges(expls)), f"b_senn_{k}", f"{one_stem}-concepts-{k}", container=col)
elif family == "saliency":
    chart(maps_before_after(one.explanations["natural"][0, 0], one.explanations["adversarial"][0, 0],
                            images=(one.x[0, 0], one.x_adv[0, 0])), "b_maps", f"{one_stem}-saliency-maps", image=True)


def url_text(value) -> str:
    """A setting's value as a page's URL holds it: yes/no for a bool (the menu's labels), 0.3 for a float."""
    return ("yes" if value else "no") if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) \
        else str(value)


def in_link(view, prefix: str = "") -> str:
    """The result's settings that ``view``'s page shows, as ``&name=value`` of that page's URL."""
    return "".join(f"&{prefix}{p.name}={url_text(res.config[p.name])}" for p in view.shown() if p.name in res.config)


c, k = class_position(y_all, i)
if family == "senn":
    tc, tk = class_position(y_all, out["tgt"][r])
    link = f"concept?model={out['model']}&src={c}&src_i={k}&tgt={tc}&tgt_i={tk}" + in_link(CONCEPT)
elif family == "protodl":
    link = f"prototype?model={out['model']}&digits={c}&which={min(k, PROTOTYPE.own['which'].hi)}" + in_link(PROTOTYPE)
else:
    link = f"saliency?sal_model={out['model']}&sal_digit={c}&sal_digit_i={k}" + in_link(SALIENCY_VIEW, "sal_")
st.markdown(f"[Open this digit on the {PAGE[family]} page]({link}) (press Run there for every panel and the replay).")
