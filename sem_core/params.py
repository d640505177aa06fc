"""Every hyperparameter declared once: its default, allowed range, label and one line of help.

An attack, explainer or Lipschitz search lists its ``Param``s in one ``Settings`` (a class attribute). Everything
that shows, parses or keys a setting reads that declaration: the constructor (defaults and range checks), the
command line (``--help`` shows default and range; values parsed by ``Param.parse``), the pages' widgets (under
"More settings") and URL parsing, the app's default views, the result cache key (the resolved config) and the time
estimates (e.g. the declared ``steps``). Adding a ``Param`` to one attack is the only edit a new setting needs.

    EPS = Param("eps", 0.3, "ε (L∞ radius, pixel units)", "every pixel moves by at most ε", lo=0.0, hi=1.0,
                lo_open=True, step=0.05)
    SETTINGS = Settings(EPS, Param("steps", 100, "PGD steps", lo=0, hi=10_000))
    SETTINGS.resolve({"eps": 0.1}, "attack 'x'")     # {"eps": 0.1, "steps": 100}; bad values raise SemError
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Iterator, Mapping

from .errors import SemError

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
MAX_NUMBER_CHARS = 64   # the longest number a command line or a URL may spell


def parse_number(text: object, *, integer: bool = False) -> int | float | None:
    """The number ``text`` spells, or None: the one parser of the command line, the URL and the declared settings.

    Accepted: ASCII digits with an optional sign, decimal point and exponent (``0.3``, ``-2``, ``1e-2``; an integer:
    digits and a sign only), at most ``MAX_NUMBER_CHARS`` characters, finite. Refused: other scripts' digits
    (Arabic-Indic ``٢``, full-width ``７``: Python's ``int`` and ``float`` read them), ``1_000``, spaces, ``inf``,
    ``nan``, ``0x10``, ``1e309``. Never raises.
    """
    if not isinstance(text, str) or len(text) > MAX_NUMBER_CHARS:
        return None
    if not (_INT if integer else _FLOAT).fullmatch(text):
        return None
    value = int(text) if integer else float(text)
    return value if integer or math.isfinite(value) else None


@dataclass(frozen=True)
class Param:
    """One hyperparameter. ``value_type`` defaults to the type of ``default`` (int, float, str, bool); numbers are checked
    against [``lo``, ``hi``] (``lo_open``: lo excluded); strings against ``choices`` when given. ``optional``: None is
    allowed (and may be the default: "derived from the others", e.g. the PGD step size). ``step``: the widget's step.
    ``reported``: part of the result's ``config`` (False for display-only settings such as replay frames)."""

    name: str
    default: Any
    label: str
    help: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: tuple = ()
    value_type: type | None = None
    step: float | None = None
    optional: bool = False
    reported: bool = True

    @property
    def kind(self) -> type:
        """The value's type (int, float, str or bool)."""
        return self.value_type or type(self.default)

    def range_text(self) -> str:
        """The allowed values, as ``--help`` and error messages say them: "in (0, 1]", "0..10000", "one of a, b"."""
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind is bool:
            return "true or false"
        if self.kind is int and self.lo is not None and self.hi is not None:
            return f"{self.lo:g}..{self.hi:g}"
        if self.lo is not None and self.hi is not None:
            return f"in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}]"
        if self.lo is not None:
            return f"{'>' if self.lo_open else '>='} {self.lo:g}"
        return "any " + self.kind.__name__

    def requirement(self) -> str:
        """What a value must be, as messages say it: "a finite number in (0, 1]", "an integer in 0..10000"."""
        if self.kind is int and not self.choices:
            return "an integer " + ("in " if self.lo is not None and self.hi is not None else "") + self.range_text()
        if self.kind is float and not self.choices:
            return "a finite number " + self.range_text().removeprefix("any float")
        return self.range_text()

    def describe(self) -> str:
        """One line for ``--help`` and tooltips: help, default and range."""
        default = "derived" if self.default is None else f"{self.default:g}" if isinstance(self.default, float) \
            else self.default
        return f"{self.help + '; ' if self.help else ''}default {default}; {self.range_text()}"

    def check(self, value: Any, owner: str = "") -> Any:
        """``value`` as this parameter's type, or a ``SemError`` naming the parameter, the range and the value."""
        if value is None and self.optional:
            return None
        want = self.kind
        if want is bool:
            ok = isinstance(value, bool)
        elif want is int:
            ok = isinstance(value, int) and not isinstance(value, bool) or \
                isinstance(value, float) and math.isfinite(value) and value == int(value)
        elif want is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else:
            ok = isinstance(value, want)
        if ok and want in (int, float):
            value = want(value)
            ok = (self.lo is None or value > self.lo or (value == self.lo and not self.lo_open)) and \
                (self.hi is None or value <= self.hi)
        if ok and self.choices:
            ok = value in self.choices
        if not ok:
            where = f"{owner}: " if owner else ""
            raise SemError(f"{where}{self.name} must be {self.requirement().strip()}, got {str(value)[:40]!r}")
        return value

    def parse(self, text: str, owner: str = "") -> Any:
        """A value typed on the command line or in a URL: ASCII digits only (no other scripts' digits, no nan/inf);
        then ``check``. Raises ``SemError``."""
        text = str(text).strip()
        want = self.kind
        if self.optional and text.lower() in ("", "none", "auto"):
            return None
        if want is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise SemError(f"{owner + ': ' if owner else ''}{self.name} must be true or false, got {text[:40]!r}")
            return self.check(text.lower() in ("true", "1"), owner)
        if want in (int, float):
            value = parse_number(text, integer=want is int)
            if value is None:
                raise SemError(f"{owner + ': ' if owner else ''}{self.name} must be {self.requirement().strip()}, "
                               f"got {text[:40]!r}")
            return self.check(value, owner)
        return self.check(text, owner)

    def but(self, **changes: Any) -> "Param":
        """A copy with ``changes`` (e.g. another default for one attack): ``EPS.but(default=0.1)``."""
        return replace(self, **changes)


class Settings:
    """An ordered, immutable set of ``Param``s (one per name). ``base + (p1, p2)`` extends it; a ``Param`` whose
    name exists replaces that one in place (an attack's own default for a shared setting)."""

    def __init__(self, *params: Param):
        seen: dict[str, Param] = {}
        for p in params:
            seen[p.name] = p
        self._params = seen

    def __add__(self, more) -> "Settings":
        return Settings(*self._params.values(), *more)

    def without(self, *names: str) -> "Settings":
        """These settings less ``names`` (an attack that fixes them, e.g. the one-step baseline's ``steps``)."""
        return Settings(*(p for n, p in self._params.items() if n not in names))

    def __iter__(self) -> Iterator[Param]:
        return iter(self._params.values())

    def __len__(self) -> int:
        return len(self._params)

    def __contains__(self, name: object) -> bool:
        return name in self._params

    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def names(self) -> list[str]:
        """The parameters' names, in declaration order."""
        return list(self._params)

    def defaults(self) -> dict[str, Any]:
        """{name: default} of every parameter."""
        return {n: p.default for n, p in self._params.items()}

    def resolve(self, config: Mapping[str, Any], owner: str = "") -> dict[str, Any]:
        """The defaults updated by ``config``, every value checked; an unknown name raises ``SemError`` listing the
        known ones."""
        unknown = sorted(set(config) - set(self._params))
        if unknown:
            raise SemError(f"{owner + ' ' if owner else ''}has no setting {', '.join(unknown)}; "
                           f"known: {', '.join(self._params) or 'none'}")
        return {n: p.check(config[n], owner) if n in config else p.default for n, p in self._params.items()}

    def configure(self, obj: Any, config: Mapping[str, Any], owner: str, error: type[SemError] = SemError) -> None:
        """``resolve`` ``config`` and set every value as an attribute of ``obj`` (a constructor's one line);
        bad or unknown settings raise ``error`` with the message of ``resolve``."""
        try:
            resolved = self.resolve(config, owner)
        except SemError as exc:
            raise error(str(exc)) from None
        for key, value in resolved.items():
            setattr(obj, key, value)
