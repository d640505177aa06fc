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

__all__ = ["escape_markdown", "parse_url_number"]

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
