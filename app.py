"""SEM Explorer: router only (page config + navigation).

Start it with ``python app.py [streamlit flags]`` (what ``make app`` runs): the process warms itself (imports, the
shipped models, the test digits: ``sem_core.serve.preload``) while Streamlit's server starts, so the first page
draws at once. ``streamlit run app.py`` works too, without the warm-up."""
import os

# Before torch loads: its OpenMP threads sleep instead of spinning while Streamlit's threads need the cores
# (a 100-step concept attack measured 0.6 s with it, 24 s without, on 2 busy cores; benchmarks/bench_load.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import sys  # noqa: E402

# The attack service's thread gives the GIL up at every torch op; while a page script runs Python, it waited up to
# the switch interval (5 ms by default) to get it back, once per op: a 100-step attack of 10 digits took 52 s beside
# one busy thread instead of 0.9 s; at 0.2 ms it takes 3.4 s (benchmarks/bench_attacks.py --tables gil).
sys.setswitchinterval(float(os.environ.get("SEM_SWITCH_INTERVAL_MS", "0.2")) / 1000)

if __name__ == "__main__" and "streamlit" not in sys.modules:  # `python app.py`: launch (Streamlit runs this file
    from sem_core.serve import preload                        # again as its script, with streamlit imported)

    def server_listens() -> bool:  # sys.modules only: this thread must not import what the main one imports
        module = sys.modules.get("streamlit.runtime.runtime")
        runtime = getattr(getattr(module, "Runtime", None), "_instance", None)
        return runtime is not None and runtime.state is not module.RuntimeState.INITIAL

    preload.start(after=server_listens)   # the server first (0.5 s), so a browser loads the page meanwhile
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", os.path.abspath(__file__), *sys.argv[1:]]
    sys.exit(cli.main())

import streamlit as st  # noqa: E402

st.set_page_config(page_title="SEM Explorer", page_icon="🧠", layout="wide")
# the sidebar's sections, every page always listed (expanded: Streamlit folds a menu of over twelve pages to ten)
pages = {
    "Start here": [
        st.Page("app_pages/home.py", title="Home", icon="🏠", default=True),
        st.Page("app_pages/tour.py", title="Guided tour", icon="🧭", url_path="tour"),
        st.Page("app_pages/quiz.py", title="Classroom quiz", icon="🙋", url_path="quiz"),
    ],
    "Attack an explanation": [
        st.Page("app_pages/concept_attack.py", title="Concept attack (SENN)", icon="🎯", url_path="concept"),
        st.Page("app_pages/prototype_attack.py", title="Prototype attack (PrototypeDL)", icon="🧩",
                url_path="prototype"),
        st.Page("app_pages/saliency_attack.py", title="Saliency attacks", icon="🔥", url_path="saliency"),
        st.Page("app_pages/batch_attack.py", title="Batch attack", icon="📦", url_path="batch"),
        st.Page("app_pages/influence_attack.py", title="Influence attack", icon="🧬", url_path="influence"),
    ],
    "How robust is it?": [
        st.Page("app_pages/defense_comparison.py", title="Defenses", icon="🛡️", url_path="defenses"),
        st.Page("app_pages/lipschitz_stability.py", title="Lipschitz & stability", icon="📈", url_path="lipschitz"),
        st.Page("app_pages/robustness_card.py", title="Robustness card", icon="🪪", url_path="card"),
        st.Page("app_pages/leaderboard.py", title="Leaderboard", icon="🏆", url_path="leaderboard"),
        st.Page("app_pages/sanity_lab.py", title="Sanity checks", icon="🧪", url_path="sanity"),
    ],
    "The papers": [
        st.Page("app_pages/experiment_results.py", title="Experiments", icon="📊", url_path="experiments"),
    ],
}
page = st.navigation(pages, expanded=True)   # the sidebar draws now; the page once the warm-up is done
from sem_core.serve import preload  # noqa: E402

preload.wait(timeout=120)   # never import alongside the warm-up thread (returns at once when there is none)
try:
    page.run()
finally:  # also when the page stops or reruns: after the first run the long-lived objects are loaded
    from sem_core.serve.memory import settle_heap

    settle_heap()  # once per process: later garbage collections skip them (0.5 s each with the GIL held)
    from app_pages.ui.jobs import start_precompute

    start_precompute()  # the default views, behind the first page (not while it draws)
