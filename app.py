"""SEM Explorer: router only (page config + navigation)."""
import streamlit as st

st.set_page_config(page_title="SEM Explorer", page_icon="🧠", layout="wide")
pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/concept_attack.py", title="Concept attack (SENN)", icon="🎯", url_path="concept"),
    st.Page("pages/prototype_attack.py", title="Prototype attack (PrototypeDL)", icon="🧩", url_path="prototype"),
    st.Page("pages/saliency_attack.py", title="Saliency attacks", icon="🔥", url_path="saliency"),
    st.Page("pages/batch_attack.py", title="Batch attack", icon="📦", url_path="batch"),
    st.Page("pages/defense_comparison.py", title="Defenses", icon="🛡️", url_path="defenses"),
    st.Page("pages/lipschitz_stability.py", title="Lipschitz & stability", icon="📈", url_path="lipschitz"),
    st.Page("pages/experiment_results.py", title="Experiments", icon="📊", url_path="experiments"),
]
st.navigation(pages).run()
