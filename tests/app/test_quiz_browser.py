"""The classroom quiz in real Chromium (issue 29, point 9): one teacher and five student sessions (browser contexts of
the shared Chromium, each its own Streamlit session) join, answer, see the live tally and the reveal; a student's page
has no push or reveal control and a link with a wrong teacher key gives the student view; on a server whose rooms
live 20 s (``SEM_QUIZ_TTL_S``), an idle room expires for everyone.

Screenshots (1280 px wide) land in test-artifacts/quiz/. The pages refresh themselves (the teacher's answers every
second, the students' question every 2 s), so the test waits for what the page says, not for an idle script.
Skipped like test_browser.py when Chromium or playwright is missing (unless SEM_REQUIRE_BROWSER=1).
"""
from __future__ import annotations

import re
import time

import pytest

from browser_helpers import ARTIFACTS, browser_marks, full_page_screenshot, started_server, wait_idle

pytestmark = [*browser_marks(), pytest.mark.slow]
SHOTS = ARTIFACTS / "quiz"
WAIT_MS = 120_000
ANSWERS = ["A", "B", "A", "A", "B"]          # the five students' answers


@pytest.fixture(scope="module")
def server():
    srv = started_server()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def short_lived():
    """A server whose rooms expire 20 s after their last activity."""
    srv = started_server(env={"SEM_QUIZ_TTL_S": "20"})
    yield srv
    srv.stop()


def visit(browser, url: str, settle: bool = True):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stAppViewContainer"]', state="attached")
    if settle:
        wait_idle(page, 120)
    return page


def main(page):
    return page.locator('[data-testid="stMain"]')


def says(page, text: str, timeout: int = WAIT_MS) -> None:
    """Wait until the main area shows ``text`` (a string or a pattern)."""
    main(page).get_by_text(re.compile(text) if isinstance(text, str) else text).first.wait_for(timeout=timeout)


def button(page, label: str):
    return main(page).get_by_role("button", name=label, exact=True)


def open_room(browser, srv, present: bool = False):
    """A teacher's page with a freshly opened room: (page, code)."""
    page = visit(browser, f"{srv.url}/quiz" + ("?present=1" if present else ""))
    button(page, "Open a room").click()
    code = page.locator("[data-room-code]").first.get_attribute("data-room-code", timeout=WAIT_MS)
    assert re.fullmatch(r"[A-Z2-9]{4}", code) and "teacher=" in page.url
    return page, code


def join(browser, srv, code: str, name: str):
    page = visit(browser, f"{srv.url}/quiz?room={code}")
    field = main(page).get_by_label("Your name")
    field.fill(name)
    field.press("Enter")
    wait_idle(page, 60)
    button(page, "Join").click()
    says(page, f"you are {name}")
    return page


def test_a_teacher_and_five_students_play_a_question(browser, server):
    started = time.monotonic()
    teacher, code = open_room(browser, server, present=True)
    button(teacher, "Push question").click()
    says(teacher, "Question 1")
    says(teacher, "0 of 0 students answered")

    students = [join(browser, server, code, f"Student {i + 1}") for i in range(5)]
    says(teacher, "5 of 0 students answered|0 of 5 students answered")
    for page, choice in zip(students, ANSWERS):
        says(page, "Question 1")
        assert not button(page, "Push question").count() and not button(page, "Next question").count()
        assert not button(page, "Reveal the answer").count() and not page.locator("[data-room-code]").count()
        button(page, choice).click()
        says(page, f"Answer recorded: {choice}")
    says(teacher, "5 of 5 students answered")                 # the live tally, without a click
    full_page_screenshot(teacher, SHOTS / "teacher-tally.png")

    # a forged request: the room's link with a wrong teacher key is a student's view, with nothing to push or reveal
    forged = visit(browser, f"{server.url}/quiz?room={code}&teacher=not-the-key")
    says(forged, "teacher key does not belong to this room")
    assert not button(forged, "Push question").count() and not button(forged, "Reveal the answer").count()
    assert button(forged, "Join").count() == 1
    forged.context.close()

    button(teacher, "Reveal the answer").click()
    says(teacher, r"The answer: [AB]\.")
    truth = re.search(r"The answer: ([AB])\.", main(teacher).inner_text()).group(1)
    right = ANSWERS.count(truth)
    says(teacher, f"{right / 5:.0%} of the class got it right")
    says(teacher, "was attacked: its concepts moved toward")
    full_page_screenshot(teacher, SHOTS / "quiz-teacher.png")
    for i, (page, choice) in enumerate(zip(students, ANSWERS)):
        says(page, f"Right: {truth}!" if choice == truth else f"Not this time: you said {choice}")
        assert button(page, choice).is_disabled()              # answers are closed after the reveal
        if i == 0:
            full_page_screenshot(page, SHOTS / "quiz-student.png")
    for page in [teacher, *students]:
        assert not page.locator('[data-testid="stException"]').count()
        page.context.close()
    print(f"quiz browser test: {time.monotonic() - started:.1f} s")


def test_an_idle_room_expires(browser, short_lived):
    teacher, code = open_room(browser, short_lived)
    student = join(browser, short_lived, code, "Ada")
    # nobody does anything for longer than the room's 20 s: both pages, refreshing themselves, say it is gone
    says(student, f"There is no open room {code}", timeout=60_000)
    says(teacher, f"There is no open room {code}", timeout=60_000)
    late = visit(browser, f"{short_lived.url}/quiz?room={code}")
    says(late, f"There is no open room {code}: it has expired")
    assert not main(late).get_by_label("Your name").count()
    for page in (teacher, student, late):
        assert not page.locator('[data-testid="stException"]').count()
        page.context.close()
