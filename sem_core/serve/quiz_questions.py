"""The quiz's questions, each computed from a real attack result: one service job (the attack pages' own, so the
result cache serves what any session computed) and a builder that turns its result into a ``Question``.

    kind = QUESTION_KINDS.get("attacked_concepts")
    spec = kind.job(x_all, y_all, 9)                 # the concept page's default attack of the first 9
    res = get_service().submit(session, spec).result()
    question = kind.build(res, seed=1)               # A/B in a seeded random order; the answer from the numbers

The kinds: which of two SENN concept explanations was attacked (paper 000, eq. 1), which of two saliency maps was
attacked (paper 003, the top-k attack), which concept changed most (argmax |Δh|), and whether SENN's label changed.
"""
from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..registry import Registry
from .jobs import JobSpec
from .quiz import Question
from .views import CONCEPT, SALIENCY, concept_job, nth_of_class, saliency_job

__all__ = ["QUESTION_KINDS", "QUESTION_ORDER", "QuestionKind", "attacked_concepts", "attacked_saliency",
           "changed_most", "label_changed", "question_seed"]


@dataclass(frozen=True)
class QuestionKind:
    """A kind of question: ``label`` (the teacher's menu), ``model`` (whose test split the digit comes from),
    ``job(x_all, y_all, digit)`` the service job for the first test digit of class ``digit``, ``build(result, seed)``
    the ``Question`` from that job's result (``seed``: the A/B order)."""

    label: str
    model: str
    job: Callable[[torch.Tensor, torch.Tensor, int], JobSpec]
    build: Callable[[Any, int], Question]


QUESTION_KINDS: Registry[QuestionKind] = Registry("question kind")
QUESTION_ORDER = ("attacked_concepts", "attacked_saliency", "changed_most", "label_changed")   # the teacher's menu


def _concept_attack(x_all: torch.Tensor, y_all: torch.Tensor, digit: int) -> JobSpec:
    """The concept page's attack (its default settings) of the first ``digit``, imitating the first digit of the
    page's target class (of its source class when ``digit`` is that class)."""
    src, tgt = CONCEPT.picks["src"], CONCEPT.picks["tgt"]
    target = (tgt if int(digit) != tgt[0] else src)[0]
    i, t = nth_of_class(y_all, int(digit), 0), nth_of_class(y_all, target, 0)
    return concept_job(CONCEPT.picks["model"], x_all[i: i + 1], int(digit), x_all[t: t + 1], **CONCEPT.defaults())


def _saliency_attack(x_all: torch.Tensor, y_all: torch.Tensor, digit: int) -> JobSpec:
    """The saliency page's default attack (top-k) of the first ``digit``."""
    i = nth_of_class(y_all, int(digit), 0)
    return saliency_job(SALIENCY.picks["model"], SALIENCY.picks["attack"], x_all[i: i + 1], int(digit),
                        **SALIENCY.defaults())


def question_seed(code: str, number: int) -> int:
    """The seed of question ``number`` of room ``code``: the A/B order is random across questions and rooms, and the
    same every time this question is built."""
    return zlib.crc32(f"{code}:{number}".encode())


def _swapped(seed: int) -> bool:
    """Whether the attacked one is shown as A (seeded: the same room and question number, the same order)."""
    return random.Random(int(seed)).random() < 0.5


def _small(t: torch.Tensor, digits: int = 3) -> list:
    """A [28,28] picture as nested lists of rounded floats: a question is kept in memory and sent as data."""
    return torch.round(t.detach().cpu().float(), decimals=digits).tolist()


def _concepts(res) -> tuple[list[float], list[float]]:
    return ([float(v) for v in res.explanations[k].concepts[0]] for k in ("natural", "adversarial"))


def _said(res) -> str:
    before, after = int(res.pred_before[0]), int(res.pred_after[0])
    return f"still says {before}" if bool(res.label_kept[0]) else f"now says {after} instead of {before}"


def _target_class(res) -> int:
    return int(res.explanations["target"].predicted[0])


def _which_was_attacked(kind: str, prompt: str, res, key: str, natural: list, attacked: list, seed: int, why: str,
                        who: str, numbers: dict[str, float]) -> Question:
    """An A/B question: the ``natural`` and ``attacked`` figures' data under ``data[key]`` in a seeded order, the
    digit beside them. The reveal: "<answer> was attacked: <why>, no pixel moved by more than …, and <who> …"."""
    answer = "A" if _swapped(seed) else "B"
    panels = [attacked, natural] if answer == "A" else [natural, attacked]
    return Question(kind, prompt, ("A", "B"), {"digit": _small(res.x[0, 0]), key: panels, "titles": ["A", "B"]},
                    answer, f"{answer} was attacked: {why}, no pixel moved by more than {float(res.linf[0]):.2f}, "
                    f"and {who} {_said(res)}.", {**numbers, "largest pixel change": float(res.linf[0])})


def attacked_concepts(res, seed: int) -> Question:
    """"Which explanation was attacked?": the digit's SENN concepts h, natural and attacked, as A and B."""
    nat, adv = _concepts(res)
    d_nat, d_adv = float(res.metrics["concept_distance_nat"][0]), float(res.metrics["concept_distance_adv"][0])
    digit, target = int(res.pred_before[0]), _target_class(res)
    return _which_was_attacked(
        "attacked_concepts", f"SENN explains this {digit} with its concepts. One of the two explanations belongs to "
        f"a copy of the digit changed by an attack (every pixel moved by at most {float(res.linf[0]):.2f}). Which one?", res, "bars", nat, adv, seed,
        f"its concepts moved toward a {target}'s (distance {d_nat:.2f} → {d_adv:.2f})", "SENN",
        {"distance, natural": d_nat, "distance, attacked": d_adv})


def changed_most(res, seed: int) -> Question:
    """"Which concept changed most?": the answer is the argmax of |h(x*) − h(x)|."""
    nat, adv = _concepts(res)
    delta = [abs(a - n) for n, a in zip(nat, adv)]
    order = sorted(range(len(delta)), key=lambda i: -delta[i])
    best, second = order[0], order[1]
    options = tuple(f"c{i + 1}" for i in range(len(nat)))
    digit = int(res.pred_before[0])
    return Question(
        "changed_most", f"An attack changed this {digit} a little. Which of SENN's concepts changed most?", options,
        {"digit": _small(res.x[0, 0]), "bars": [nat, adv], "titles": ["before the attack", "after the attack"]},
        options[best],
        f"c{best + 1} changed most: from {nat[best]:.2f} to {adv[best]:.2f} (|Δh| = {delta[best]:.2f}; next, "
        f"c{second + 1} by {delta[second]:.2f}), while SENN {_said(res)}.",
        {f"|Δh| of c{i + 1}": delta[i] for i in order[:3]})   # the three largest changes


def label_changed(res, seed: int) -> Question:
    """"Did the label change?": SENN's prediction on the digit before and after the concept attack."""
    before, after = int(res.pred_before[0]), int(res.pred_after[0])
    p0, p1 = float(res.prob_before[0, before]), float(res.prob_after[0, before])
    kept = bool(res.label_kept[0])
    d = float(res.metrics["concept_change"][0])
    return Question(
        "label_changed", f"An attack changed this {before} a little, and SENN's concepts moved. Did SENN's answer "
        "change?", ("Yes", "No"), {"digits": [_small(res.x[0, 0]), _small(res.x_adv[0, 0])],
                                   "titles": ["before the attack", "after the attack"]}, "No" if kept else "Yes",
        (f"No: SENN says {before} before and after (its probability for {before}: {p0:.2f} → {p1:.2f}), although "
         f"its concepts moved by {d:.2f}: the explanation changed, the answer did not." if kept else
         f"Yes: SENN said {before} and now says {after} (its probability for {before}: {p0:.2f} → {p1:.2f})."),
        {"probability before": p0, "probability after": p1, "concept change": d})


def attacked_saliency(res, seed: int) -> Question:
    """"Which saliency map was attacked?": the CNN's map of the digit, natural and after the top-k attack."""
    nat, adv = (_small(m.abs() / m.abs().sum().clamp_min(1e-12), 5)
                for m in (res.explanations[k][0, 0] for k in ("natural", "adversarial")))
    overlap, k = float(res.metrics["topk_intersection"][0]), int(res.config["k"])
    return _which_was_attacked(
        "attacked_saliency", f"These maps show which pixels made the network say {int(res.pred_before[0])}. One "
        f"belongs to a copy of the digit changed by an attack (every pixel moved by at most "
        f"{float(res.linf[0]):.2f}). Which one?", res, "maps", nat, adv,
        seed, f"only {overlap:.0%} of the {k} most important pixels are still among its top {k}", "the network",
        {"top-k overlap": overlap, "center shift (pixels)": float(res.metrics["center_shift"][0])})


QUESTION_KINDS.register("attacked_concepts")(QuestionKind("Which explanation was attacked? (SENN concepts)", "senn",
                                                          _concept_attack, attacked_concepts))
QUESTION_KINDS.register("attacked_saliency")(QuestionKind("Which saliency map was attacked? (CNN)", "cnn",
                                                          _saliency_attack, attacked_saliency))
QUESTION_KINDS.register("changed_most")(QuestionKind("Which concept changed most? (SENN)", "senn", _concept_attack,
                                                     changed_most))
QUESTION_KINDS.register("label_changed")(QuestionKind("Did the label change? (SENN)", "senn", _concept_attack,
                                                      label_changed))
