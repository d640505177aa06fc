"""Experiments: the papers' dataset-level figures from saved result folders, and runs on a chosen N."""
from pathlib import Path

import streamlit as st

from app_pages.ui.figures import chart
from app_pages.ui.jobs import estimate_caption
from app_pages.ui.layout import details, more_settings, presenting, sidebar, user_errors
from app_pages.ui.settings import setting_control
from app_pages.ui.state import url_choice
from app_pages.ui.userdata import SHIPPED_RESULTS, results_dir
from sem_core.experiments import EXPERIMENTS, compute_seconds, list_experiments
from sem_core.experiments.integrity import SEAL_STATES
from sem_core.errors import SemError
from sem_core.experiments.runner import open_results, shown_verdict, valid_for_code
from sem_core.experiments.launch import digits_param, run_in_folder
from sem_core.serve.estimates import experiment_job, get_estimator
from sem_core.viz.experiments import readable, sanitized
from sem_core.viz.text import escape_markdown

ROOT = results_dir()  # runs started here: a per-user folder, never the repository
VERDICT_ICON = {"reproduced": "✅", "partly": "🟡", "not": "❌"}

sidebar()
st.title("Experiments")
st.markdown("Does each paper's claim hold on many digits, not just one? Each saved run below shows the claim, "
            "the verdict and the figure; shipped runs come with the app, your own runs go to your data folder.")


def folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/manifest.json")) if root.is_dir() else []


shipped = {p.name: p for p in folders(SHIPPED_RESULTS)} if ROOT.resolve() != SHIPPED_RESULTS else {}
mine = {(f"{p.name} (yours)" if p.name in shipped else p.name): p for p in folders(ROOT)}
saved = {**mine, **shipped}  # your runs first
if not mine:
    st.info(f"No runs of your own yet in {escape_markdown(str(ROOT), limit=200)}. Run one below.")
if saved:
    labels = saved
    just_ran = st.session_state.pop("exp_just_ran", None)
    if just_ran in labels:  # show the run that just finished
        st.session_state["exp_folder"] = just_ran
    choice = url_choice("Saved result", "exp_folder", list(labels), list(labels)[0])
    with user_errors():
        manifest, figures, seal = open_results(labels[choice])   # the seal checked once
        if choice == just_ran and st.session_state.pop("exp_from_cache", False):
            st.success("Your run is shown from the cache: result from the cache (made before with the same "
                       "parameters, code and models).")  # the result line (benchmarks/bench_latency.py waits for it)
        elif choice == just_ran:
            done, reused = manifest["chunks_computed"], manifest["chunks_reused"]
            st.success(f"Your run finished: {done} chunk{'s' * (done != 1)} computed, {reused} reused from an "
                       f"earlier run.")
        exp = EXPERIMENTS.get(manifest["experiment"])   # the claim, paper and notes are the code's, not the file's
        current = valid_for_code(manifest)
        try:
            verdict, reason, note = shown_verdict(manifest)
        except SemError:   # a run older than today's rule: its summary lacks what the rule reads
            verdict = None
        st.subheader(f"{manifest['experiment']} — {exp.paper}")
        st.markdown(f"**Claim.** {exp.claim}")
        if verdict is None:
            st.warning("No verdict: this run was computed by older code, and today's rule (intervals, scale-free "
                       "numbers) needs numbers it did not record. Run it again below to get one.")
        else:
            st.markdown(f"**Verdict: {VERDICT_ICON.get(verdict, '')} {verdict}** — {escape_markdown(reason, limit=600)}")
            if note:
                st.warning(note)
        if not current and verdict is not None:
            st.warning("Stale: this run was computed by other code than this version's (neither its code digest nor "
                       "its behavioural fingerprint matches); today's code may give other numbers.")
        if seal != "signed" and labels[choice] in mine.values():
            st.warning(f"This run of yours is {SEAL_STATES[seal]}: its numbers are shown as the folder holds them.")
        st.caption(f"Integrity: {SEAL_STATES[seal]}; the verdict is recomputed from its numbers.")
        c1, c2, c3 = st.columns(3)
        c1.metric("digits (N)", manifest["params"].get("n"))
        seconds = compute_seconds(manifest)
        c2.metric("compute seconds", "under 0.1" if seconds < 0.05 else f"{seconds:.1f}" if seconds < 10
                  else f"{seconds:.0f}",
                  help="all chunks (also those of earlier, resumed runs) plus training the experiment did itself")
        c3.metric("chunks computed / reused", f"{manifest['chunks_computed']} / {manifest['chunks_reused']}")
        for name, entry in manifest["figures"].items():
            if name not in figures:  # its plotly JSON is missing or corrupt (load_results skipped it)
                st.warning(f"Skipped figure {escape_markdown(name)}: "
                           f"{escape_markdown(labels[choice] / entry.get('json', entry['html']), limit=200)} "
                           "is missing or not a readable plotly figure.")
        for name, fig in figures.items():   # stored figures: no links, no remote images, only plain text
            chart(readable(sanitized(fig)), f"fig_{labels[choice].name}_{name}", f"{labels[choice].name}-{name}")
        with details("How to reproduce it, and how it differs from the paper") if presenting() else st.container():
            st.caption("Reproduce with:")
            st.code(manifest["command"], language="bash")
            if manifest.get("notes"):   # the run's own notes (its protocol then), shown as text
                st.markdown(f"**Differences from the paper's protocol.** "
                            f"{escape_markdown(manifest['notes'], limit=3000)}")
        with st.expander("Summary numbers and parameters"):
            st.json({"summary": manifest["summary"], "params": manifest["params"], "command": manifest["command"],
                     "data_source": manifest["data_source"], "device": manifest["device"]}, expanded=False)

st.header("Run an experiment")
c1, c2 = st.columns(2)
QUICK = "faithfulness"  # the default run: seconds on a CPU (defenses or senn-lambda take many minutes)
name = url_choice("Experiment", "exp_name", list_experiments(),
                  QUICK if QUICK in list_experiments() else list_experiments()[0], container=c1)
with more_settings():  # presenter mode: the default N, folded away
    n = setting_control(digits_param(name), "exp_n", st if presenting() else c2)  # the experiment's N, kept short
st.caption(f"Reproduces {EXPERIMENTS.get(name).paper}. {EXPERIMENTS.get(name).claim} "
           f"Your runs are written to {escape_markdown(str(ROOT), limit=200)}.")
get_estimator().record_saved([*shipped.values(), *mine.values()])  # their compute seconds seed the estimate
eta = estimate_caption(experiment_job(name, n))
if "exp_took" in st.session_state:
    st.caption(st.session_state["exp_took"])
if st.button("Run experiment", type="primary", key="exp_run"):
    bar = st.progress(0.0, text="starting…")
    with user_errors():  # an identical finished run in your folder is shown, not redone; else run or resumed there
        try:
            run = run_in_folder(name, ROOT, int(n),
                                on_step=lambda done, total: bar.progress(done / total, text=f"chunk {done}/{total}"))
        finally:   # refused (another session's run holds the folder) or failed: no "starting…" bar left behind
            bar.empty()
        if run.fresh:  # a resumed run reused chunks: not a measure of a fresh one
            get_estimator().record(experiment_job(name, n), run.seconds)
        took = "shown from your earlier run" if run.reused else eta.took(run.seconds).lower()
        st.session_state.update(exp_took=f"{name} on {n} digits: {took}", exp_from_cache=run.reused,
                                exp_just_ran=run.folder.name)
        st.rerun()
