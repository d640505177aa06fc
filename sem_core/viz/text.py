"""Untrusted text for the app: Markdown-safe echoes of user input and strict parsing of URL numbers.

Pure functions (no Streamlit), so the app's pages share one rule and the tests can check it with
hypothesis: a value typed into the URL, a file name or a caption is shown as plain text, never as
Markdown (no links, images, emphasis, colour directives or maths), and a URL number is either a
finite value inside the widget's bounds or rejected.
"""
from __future__ import annotations

import re
import string

from ..params import parse_number

__all__ = ["escape_markdown", "parse_url_number", "change_visibility", "change_look", "change_sentence",
           "visibility_note", "file_stem"]

ECHO_LIMIT = 40  # characters of a user-typed value shown back in a message
_PUNCT = frozenset(string.punctuation)  # CommonMark: any ASCII punctuation may be backslash-escaped
# GFM turns bare "http://…", "www.…" and "name@host.tld" into links even when escaped characters sit
# between them; a word joiner (invisible, not a space) after these letters breaks every such pattern.
_AUTOLINK = re.compile(r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=www)(?=\.)|(?<=@)|(?<=mailto)(?=:)|(?<=xmpp)(?=:)")
_WORD_JOINER = "\u2060"


def escape_markdown(value: object, limit: int = ECHO_LIMIT) -> str:
    """``value`` as text that Markdown (Streamlit's GFM + directives + maths) shows literally.

    Control characters and line breaks become spaces (a new line could start a heading or a list),
    the text is cut to ``limit`` characters with "…", every ASCII punctuation character is
    backslash-escaped (backticks, ``*``, ``_``, ``[``, ``]``, ``(``, ``)``, ``<``, ``>``, ``!``, ``#``,
    ``$``, ``:``…) and bare web/e-mail addresses are broken with an invisible word joiner, so the
    result contains no link, image, emphasis or code span.

    Example: ``escape_markdown("x` [a](http://e)")`` → ``'x\\` \\[a\\]\\(http\u2060\\:\\/\\/e\\)'``.
    """
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    if len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    text = _AUTOLINK.sub(_WORD_JOINER, text)
    return "".join("\\" + ch if ch in _PUNCT else ch for ch in text)


def parse_url_number(raw: object, lo: float, hi: float, *, integer: bool = False) -> float | int | None:
    """The number a URL parameter spells, or None when it is not a clean one.

    Accepted: ASCII digits with an optional sign, decimal point and exponent (``0.3``, ``-2``,
    ``1e-2``), at most 64 characters, finite, within ``[lo, hi]``, and integral when ``integer``
    (then returned as an int). Everything else — ``inf``, ``nan``, ``1e309``, ``0x10``, ``1_000``,
    Arabic-Indic digits, spaces — gives None. Never raises.

    Example: ``parse_url_number("0.3", 0.01, 1.0)`` → ``0.3``; ``parse_url_number("inf", 1, 1000)`` → ``None``.
    """
    value = parse_number(raw)   # the command line's parser too: ASCII digits, at most 64 characters, finite
    if value is None or not lo <= value <= hi:
        return None
    if integer:
        return int(value) if value.is_integer() else None
    return value


#: what an attack's status (``attacks.base.STATUSES``) means to a reader, and how loud to say it
STATUS_NOTICES = {
    "no-gradient": ("error", "the attack could not move {it}: its loss had no gradient at any step (a ReLU the "
                             "smooth surrogate cannot see, or a flat objective). These numbers are not a finding."),
    "label-lost": ("warning", "no perturbed digit kept the label for {it}, so the result is the natural digit, "
                              "unchanged."),
    "no-improvement": ("info", "for {it}, perturbed digits kept the label but none changed the explanation more "
                               "than the natural digit did; the result is the natural digit."),
    "not-run": ("info", "with 0 steps the attack did not run."),
}


def status_notice(status: tuple[str, ...] | list[str]) -> tuple[str, str] | None:
    """(level, sentence) for an attack result's per-image ``status``, or None when every image is "ok": the
    loudest status present, with how many of the digits it concerns. Example:
    ``status_notice(("ok", "no-gradient"))`` → ``("error", "1 of 2 digits: the attack could not move …")``."""
    present = [s for s in STATUS_NOTICES if s in status]
    if not present:
        return None
    worst = present[0]
    level, text = STATUS_NOTICES[worst]
    n, count = len(status), list(status).count(worst)
    it = "this digit" if n == 1 else "them"
    sentence = text.format(it=it)
    sentence = sentence[0].upper() + sentence[1:] if n == 1 else f"{count} of {n} digits: {sentence}"
    return level, sentence


# ---- how visible an attack's change is: the plain-language texts say what a picture shows ----
# The thresholds come from looking at the pictures (SENN's 9 of the concept page, drawn at 220 px, white on black):
# at a largest pixel change of 0.05 nothing shows; at 0.1 a faint grain appears in the background only when you
# look for it (still "hard to see"); at 0.2 the background is visibly speckled; at 0.3 the speckle is plain (and
# streaks cross the digit).
SUBTLE_LINF = 0.1    # at most this: "hard to see"
VISIBLE_LINF = 0.2   # at least this: a speckle anyone sees; between the two: faint, seen when looking closely
_SLACK = 1e-3        # PGD's projection leaves ε + a float's rounding (0.10000002)


def change_visibility(linf: float) -> str:
    """How visible a change whose largest pixel move is ``linf`` (pixels in [0, 1]) is on a digit: ``"hard to
    see"`` (≤ ``SUBTLE_LINF``), ``"faint"`` (below ``VISIBLE_LINF``) or ``"visible"``.

    Example: ``change_visibility(0.05)`` → ``"hard to see"``; ``change_visibility(0.3)`` → ``"visible"``."""
    if linf <= SUBTLE_LINF + _SLACK:
        return "hard to see"
    return "faint" if linf < VISIBLE_LINF - _SLACK else "visible"


def change_sentence(linf: float, pred_after: int, kept: bool, model: str = "the model") -> str:
    """One plain sentence on what changed and what the model says: the largest pixel change, how visible it is
    (``change_visibility``) and the answer after the change.

    Example: ``change_sentence(0.3, 9, True, "SENN")`` → ``"Every pixel moved by at most 0.30: you can see the
    speckle, yet SENN still says **9**."``"""
    look = change_look(linf)
    answer = f"still says **{pred_after}**" if kept else f"now says **{pred_after}**"
    joint = "and" if change_visibility(linf) == "hard to see" or not kept else "yet"
    return f"Every pixel moved by at most {linf:.2f}: {look}, {joint} {model} {answer}."


def change_look(linf: float) -> str:
    """What a change whose largest pixel move is ``linf`` looks like, in a few words (``change_visibility``).

    Example: ``change_look(0.3)`` → ``"you can see the speckle"``."""
    return {"hard to see": "the change is hard to see (a faint grain in the background at most)",
            "faint": "a faint speckle shows if you look closely",
            "visible": "you can see the speckle"}[change_visibility(linf)]


def visibility_note() -> str:
    """The pages' opening words on how visible a change is, from the thresholds above (no symbols: an opening has
    no formula). Example: ``"a change of at most 0.1 per pixel is hard to see; from 0.2 it shows as a speckle"``."""
    return (f"a change of at most {SUBTLE_LINF:g} per pixel is hard to see; from {VISIBLE_LINF:g} it shows as a "
            "speckle")


def file_stem(page: str, *, model: str | None = None, digit: object = None, target: object = None,
              attack: str | None = None, eps: float | None = None, extra: str | None = None) -> str:
    """A download's file name without its extension, naming what it holds: the page, the model, the digit (and its
    target), the attack and ε, in that order, each left out when None; only ``[a-z0-9.-]`` (no spaces or ``_``).

    Example: ``file_stem("concept", model="senn", digit=9, target=2, eps=0.3)`` →
    ``"concept-senn-digit9-to2-eps0.3"``."""
    parts = [page, model, attack and attack.replace("_", "-"), None if digit is None else f"digit{digit}",
             None if target is None else f"to{target}", None if eps is None else f"eps{eps:g}", extra]
    stem = "-".join(str(p) for p in parts if p not in (None, ""))
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9.-]+", "-", stem.lower())).strip("-.") or "figure"
