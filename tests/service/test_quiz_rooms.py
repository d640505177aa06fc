"""The classroom quiz's rooms (issue 29, point 9): joining, capacity, one answer per student, the tally, the teacher's
secret as the only key to push, reveal and close, expiry on an injected clock, unique codes, concurrent joins."""
from __future__ import annotations

import threading

import pytest

from sem_core.errors import SemError
from sem_core.serve.quiz import (ALPHABET, CODE_LENGTH, Question, QuizRooms, clean_code, clean_name, get_rooms,
                                 reset_rooms)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def question(answer: str = "B", options=("A", "B")) -> Question:
    return Question("attacked_concepts", "Which one?", tuple(options), {"bars": [[1.0], [2.0]]}, answer,
                    f"{answer} was attacked.", {"distance": 0.3})


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def rooms(clock):
    return QuizRooms(ttl_s=60, capacity=5, max_rooms=3, clock=clock)


def test_codes_are_short_unambiguous_and_unique():
    many = QuizRooms(max_rooms=400)
    codes = [many.open()[0] for _ in range(400)]
    assert len(set(codes)) == 400
    assert all(len(c) == CODE_LENGTH and set(c) <= set(ALPHABET) for c in codes)
    assert not set(ALPHABET) & set("0O1IL")
    assert clean_code(" k7q2 ") == "K7Q2"
    for bad in ("K7Q", "K7Q22", "K0Q2", "", None, "K7 2"):
        with pytest.raises(SemError, match="not a room code"):
            clean_code(bad)


def test_a_student_joins_answers_once_and_the_tally_counts(rooms):
    code, secret = rooms.open()
    ada, bob = rooms.join(code, "Ada"), rooms.join(code, "Bob")
    state = rooms.state(code)
    assert (state.students, state.names, state.question, state.number) == (2, ("Ada", "Bob"), None, 0)
    assert rooms.push(code, secret, question()) == 1
    rooms.answer(code, ada, 1, "A")
    rooms.answer(code, ada, 1, "B")          # changed: still one answer
    rooms.answer(code, bob, 1, "B")
    state = rooms.state(code)
    assert state.tally == {"A": 0, "B": 2} and state.answered == 2
    assert rooms.my_answer(code, ada) == "B" and rooms.name_of(code, bob) == "Bob"
    assert state.answer is None and state.explanation == "" and "answer" not in state.question   # nothing leaks
    rooms.reveal(code, secret)
    state = rooms.state(code)
    assert (state.revealed, state.answer, state.correct_share()) == (True, "B", 1.0)
    assert state.numbers == {"distance": 0.3} and state.explanation == "B was attacked."
    with pytest.raises(SemError, match="revealed"):
        rooms.answer(code, bob, 1, "A")
    assert rooms.push(code, secret, question("A")) == 2     # the next question starts afresh
    state = rooms.state(code)
    assert state.tally == {"A": 0, "B": 0} and not state.revealed and state.answer is None


def test_answers_are_checked(rooms):
    code, secret = rooms.open()
    me = rooms.join(code, "Ada")
    with pytest.raises(SemError, match="moved on"):
        rooms.answer(code, me, 1, "A")           # no question yet
    rooms.push(code, secret, question())
    with pytest.raises(SemError, match="not one of"):
        rooms.answer(code, me, 1, "C")
    with pytest.raises(SemError, match="moved on"):
        rooms.answer(code, me, 0, "A")
    with pytest.raises(SemError, match="not in room"):
        rooms.answer(code, "forged-seat", 1, "A")
    with pytest.raises(SemError, match="not in room"):
        rooms.answer(code, None, 1, "A")
    assert rooms.state(code).answered == 0


def test_only_the_teacher_secret_pushes_reveals_and_closes(rooms):
    code, secret = rooms.open()
    other_code, other_secret = rooms.open()
    seat = rooms.join(code, "Eve")
    for forged in ("", "wrong", seat, other_secret, None, secret[:-1], secret + "x"):
        with pytest.raises(SemError, match="Only the teacher"):
            rooms.push(code, forged, question())
        rooms.push(code, secret, question())
        with pytest.raises(SemError, match="Only the teacher"):
            rooms.reveal(code, forged)
        with pytest.raises(SemError, match="Only the teacher"):
            rooms.close(code, forged)
        assert not rooms.is_teacher(code, forged)
    assert rooms.is_teacher(code, secret) and not rooms.state(code).revealed
    rooms.close(code, secret)
    with pytest.raises(SemError, match="no open room"):
        rooms.state(code)
    assert not rooms.is_teacher(code, secret)
    rooms.state(other_code)                  # the other room is untouched


def test_a_full_room_and_a_full_server_refuse_with_a_message(rooms):
    code, _ = rooms.open()
    for i in range(5):
        rooms.join(code, f"Student {i}")
    with pytest.raises(SemError, match="full: it holds at most 5 students"):
        rooms.join(code, "One more")
    rooms.open(), rooms.open()
    with pytest.raises(SemError, match="already has 3 open rooms"):
        rooms.open()


def test_names_are_cleaned_and_unique(rooms):
    code, _ = rooms.open()
    assert clean_name("  Ada \n\t Lovelace\x00 ") == "Ada Lovelace"
    assert clean_name("Ｊｏ") == "Jo"                      # NFKC: full-width letters
    for bad in ("", "   ", "\n\x07", "x" * 25):
        with pytest.raises(SemError):
            clean_name(bad)
    rooms.join(code, "Ada")
    with pytest.raises(SemError, match="already called"):
        rooms.join(code, " ada ")
    assert rooms.state(code).names == ("Ada",)


def test_a_room_expires_after_its_last_activity(rooms, clock):
    code, secret = rooms.open()
    clock.now += 50
    seat = rooms.join(code, "Ada")          # activity: the clock starts again
    clock.now += 50
    rooms.state(code)                       # looking is not activity
    assert rooms.state(code).expires_in_s == pytest.approx(10)
    clock.now += 11
    for call in (lambda: rooms.state(code), lambda: rooms.join(code, "Bob"),
                 lambda: rooms.push(code, secret, question()), lambda: rooms.answer(code, seat, 1, "A")):
        with pytest.raises(SemError, match="no open room .*expired"):
            call()
    assert not rooms.is_teacher(code, secret)
    assert len(rooms) == 0


def test_expired_rooms_free_their_place(rooms, clock):
    for _ in range(3):
        rooms.open()
    clock.now += 61
    rooms.open()                            # the three expired ones were swept
    assert len(rooms) == 1


def test_concurrent_joins_fill_the_room_exactly(clock):
    rooms = QuizRooms(capacity=60, clock=clock)
    code, _ = rooms.open()
    seats, refused = [], []
    start = threading.Barrier(80)

    def join(i: int) -> None:
        start.wait()
        try:
            seats.append(rooms.join(code, f"Student {i}"))
        except SemError as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=join, args=(i,)) for i in range(80)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seats) == 60 and len(set(seats)) == 60 and len(refused) == 20
    assert all("full" in r for r in refused)
    assert rooms.state(code).students == 60


def test_the_process_registry_reads_its_limits_from_the_environment(monkeypatch):
    monkeypatch.setenv("SEM_QUIZ_TTL_S", "5")
    monkeypatch.setenv("SEM_QUIZ_CAPACITY", "7")
    reset_rooms()
    try:
        assert (get_rooms().ttl_s, get_rooms().capacity) == (5.0, 7)
        assert get_rooms() is get_rooms()
        monkeypatch.setenv("SEM_QUIZ_TTL_S", "soon")
        reset_rooms()
        with pytest.raises(SemError, match="SEM_QUIZ_TTL_S"):
            get_rooms()
    finally:
        reset_rooms()


def test_a_question_needs_its_answer_among_its_options():
    with pytest.raises(ValueError):
        question("C")
