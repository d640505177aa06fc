"""Home: what a self-explaining model is, the shipped models with their cards, and a first digit."""
import random

import pandas as pd

import streamlit as st

import sem_core
from app_pages.ui.figures import chart
from app_pages.ui.jobs import get_model
from app_pages.ui.layout import details, sidebar, user_errors
from app_pages.ui.pickers import MODEL_LABELS, test_split_for
from app_pages.ui.userdata import add_uploaded_model
from sem_core.serve.views import CONCEPT
from sem_core.viz.attacks import predictions_table, probabilities_figure
from sem_core.viz.digits import class_indices, class_probabilities
from sem_core.viz.text import escape_markdown

sidebar()
st.title("SEM Explorer")
st.markdown(
    "A **self-explaining model** explains each prediction with its own building blocks: "
    "SENN scores a few learnt *concepts* h(x) and weighs them with *relevances* θ(x); "
    "PrototypeDL compares the digit with learnt *prototypes*. "
    "SEM Explorer attacks those explanations: the prediction stays, the explanation breaks."
)
with details("How SENN explains: the formula"):
    st.latex(r"f(x) = \sum_{i=1}^{k} \theta_i(x)\, h_i(x)")
st.page_link("app_pages/tour.py", label="Teaching a class? Start the guided tour (four steps, one button each)",
             icon=":material/school:")
(src, src_i), (tgt, tgt_i) = CONCEPT.picks["src"], CONCEPT.picks["tgt"]  # the concept page's default view
if st.button(f"Try this: attack a {src} toward a {tgt}", type="primary", key="home_try"):
    st.session_state["concept_autorun"] = True  # the concept page runs the attack once on arrival
    st.switch_page("app_pages/concept_attack.py",
                   query_params={"src": str(src), "src_i": str(src_i), "tgt": str(tgt), "tgt_i": str(tgt_i)})

st.header("Trained models")
names = sem_core.list_shipped()
PER_ROW = 3   # three models a row: names and accuracies are never cut, at 1280 px or on a projector
cols = [col for row in range(0, len(names), PER_ROW) for col in st.columns(PER_ROW)]
for col, name in zip(cols, names):
    with col, user_errors():
        model, card = get_model(name)
        st.subheader(MODEL_LABELS.get(name, escape_markdown(name)), anchor=False)  # no anchor: the columns line up
        st.metric("Test accuracy", f"{card['test_accuracy']:.1%}")
        st.caption(escape_markdown(card["data"]["description"], limit=300))   # a user's card is text, not markup
        if name == "senn":
            st.caption(f"{model.config.n_concepts} concepts")
        if name == "protodl":
            st.caption(f"{model.config.n_prototypes} prototypes")
        with st.expander("Card"):
            st.json({k: v for k, v in card.items() if k != "tensors"}, expanded=False)

with st.expander("Add your own model: a checkpoint of a known architecture"):
    st.markdown("Upload the card (`.json`) and the weights (`.safetensors`) that `save_checkpoint` wrote. Weights "
                "only: no code is run, the architecture must be one this server knows (shipped, or a plug-in it "
                "imports: `SEM_PLUGINS`), the weights must match the card's SHA-256 and fit this server's upload limit "
                "(larger models: `SEM_MODELS_DIR`). The model is then listed on every page, for every session of "
                "this server.")
    files = st.file_uploader("Card and weights", type=["json", "safetensors"], accept_multiple_files=True,
                             key="home_model_files")
    if st.button("Add the model", disabled=len(files or []) != 2, key="home_add_model"):
        with user_errors():
            st.success(f"Added as **{add_uploaded_model(files)}**: pick it in any page's model list.")

st.header("Pick a digit")
with user_errors():
    x_all, y_all, source = test_split_for("senn")
    c1, c2, c3 = st.columns([1, 1, 1])
    digit = c1.selectbox("Class", list(range(10)), index=src, key="home_class")  # the digit "Try this" attacks
    idx_of_class = class_indices(y_all, digit)
    pick = c2.selectbox(f"Index among the {len(idx_of_class)} test digits of class {digit}",
                        range(len(idx_of_class)), index=min(src_i, len(idx_of_class) - 1), key="home_index")
    if c3.button("Random digit", key="home_random"):
        st.session_state["home_index"] = random.randrange(len(idx_of_class))
        st.rerun()
    i = int(idx_of_class[int(pick)])
    x = x_all[i : i + 1]
    left, right = st.columns([1, 3])
    left.image(x[0, 0].numpy(), caption=f"test digit #{i} (label {digit}, {source})", width=160, clamp=True)
    probs = class_probabilities({n: get_model(n)[0] for n in names}, x)
    # a static table and the chart on demand: a page's first plotly chart loads plotly.js (0.7 s in the browser
    # here) and an interactive grid 0.35 s, both on the way to the page a teacher opens first (issue 29, point 8)
    table = pd.DataFrame([{"model": MODEL_LABELS.get(r["model"], r["model"]), "predicted class": r["prediction"],
                           "probability": r["probability"]} for r in predictions_table(probs)])
    right.table(table.style.format({"probability": "{:.3f}"}), hide_index=True)
    if right.toggle("Show every class's probability as a chart", key="home_probs_chart"):
        chart(probabilities_figure(probs), "home_probs", "class-probabilities", container=right)
