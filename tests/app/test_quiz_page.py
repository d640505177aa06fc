"""The Classroom quiz page through AppTest (issue 29, point 9): a teacher session opens a room and pushes a question
computed by the attack service, a student session joins and answers, the teacher sees the tally and reveals, the
student sees the result; a forged teacher key gives the student view, an unknown room a message."""
from __future__ import annotations

import re

import pytest

from app_helpers import open_page
from test_no_internal_names import internal_names
from sem_core.serve.quiz import get_rooms, reset_rooms


@pytest.fixture(autouse=True)
def fresh_rooms():
    reset_rooms()
    yield
    reset_rooms()


def raw_texts(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [s.value for s in at.success] + [e.value for e in at.error]
                     + [w.value for w in at.warning] + [c.value for c in at.caption] + [i.value for i in at.info])


def texts(at) -> str:
    """What the page says, its Markdown escapes (of typed or computed text) removed."""
    return re.sub(r"\\(.)", r"\1", raw_texts(at))


def open_room():
    at = open_page("quiz.py")
    assert not at.exception and at.title[0].value == "Classroom quiz"
    at.button(key="quiz_open").click().run()
    code, secret = at.query_params["room"], at.query_params["teacher"]
    assert get_rooms().is_teacher(code, secret)
    return at, code, secret


def test_teacher_and_student_play_one_question():
    teacher, code, secret = open_room()
    assert any(code in h.proto.body for h in teacher.get("html"))                 # the code, big
    labels = teacher.selectbox(key="quiz_kind").options
    assert labels[0] == "Which explanation was attacked? (SENN concepts)" and not any("_" in o for o in labels)
    teacher.button(key="quiz_push").click().run()
    assert not teacher.exception and not teacher.error, [e.value for e in teacher.error]
    assert "Question 1" in [s.value for s in teacher.subheader]
    assert teacher.button(key="quiz_push").label == "Next question"
    assert "0 of 0 students answered" in texts(teacher)

    student = open_page("quiz.py", {"room": code})
    assert not student.get("html") or all(secret not in h.proto.body for h in student.get("html"))
    assert not [b for b in student.button if b.key in ("quiz_push", "quiz_close") or b.key.startswith("quiz_reveal")]
    student.text_input(key="quiz_name").input("Ada *bold*").run()
    student.button(key="quiz_join").click().run()
    assert "seat" in student.query_params and "Ada \\*bold\\*" in raw_texts(student)  # escaped, shown as typed
    answer_buttons = [b for b in student.button if b.key.startswith("quiz_ans1_")]
    assert [b.label for b in answer_buttons] == ["A", "B"]
    answer_buttons[0].click().run()
    assert "Answer recorded: **A**" in texts(student)

    teacher.run()
    assert "1 of 1 students answered" in texts(teacher) and "Ada" in texts(teacher)
    teacher.button(key="quiz_reveal1").click().run()
    truth = get_rooms().state(code).answer
    assert f"The answer: {truth}." in texts(teacher) and "was attacked: its concepts moved toward" in texts(teacher)
    assert [m.label for m in teacher.metric][:1] == ["Distance, natural"]

    student.run()
    assert not internal_names(teacher) and not internal_names(student)   # human labels only
    said = texts(student)
    assert ("Right: **A**" in said) if truth == "A" else ("Not this time" in said)
    assert not student.exception and not teacher.exception


def test_a_forged_teacher_key_gives_the_student_view():
    _, code, secret = open_room()
    forged = open_page("quiz.py", {"room": code, "teacher": secret[:-1] + ("x" if secret[-1] != "x" else "y")})
    assert "teacher key does not belong to this room" in texts(forged)
    assert not [b for b in forged.button if b.key == "quiz_push"]
    assert [b.key for b in forged.button if b.key == "quiz_join"] and not forged.exception


@pytest.mark.parametrize("room", ["ZZZZ", "not-a-code"])
def test_an_unknown_room_says_so(room):
    at = open_page("quiz.py", {"room": room})
    assert not at.exception
    assert "no open room ZZZZ" in texts(at) if room == "ZZZZ" else "not a room code" in texts(at)
    at.button(key="quiz_back").click().run()
    assert "room" not in at.query_params and at.button(key="quiz_open")


@pytest.mark.parametrize("kind", ["attacked_saliency", "changed_most", "label_changed"])
def test_every_kind_of_question_is_pushed_and_drawn(kind):
    teacher, code, _ = open_room()
    teacher.selectbox(key="quiz_kind").set_value(kind).run()
    teacher.button(key="quiz_push").click().run()
    assert not teacher.exception and not teacher.error, [e.value for e in teacher.error]
    assert len(teacher.get("image")) == (2 if kind == "label_changed" else 3)   # digit(s), figure, tally
    state = get_rooms().state(code)
    assert state.question["kind"] == kind and state.answer is None
    student = open_page("quiz.py", {"room": code})
    student.text_input(key="quiz_name").input("Bo").run()
    student.button(key="quiz_join").click().run()
    assert [b.label for b in student.button if b.key.startswith("quiz_ans1_")] == list(state.question["options"])
    teacher.button(key="quiz_reveal1").click().run()
    assert not internal_names(teacher) and not internal_names(student.run())
