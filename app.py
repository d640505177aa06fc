"""SEM Explorer: router only (page config + navigation)."""
import streamlit as st

st.set_page_config(page_title="SEM Explorer", page_icon="🧠", layout="wide")
pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
]
st.navigation(pages).run()
