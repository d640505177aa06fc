"""The classroom quiz's parts shared by the teacher's and the students' views: the room's links, a question with
its pictures, the class's answers and the reveal, and pushing a question computed by the attack service.

    code, secret = rooms().open()
    push_question(code, secret, "attacked_concepts", 9)   # one service job (cached), then the room's question
    show_question(rooms().state(code).question)
"""
from __future__ import annotations

from urllib.parse import urlsplit

import streamlit as st

from app_pages.ui.figures import png_data_url
from app_pages.ui.jobs import run_job
from app_pages.ui.pickers import test_split_for
from sem_core.serve.quiz import QuizRooms, RoomState, get_rooms
from sem_core.serve.quiz_questions import QUESTION_KINDS, question_seed
from sem_core.viz.quiz import question_pictures, tally_svg
from sem_core.viz.text import escape_markdown as safe_text

CODE_HTML = ('<div style="font-size:{size}rem;font-weight:700;letter-spacing:0.25em;line-height:1.1;'
             'font-family:monospace" data-room-code="{code}">{code}</div>')


def rooms() -> QuizRooms:
    """The process's quiz rooms (``sem_core.serve.quiz.get_rooms``)."""
    return get_rooms()


def room_link(code: str, **more: str) -> str:
    """The quiz page's address for room ``code`` (with ``more`` query parameters), from the address this browser
    used (a class on the LAN sees the teacher's host name); relative when the page does not know it."""
    query = "&".join([f"room={code}", *(f"{k}={v}" for k, v in more.items())])
    url = getattr(st.context, "url", None) or ""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return f"{base}/quiz?{query}"


def room_code(code: str, size: float = 5.0) -> None:
    """The room code in big letters (readable from the back of a classroom)."""
    st.html(CODE_HTML.format(code=code, size=size))


def push_question(code: str, secret: str, kind_name: str, digit: int) -> int:
    """Compute a question of ``kind_name`` about the first test digit of class ``digit`` (one service job, served
    from the result cache when any session ran it) and push it to the room; returns its number."""
    kind = QUESTION_KINDS.get(kind_name)
    x_all, y_all, _ = test_split_for(kind.model)
    res, _ = run_job(kind.job(x_all, y_all, int(digit)), "Computing the question…")
    number = rooms().state(code).number + 1
    return rooms().push(code, secret, kind.build(res, question_seed(code, number)))


def show_question(question: dict, number: int) -> None:
    """The question's words and pictures (what every student sees; never its answer)."""
    st.subheader(f"Question {number}")
    st.markdown(safe_text(question["prompt"], limit=400))
    pictures = question_pictures(question)
    widths = [1] + [3] * (len(pictures) - 1) if len(pictures) > 1 else [1, 2]
    for col, (caption, pic) in zip(st.columns(widths, gap="large"), pictures):
        col.image(pic if isinstance(pic, str) else png_data_url(pic), caption=caption or None,
                  width=224 if caption == "the digit" else "stretch")


def show_tally(state: RoomState) -> None:
    """How many students answered, and how many chose each option (green: the right one, after the reveal)."""
    st.markdown(f"**{state.answered} of {state.students} students answered**")
    st.image(tally_svg(state.tally, state.answer), width="stretch")


def show_reveal(state: RoomState) -> None:
    """The answer, its one-sentence explanation with the real numbers, and the share of the class that got it."""
    share = state.correct_share()
    said = f" {share:.0%} of the class got it right." if share is not None else ""
    st.success(f"**The answer: {safe_text(state.answer)}.** {safe_text(state.explanation, limit=400)}{said}")
    cols = st.columns(min(len(state.numbers), 4) or 1)
    for col, (label, value) in zip(cols * 4, list(state.numbers.items())[:4]):
        col.metric(label[0].upper() + label[1:], f"{value:.2f}")


def names_caption(state: RoomState) -> None:
    """Who has joined (escaped: names are typed by students)."""
    if state.names:
        st.caption("Joined: " + ", ".join(safe_text(n) for n in state.names))
    else:
        st.caption("Nobody has joined yet.")
