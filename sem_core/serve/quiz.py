"""Classroom quiz rooms: a teacher opens a room, students join it by its short code, the teacher pushes questions,
the students answer, everyone sees the tally and then the reveal. No Streamlit here; the page
(``app_pages/quiz.py``) is the only user.

    rooms = get_rooms()
    code, secret = rooms.open()                      # "K7Q2", the teacher's secret (only in the teacher's link)
    me = rooms.join(code, "Ada")                     # a student's seat token
    rooms.push(code, secret, question)               # a ``Question`` (sem_core.serve.quiz_questions)
    rooms.answer(code, me, 1, "B")                   # question 1, changeable until the reveal
    rooms.state(code).tally                          # {"A": 0, "B": 1}
    rooms.reveal(code, secret)

**Limits** (each an environment variable, read when the process's registry is made): a room lives
``SEM_QUIZ_TTL_S`` seconds (default 2 h) after its last activity (opening, a join, a push, an answer, a reveal;
looking at a room does not keep it alive); at most ``SEM_QUIZ_CAPACITY`` students (default 60) and
``SEM_QUIZ_MAX_ROOMS`` rooms per process (default 20). Room codes are 4 characters of an alphabet without look-alikes
(no 0/O, 1/I/L); the teacher's secret is ``secrets.token_urlsafe(16)``, compared in constant time
(``hmac.compare_digest``); only a call that carries it pushes, reveals or closes, anything else raises ``SemError``.
Students' names are cleaned (printable, one line, at most 24 characters, unique in the room ignoring case); the page
still shows them as escaped text. Every method takes the registry's one lock: each is a few dictionary operations.

**Several servers.** The rooms live in this process's memory, which is enough for one class on one server. Behind a
load balancer, the teacher and the students may each land on a different server, so sticky sessions alone do not
help: the state must be shared. The same interface would run over Redis: a room as a hash
(``quiz:<code>`` with its secret's hash, question, reveal state) and its students and answers as hashes beside it,
each write setting the keys' TTL (``EXPIRE``) so Redis expires idle rooms itself; a join as a Lua script (or
``WATCH``/``MULTI``) that checks the capacity and the name atomically; the room count as a set with the codes;
and the pages, instead of polling each second, subscribed to a ``quiz:<code>`` pub/sub channel that every write
publishes to.
"""
from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import SemError

__all__ = ["ALPHABET", "CODE_LENGTH", "NAME_LIMIT", "Question", "QuizRooms", "RoomState", "clean_code", "clean_name",
           "get_rooms", "reset_rooms"]

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I/L: a code read off a projector is typed right
CODE_LENGTH = 4
NAME_LIMIT = 24      # characters of a student's name
TTL_S = 2 * 3600.0   # a room expires this long after its last activity
CAPACITY = 60        # students per room: a class
MAX_ROOMS = 20       # open rooms per process


@dataclass(frozen=True)
class Question:
    """One question of the quiz, computed from a real result (``sem_core.serve.quiz_questions``).

    ``kind``: which builder made it; ``prompt``: the question in words; ``options``: the answer labels (buttons);
    ``data``: what its figures are drawn from (small lists: concept values, a 28×28 digit); ``answer``: the correct
    option; ``explanation``: the one sentence of the reveal, with the real numbers; ``numbers``: those numbers by
    name. Students see ``public()`` only, never the answer before the reveal."""

    kind: str
    prompt: str
    options: tuple[str, ...]
    data: Mapping[str, Any]
    answer: str
    explanation: str
    numbers: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self):
        if self.answer not in self.options:
            raise ValueError(f"the answer {self.answer!r} is not one of the options {self.options}")

    def public(self) -> dict[str, Any]:
        """What a student may see before the reveal: kind, prompt, options and the figures' data."""
        return {"kind": self.kind, "prompt": self.prompt, "options": self.options, "data": self.data}


@dataclass(frozen=True)
class RoomState:
    """A room as one reader sees it at one moment (a copy: nothing in it changes the room).

    ``number``: how many questions were pushed (0: none yet); ``question``: the current question's public part or
    None; ``tally``: option -> how many answered it; ``answered`` / ``students``: counts; ``revealed``: whether the
    current question is revealed; ``answer``, ``explanation``, ``numbers``: the reveal (None / "" / {} before it);
    ``names``: the students' names in the order they joined; ``expires_in_s``: seconds left without activity."""

    code: str
    number: int
    question: dict[str, Any] | None
    tally: dict[str, int]
    answered: int
    students: int
    capacity: int
    revealed: bool
    answer: str | None
    explanation: str
    numbers: dict[str, float]
    names: tuple[str, ...]
    expires_in_s: float

    def correct_share(self) -> float | None:
        """The share of the answers that were right, after the reveal (None before it or with no answer)."""
        if not self.revealed or not self.answered:
            return None
        return self.tally.get(self.answer, 0) / self.answered


@dataclass
class _Room:
    code: str
    secret: str
    touched: float
    students: dict[str, str] = field(default_factory=dict)      # seat token -> name
    question: Question | None = None
    number: int = 0
    answers: dict[str, str] = field(default_factory=dict)       # seat token -> option, for the current question
    revealed: bool = False


def clean_code(raw: object) -> str:
    """A room code as typed or linked, upper-cased and stripped; ``SemError`` when it cannot be one."""
    code = str(raw or "").strip().upper()
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        raise SemError(f"That is not a room code: a code is {CODE_LENGTH} letters and digits, as the teacher's "
                       "screen shows it.")
    return code


def clean_name(raw: object) -> str:
    """A student's name: Unicode-normalised (NFKC), control characters and line breaks removed, spaces collapsed;
    ``SemError`` when it is empty or longer than ``NAME_LIMIT`` characters. The page still escapes it when shown."""
    text = unicodedata.normalize("NFKC", str(raw or ""))
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if not text:
        raise SemError("Please type a name (your first name is enough).")
    if len(text) > NAME_LIMIT:
        raise SemError(f"That name is too long: at most {NAME_LIMIT} characters, please.")
    return text


class QuizRooms:
    """The process's quiz rooms: thread-safe, in memory, each expiring ``ttl_s`` after its last activity.

    ``clock``: seconds, monotonic (injectable: the tests move time by hand). A student is a seat token that
    ``join`` returns; the teacher is whoever holds the room's secret."""

    def __init__(self, *, ttl_s: float = TTL_S, capacity: int = CAPACITY, max_rooms: int = MAX_ROOMS,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl_s, self.capacity, self.max_rooms, self.clock = float(ttl_s), int(capacity), int(max_rooms), clock
        self._rooms: dict[str, _Room] = {}
        self._lock = threading.Lock()

    # ---- the teacher
    def open(self) -> tuple[str, str]:
        """Open a room: (its code, the teacher's secret). ``SemError`` when the process holds ``max_rooms``."""
        with self._lock:
            self._sweep()
            if len(self._rooms) >= self.max_rooms:
                raise SemError(f"This server already has {self.max_rooms} open rooms. Close one, or wait until one "
                               "expires.")
            code = self._new_code()
            secret = secrets.token_urlsafe(16)
            self._rooms[code] = _Room(code, secret, self.clock())
            return code, secret

    def is_teacher(self, code: str, secret: object) -> bool:
        """Whether ``secret`` is room ``code``'s teacher secret (False for an unknown or expired room)."""
        with self._lock:
            try:
                room = self._room(code)
            except SemError:
                return False
            return _same(room.secret, secret)

    def push(self, code: str, secret: object, question: Question) -> int:
        """Ask ``question`` (it replaces the current one, answers start afresh); returns its number (1, 2, …)."""
        with self._lock:
            room = self._teacher_room(code, secret, "push a question")
            room.question, room.number, room.answers, room.revealed = question, room.number + 1, {}, False
            room.touched = self.clock()
            return room.number

    def reveal(self, code: str, secret: object) -> None:
        """Show the current question's answer; answers are final from now on."""
        with self._lock:
            room = self._teacher_room(code, secret, "reveal the answer")
            if room.question is None:
                raise SemError("There is no question to reveal yet: push one first.")
            room.revealed, room.touched = True, self.clock()

    def close(self, code: str, secret: object) -> None:
        """Close the room: its code stops working for everyone."""
        with self._lock:
            room = self._teacher_room(code, secret, "close the room")
            del self._rooms[room.code]

    # ---- the students
    def join(self, code: str, name: object) -> str:
        """Seat a student called ``name`` (``clean_name``); returns the seat token that ``answer`` takes.
        ``SemError`` when the room is unknown, expired or full, or the name is taken."""
        name = clean_name(name)
        with self._lock:
            room = self._room(code)
            if len(room.students) >= self.capacity:
                raise SemError(f"Room {room.code} is full: it holds at most {self.capacity} students.")
            if name.casefold() in {n.casefold() for n in room.students.values()}:
                raise SemError(f"Someone in room {room.code} is already called {name!r}: add an initial.")
            seat = secrets.token_urlsafe(12)
            room.students[seat] = name
            room.touched = self.clock()
            return seat

    def name_of(self, code: str, seat: object) -> str | None:
        """The name of the student with seat token ``seat`` in room ``code`` (None when it is not one)."""
        with self._lock:
            room = self._room(code)
            return next((n for s, n in room.students.items() if _same(s, seat)), None)

    def answer(self, code: str, seat: object, number: int, option: str) -> None:
        """Record the student's answer ``option`` to question ``number`` (one per student; a new one replaces it
        until the reveal). ``SemError`` for a seat that is not one of the room's, another question's number, an
        option the question does not have, or after the reveal."""
        with self._lock:
            room = self._room(code)
            token = next((s for s in room.students if _same(s, seat)), None)
            if token is None:
                raise SemError(f"You are not in room {room.code}: join it first.")
            if room.question is None or number != room.number:
                raise SemError("The teacher has moved on to another question: answer the one on screen now.")
            if room.revealed:
                raise SemError("The answer has been revealed: answers to this question are closed.")
            if option not in room.question.options:
                raise SemError(f"{option!r} is not one of this question's answers.")
            room.answers[token] = option
            room.touched = self.clock()

    def my_answer(self, code: str, seat: object) -> str | None:
        """The option the student with seat ``seat`` gave to the current question (None: not answered)."""
        with self._lock:
            room = self._room(code)
            return next((o for s, o in room.answers.items() if _same(s, seat)), None)

    # ---- everyone
    def state(self, code: str) -> RoomState:
        """Room ``code`` as it is now (``RoomState``); looking does not keep the room alive. ``SemError`` when it is
        unknown or expired."""
        with self._lock:
            room = self._room(code)
            q = room.question
            tally = {o: 0 for o in (q.options if q else ())}
            for option in room.answers.values():
                tally[option] += 1
            shown = room.revealed and q is not None
            return RoomState(room.code, room.number, q.public() if q else None, tally, len(room.answers),
                             len(room.students), self.capacity, room.revealed, q.answer if shown else None,
                             q.explanation if shown else "", dict(q.numbers) if shown else {},
                             tuple(room.students.values()), max(room.touched + self.ttl_s - self.clock(), 0.0))

    def __len__(self) -> int:
        with self._lock:
            self._sweep()
            return len(self._rooms)

    # ---- inside the lock
    def _new_code(self) -> str:
        while True:   # 31^4 ≈ 920,000 codes for at most max_rooms rooms: a clash is rare, and retried
            code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
            if code not in self._rooms:
                return code

    def _expired(self, room: _Room) -> bool:
        return self.clock() - room.touched > self.ttl_s

    def _sweep(self) -> None:
        for code in [c for c, r in self._rooms.items() if self._expired(r)]:
            del self._rooms[code]

    def _room(self, code: str) -> _Room:
        code = clean_code(code)
        room = self._rooms.get(code)
        if room is not None and self._expired(room):
            del self._rooms[code]
            room = None
        if room is None:
            raise SemError(f"There is no open room {code}: it has expired or been closed, or the code is mistyped. "
                           "Ask your teacher for the code on the screen.")
        return room

    def _teacher_room(self, code: str, secret: object, what: str) -> _Room:
        room = self._room(code)
        if not _same(room.secret, secret):
            raise SemError(f"Only the teacher of room {room.code} can {what}: the teacher's own link carries its key.")
        return room


def _same(known: str, given: object) -> bool:
    """Constant-time comparison of a secret with what a caller gave (anything: a URL value, None)."""
    return isinstance(given, str) and hmac.compare_digest(known.encode(), given.encode())


_ROOMS: QuizRooms | None = None
_ROOMS_LOCK = threading.Lock()


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise SemError(f"{name}={raw!r} is not a number") from None
    if not value > 0:
        raise SemError(f"{name} must be positive, got {raw!r}")
    return value


def get_rooms() -> QuizRooms:
    """The process's one ``QuizRooms``, its limits from ``SEM_QUIZ_TTL_S``, ``SEM_QUIZ_CAPACITY`` and
    ``SEM_QUIZ_MAX_ROOMS`` (created on first use)."""
    global _ROOMS
    with _ROOMS_LOCK:
        if _ROOMS is None:
            _ROOMS = QuizRooms(ttl_s=_env_number("SEM_QUIZ_TTL_S", TTL_S),
                               capacity=int(_env_number("SEM_QUIZ_CAPACITY", CAPACITY)),
                               max_rooms=int(_env_number("SEM_QUIZ_MAX_ROOMS", MAX_ROOMS)))
        return _ROOMS


def reset_rooms() -> None:
    """Forget every room (tests; the next ``get_rooms`` reads the environment again)."""
    global _ROOMS
    with _ROOMS_LOCK:
        _ROOMS = None
