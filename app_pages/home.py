"""Home: what a self-explaining model is, the shipped models with their cards, and a first digit."""
import streamlit as st
import torch

import sem_core
from app_pages.common import MODEL_LABELS, chart, details, get_model, sidebar, test_split_for, user_errors
from sem_core.viz.attacks import predictions_table, probabilities_figure

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
if st.button("Try this: attack a 9 toward a 2", type="primary", key="home_try"):
    st.session_state["concept_autorun"] = True  # the concept page runs the attack once on arrival
    st.switch_page("app_pages/concept_attack.py", query_params={"src": "9", "tgt": "2"})

st.header("Trained models")
names = sem_core.list_shipped()
cols = st.columns(len(names))
for col, name in zip(cols, names):
    with col, user_errors():
        model, card = get_model(name)
        st.subheader(MODEL_LABELS.get(name, name), anchor=False)  # no anchor icon: the columns line up
        st.metric("Test accuracy", f"{card['test_accuracy']:.1%}")
        st.caption(card["data"]["description"])
        if name == "senn":
            st.caption(f"{model.config.n_concepts} concepts")
        if name == "protodl":
            st.caption(f"{model.config.n_prototypes} prototypes")
        with st.expander("Card"):
            st.json({k: v for k, v in card.items() if k != "tensors"}, expanded=False)

st.header("Pick a digit")
with user_errors():
    x_all, y_all, source = test_split_for("senn")
    c1, c2, c3 = st.columns([1, 1, 1])
    digit = c1.selectbox("Class", list(range(10)), index=9, key="home_class")
    idx_of_class = torch.nonzero(y_all == digit).flatten()
    pick = c2.number_input(f"Index among the {len(idx_of_class)} test digits of class {digit}",
                           min_value=0, max_value=len(idx_of_class) - 1, value=0, key="home_index")
    if c3.button("Random digit", key="home_random"):
        g = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, ()).item()))
        st.session_state["home_index"] = int(torch.randint(len(idx_of_class), (1,), generator=g))
        st.rerun()
    i = int(idx_of_class[int(pick)])
    x = x_all[i : i + 1]
    left, right = st.columns([1, 3])
    left.image(x[0, 0].numpy(), caption=f"test digit #{i} (label {digit}, {source})", width=160, clamp=True)
    models = {n: get_model(n)[0] for n in names}
    with torch.no_grad():
        probs = {n: torch.softmax(m(x.to(sem_core.model_device(m))), 1)[0].cpu() for n, m in models.items()}
    right.dataframe(predictions_table(probs), hide_index=True,
                    column_config={"probability": st.column_config.NumberColumn(format="%.3f")})
    chart(probabilities_figure(probs), "home_probs", "class-probabilities", container=right)
