"""Classroom quiz: the teacher opens a room, students join with its code from their own browsers, answer questions
computed from real attacks, and the projector shows the class's answers live, then the reveal with the numbers."""
import streamlit as st

from app_pages.ui.layout import details, presenting, sidebar, user_errors
from app_pages.ui.quiz import (names_caption, push_question, room_code, room_link, rooms, show_question, show_reveal,
                               show_tally)
from sem_core.errors import SemError
from sem_core.serve.quiz import NAME_LIMIT, clean_code
from sem_core.serve.quiz_questions import QUESTION_KINDS, QUESTION_ORDER
from sem_core.serve.views import CONCEPT
from sem_core.viz.text import escape_markdown as safe_text

TEACHER_REFRESH_S, STUDENT_REFRESH_S = 1.0, 2.0   # the live tally; a student's wait for the next question

sidebar()
st.title("Classroom quiz")


def lobby() -> None:
    """No room in the URL: open one (the teacher) or type a code (a student)."""
    st.markdown("Ask your class questions about real attacks: open a room, show its code on the projector, and "
                "everyone answers from their own browser.")
    with details("How it works: rooms, limits and privacy"):
        room_limits = rooms()
        st.markdown(f"A room holds up to {room_limits.capacity} students and closes after "
                    f"{room_limits.ttl_s / 3600:g} h without activity. The teacher's link carries a secret key: only "
                    "that link can push questions, reveal answers or close the room. Students give a first name only.")
    left, right = st.columns(2)
    with left:
        st.subheader("Teacher")
        if st.button("Open a room", type="primary", key="quiz_open"):
            with user_errors():
                code, secret = rooms().open()
                st.query_params.update(room=code, teacher=secret)
                st.rerun()
    with right:
        st.subheader("Student")
        typed = st.text_input("Room code", max_chars=8, key="quiz_code", placeholder="e.g. K7Q2")
        if st.button("Go to the room", key="quiz_go"):
            with user_errors():
                st.query_params["room"] = clean_code(typed)
                st.rerun()


def teacher(code: str, secret: str) -> None:
    """The teacher's view: the code and links, the question picker, the live answers, reveal and close."""
    top, links = st.columns([1, 2])
    with top:
        st.markdown("**Join at the link, room code:**")
        room_code(code)
    with links:
        st.markdown("**Students open:**")
        st.code(room_link(code), language=None, wrap_lines=True)
        with st.expander("Your teacher link (keep it to yourself: it can push and reveal)"):
            st.code(room_link(code, teacher=secret), language=None, wrap_lines=True)
    number = rooms().state(code).number
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    kind = c1.selectbox("Question", QUESTION_ORDER, format_func=lambda k: QUESTION_KINDS.get(k).label,
                        key="quiz_kind")
    digit = c2.selectbox("Digit", list(range(10)), index=CONCEPT.picks["src"][0], key="quiz_digit")
    if c3.button("Push question" if number == 0 else "Next question", type="primary", key="quiz_push"):
        with user_errors():
            push_question(code, secret, kind, digit)
            st.rerun()                 # the whole page: its button now says "Next question"
    live_answers(code, secret)
    if not presenting():
        with st.expander("Close the room"):
            st.markdown("Closing ends the quiz for everyone: the code stops working.")
            if st.button("Close room", key="quiz_close"):
                with user_errors():
                    rooms().close(code, secret)
                    st.query_params.clear()
                    st.rerun()


@st.fragment(run_every=TEACHER_REFRESH_S)
def live_answers(code: str, secret: str) -> None:
    """The current question as the students see it, their answers as they come in, and the Reveal button."""
    with user_errors():
        state = rooms().state(code)
        names_caption(state)
        if state.question is None:
            st.info("No question yet: pick one above and press **Push question**.")
            return
        show_question(state.question, state.number)
        show_tally(state)
        if not state.revealed:
            if st.button("Reveal the answer", type="primary", key=f"quiz_reveal{state.number}"):
                rooms().reveal(code, secret)
                state = rooms().state(code)
                show_reveal(state)
        else:
            show_reveal(state)


def student(code: str) -> None:
    """A student's view: join with a name, then the current question, the answer buttons and the result."""
    seat = st.query_params.get("seat")
    name = rooms().name_of(code, seat) if seat else None
    if name is None:
        st.markdown(f"You are joining room **{code}**. Type your first name and press **Join**.")
        typed = st.text_input("Your name", max_chars=NAME_LIMIT, key="quiz_name")
        if st.button("Join", type="primary", key="quiz_join"):
            with user_errors():
                st.query_params["seat"] = rooms().join(code, typed)
                st.rerun()
        return
    st.markdown(f"Room **{code}**: you are **{safe_text(name)}**.")
    student_question(code, seat)


@st.fragment(run_every=STUDENT_REFRESH_S)
def student_question(code: str, seat: str) -> None:
    """The question on screen, one button per answer, and after the reveal whether the answer was right."""
    with user_errors():
        state = rooms().state(code)
        if state.question is None:
            st.info("Waiting for the teacher's first question…")
            return
        show_question(state.question, state.number)
        options = state.question["options"]
        per_row = 6
        for start in range(0, len(options), per_row):
            cols = st.columns(per_row)
            for col, option in zip(cols, options[start:start + per_row]):
                if col.button(option, key=f"quiz_ans{state.number}_{option}", disabled=state.revealed,
                              width="stretch"):
                    rooms().answer(code, seat, state.number, option)
        mine = rooms().my_answer(code, seat)
        if state.revealed:
            if mine is None:
                st.warning(f"You did not answer this one. The answer: **{safe_text(state.answer)}**.")
            elif mine == state.answer:
                st.success(f"Right: **{safe_text(mine)}**!")
            else:
                st.error(f"Not this time: you said **{safe_text(mine)}**, the answer is **{safe_text(state.answer)}**.")
            show_reveal(state)
        elif mine is not None:
            st.success(f"Answer recorded: **{safe_text(mine)}**. You can change it until the teacher reveals it.")
        else:
            st.caption("Press the button of your answer.")


raw_code = st.query_params.get("room")
if raw_code is None:
    lobby()
else:
    try:
        room = clean_code(raw_code)
        rooms().state(room)            # unknown or expired: a clear message
    except SemError as exc:
        st.error(str(exc))
        if st.button("Back to the quiz's start", key="quiz_back"):
            st.query_params.clear()
            st.rerun()
    else:
        key = st.query_params.get("teacher")
        with user_errors():            # the room may expire between two lines: still a message
            if key is not None and rooms().is_teacher(room, key):
                teacher(room, key)
            else:
                if key is not None:
                    st.warning("This link's teacher key does not belong to this room, so this is a student's view.")
                student(room)
