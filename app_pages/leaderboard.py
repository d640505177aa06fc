"""Leaderboard: the models ranked on their robustness cards' headline numbers, with intervals (issue 31)."""
import streamlit as st

from app_pages.ui.layout import sidebar, user_errors
from app_pages.ui.userdata import SHIPPED_RESULTS, results_dir
from sem_core.errors import SemError
from sem_core.experiments.card import HEADLINES
from sem_core.experiments.leaderboard import board_command, build, leaderboard_markdown, read_entry
from sem_core.viz.card import interval_text
from sem_core.viz.text import escape_markdown

SHIPPED = SHIPPED_RESULTS / "cards"
MINE = results_dir() / "cards"
COMMAND = board_command()

sidebar()
st.title("Leaderboard")
st.markdown("Which model's explanations hold up best? Each model's robustness card, ranked by how much of its "
            "saliency map's top pixels survive the top-k attack (most robust first). Every number comes with its 95 % "
            "interval over the attacked digits; a dash means the model has no such explanation.")

entries, skipped = [], []
failed = lambda folder, exc: " ".join(  # noqa: E731 - the check's message, which may name the folder itself
    (str(exc) if str(exc).startswith(f"{folder.name}:") else f"{folder.name}: {exc}").split())[:200]
for folder in sorted(p.parent for p in SHIPPED.glob("*/manifest.json")):
    try:
        entries.append(read_entry(folder, folder.name))
    except (SemError, OSError, ValueError, KeyError) as exc:   # a card failing its checks: listed, never shown
        skipped.append(failed(folder, exc))
mine = sorted(p.parent for p in MINE.glob("*/manifest.json")) if MINE.is_dir() else []
if mine and st.toggle("Add my own cards", key="lb_mine", help=f"the cards you made on the Robustness card page "
                                                              f"({len(mine)} in your data folder)"):
    for folder in mine:
        try:
            entries.append(read_entry(folder, f"{folder.name} (yours)"))
        except (SemError, OSError, ValueError, KeyError) as exc:
            skipped.append(failed(folder, exc))

if not entries:
    st.info("No verified cards to rank yet. Make one on the Robustness card page, or run "
            f"`{COMMAND} --out docs/LEADERBOARD.md`.")
else:
    with user_errors():
        board = build(entries)
        table = {"Rank": list(range(1, len(board.entries) + 1)), "Model": [e.name for e in board.entries],
                 "Accuracy": [f"{e.doc['model']['accuracy']:.1%}" for e in board.entries]}
        for key, label, up in HEADLINES:
            table[f"{label} ({'higher' if up else 'lower'} is better)"] = [
                interval_text(e.doc["headline"].get(key)) for e in board.entries]
        table["Papers' fragility findings hold"] = [
            {"reproduced": "yes", "partly": "some", "not": "no"}.get(e.doc["verdict"]["value"], "?")
            for e in board.entries]
        st.table(table, hide_index=True, border="horizontal")   # every column in view, the headers wrapped
        if board.pairs:
            st.subheader("Defended models beside their natural partners")
            st.caption("Judged by the defenses experiment's own rule on the cards' numbers (paired over the same "
                       "digits where the rule pairs them).")
            label = {k: lab for k, lab, _ in HEADLINES}
            st.table({"Defended": [p["robust"] for p in board.pairs],
                      "Natural": [p["natural"] for p in board.pairs],
                      "Measure": [label[p["measure"]] for p in board.pairs],
                      "Defended value": [interval_text(p["robust_value"]) for p in board.pairs],
                      "Natural value": [interval_text(p["natural_value"]) for p in board.pairs],
                      "Ranks above": ["yes" if p["ranks_above"] else "no" for p in board.pairs],
                      "Defense holds": ["yes" if p["defense_holds"] else "no" for p in board.pairs]},
                     hide_index=True, border="horizontal")
        for note in board.notes:
            st.caption(escape_markdown(note, limit=300))
        st.download_button("Download the leaderboard (Markdown)", leaderboard_markdown(board, COMMAND),
                           "leaderboard.md", "text/markdown")
for line in skipped:
    st.warning(f"Not shown (it failed its checks): {escape_markdown(line, limit=300)}")
