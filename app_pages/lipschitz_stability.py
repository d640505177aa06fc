"""Lipschitz & stability: how much can an explanation change within an ε-ball? (papers 002 eq. 1, 001 eq. 5)."""
import streamlit as st

from app_pages.ui.downloads import downloads, provenance_json
from app_pages.ui.figures import chart
from app_pages.ui.jobs import estimate_caption, get_model, link_affordable, run_jobs, timing_caption
from app_pages.ui.layout import details, more_settings, presenting, say_verdict, sidebar, user_errors
from app_pages.ui.pickers import model_help, test_split_for
from app_pages.ui.reproduce import reproduce_this
from app_pages.ui.settings import setting_control
from app_pages.ui.state import keep_result, link_wants_result, stale_notice, url_choice
from sem_core import list_shipped
from sem_core.experiments.sampling import pick_digits
from sem_core.serve.estimates import lipschitz_jobs
from sem_core.serve.views import LIPSCHITZ, lipschitz_job
from sem_core.viz.menus import (SELF_EXPLANATION as SELF, lipschitz_explainers, lipschitz_protocol,
                                 lipschitz_protocols, search_label)
from sem_core.viz.lipschitz import lipschitz_box, lipschitz_frame, pair_figure, point_labels, worst_case
from sem_core.viz.verdicts import lipschitz_verdict

sidebar()
st.title("Lipschitz & stability")
st.markdown("A trustworthy explanation should not jump when the digit barely changes. Here the computer "
            "searches, around each digit, for the tiny change that moves the explanation **the most**: a big number "
            "means an unstable explanation. Watch which explainer gets the biggest numbers.")
with details():
    st.markdown("The local Lipschitz estimate of an explainer E at a digit x is the largest relative change of "
                "the explanation found in an ε-ball around x (paper 002, eq. 1):")
    st.latex(r"\hat L(x) = \max_{x' \in B_\varepsilon(x)} \frac{\|E(x) - E(x')\|_2}{\|x - x'\|_2}")
    st.markdown("For SENN's own explanation E = θ(x), the change is measured against the change of its concepts h "
                "(paper 001, eq. 5):")
    st.latex(r"\hat L(x) = \max_{x' \in B_\varepsilon(x)} \frac{\|\theta(x) - \theta(x')\|_2}{\|h(x) - h(x')\|_2}")
    st.markdown("The value is a **lower bound** found by search (gradient ascent where E is differentiable, "
                "Bayesian optimisation otherwise): the true constant can only be larger.")

with user_errors():
    c1, c2 = st.columns([1, 3])
    name = url_choice("Model", "lip_model", list_shipped(), LIPSCHITZ.picks["model"], container=c1,
                      help=model_help(list_shipped()))
    model, card = get_model(name)
    options = lipschitz_explainers(model)
    default = ([SELF] if SELF in options else []) + [e for e in LIPSCHITZ.picks["explainers"] if e in options]
    names = c2.multiselect("Explainers", options, default=default, key=f"lip_expl_{name}")
    settings = more_settings()  # presenter mode: the protocol, ε and budget folded away
    protocol = url_choice("Protocol", "lip_protocol", ["project", *lipschitz_protocols()], "project", container=settings,
                          help="project: gradient ascent for differentiable explainers, BO otherwise, in the ε-ball. "
                               "strict: one search (BO) for all, L∞ ball. authors: the authors' code (box of ε·std per "
                               "pixel, skopt's Gaussian-process minimiser, quickshift LIME, SENN θ_ŷ over ‖Δx‖) — slow.")
    if protocol != "project":
        spec = lipschitz_protocol(protocol)
        settings.caption(f"**{protocol}**: {spec.summary}; ε = {spec.eps} ({spec.neighbourhood}) replaces the slider.")
        with st.expander(f"How protocol {protocol} differs (with sources)"):
            st.markdown("\n".join(f"- {note}" for note in spec.notes) + f"\n\nSources: {'; '.join(spec.citations)}.")
    shown = LIPSCHITZ.shown()  # ε, budget (main) and the search's other settings: one row, folded in presenter mode
    row = st.columns(1 + len(shown))
    n = setting_control(LIPSCHITZ.own["n"], "lip_n", row[0])
    cols = settings.columns(len(shown)) if presenting() else row[1:]
    values = {p.name: setting_control(p, f"lip_{p.name}", col) for p, col in zip(shown, cols)}
    eta = estimate_caption(lipschitz_jobs(name, names, n, values["budget"], protocol).values())
    x_all, y_all, source = test_split_for(name)

    params = dict(model=name, explainers=list(names), n=n, protocol=protocol, **values)
    idx = pick_digits(y_all, n)  # the app's draw (its default seed), as precompute's
    specs = {e: lipschitz_job(name, e, x_all[idx], source=source, protocol=None if protocol == "project" else protocol,
                              **values) for e in names}  # under a protocol only the budget counts
    if (st.button("Run Lipschitz estimates", type="primary", disabled=not names)
            or link_wants_result("lip", params, bool(names), lambda: link_affordable(eta, specs.values()))) and names:
        # skipped: e.g. LRP has no rule for SENN's layers; the service records each job's time for the estimates
        results, skipped, times = run_jobs(specs, "Estimating", skip_errors=True)
        keep_result("lip", params, results=results, skipped=skipped, idx=idx, model=name, settings=values,
                    k=getattr(model.config, "n_concepts", None), times=times,
                    took="" if times["cached"] else eta.took(times["queue_s"] + times["compute_s"]))

out = st.session_state.get("lip_result", {})
for e, msg in out.get("skipped", {}).items():
    st.error(f"{e}: {msg}")
if not out.get("results"):
    st.info("Choose explainers and press **Run Lipschitz estimates**.")
    st.stop()
results, idx = out["results"], out["idx"]
st.header(f"Estimates on {len(idx)} test digits ({out['model']})")
stale_notice("lip")
say_verdict(lipschitz_verdict(results))
reproduce_this(out, hidden=presenting())
if out.get("took"):
    st.caption(out["took"])
st.caption(f"protocol {next(iter(results.values())).config.get('protocol', 'project')}; "
           f"ε = {out['settings']['eps']:g}, budget {out['settings']['budget']} calls per digit; search: "
           + ", ".join(f"{e} → {search_label(r.search)}" for e, r in results.items()) + f"; {timing_caption(out['times'])}")
st.markdown("One box per explainer, one point per digit (log scale); click a point to see its worst case.")
box = lipschitz_box({e: r.values for e, r in results.items()}, digits=idx.tolist())
ev = chart(box, "lip_box", "lipschitz-box", on_select="rerun", selection_mode="points")
labels = point_labels(results, idx.tolist())
keys = {v: k for k, v in labels.items()}
points = ev.selection.points if ev is not None else []
if points:  # a click on the box plot picks the pair shown below
    clicked = keys.get((list(results)[points[0]["curve_number"]], int(points[0]["point_index"])))
    if clicked and st.session_state.get("lip_clicked") != clicked:
        st.session_state["lip_clicked"] = st.session_state["lip_pick"] = clicked
if st.session_state.get("lip_pick") not in labels:  # default: the worst case over everything
    st.session_state["lip_pick"] = max(labels, key=lambda k: float(results[labels[k][0]].values[labels[k][1]]))
e, j = labels[st.selectbox("Explainer + digit", list(labels), key="lip_pick")]

w = worst_case(results[e], j, out["k"] if e == SELF else None)  # SENN's θ: concepts × classes
st.subheader(f"Worst case found for {e} on digit #{int(idx[j])}")
m1, m2, m3, m4 = st.columns(4)
m1.metric("L̂(x)", f"{w.value:.4g}")
m2.metric("‖E(x) − E(x′)‖₂", f"{w.numerator:.4g}")
m3.metric(w.denominator_label, f"{w.denominator:.4g}" if w.value else "0")
m4.metric("‖x − x′‖∞", f"{w.linf:.3f}")
st.markdown("x′ is the point of the ε-ball where the explanation changed the most relative to the input. E(x) and "
            "E(x′) share one colour scale (from 0 for non-negative maps; red positive, blue negative for signed ones); "
            "the last panel is their difference, which shows the change even where the two look alike.")
chart(pair_figure(w.x, w.x_prime, w.expl, w.expl_prime, w.titles), "lip_pair", "lipschitz-worst-case", image=True)

table = lipschitz_frame(results, idx.tolist())
with st.expander("All estimates"):
    st.dataframe(table, hide_index=True)
if not presenting():
    summary = provenance_json({e: r.to_dict() for e, r in results.items()}, out["model"], idx.tolist(), "lipschitz",
                              {"explainers": list(results), **out["settings"],
                               "search": {e: r.search for e, r in results.items()}})
    downloads({"estimates (CSV)": ("lipschitz.csv", table.to_csv(index=False).encode(), "text/csv"),
               "summary (JSON)": ("lipschitz.json", summary, "application/json")}, key="lip")
