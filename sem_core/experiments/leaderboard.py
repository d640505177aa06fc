"""The leaderboard (issue 31): models ranked on their robustness cards' headline numbers, with 95 % intervals, and
each defended model beside its natural partner, judged by the defenses experiment's own rule
(``defenses.defense_holds``) applied to the cards' numbers.

    python -m sem_core leaderboard --models cnn cnn-smooth senn ... --out docs/LEADERBOARD.md

Each model's card is the ``card`` run in ``<cards>/<model>`` (made or resumed first); only verified folders are
read (``card.read_card``). Cards of the same n, seed and settings draw the same digits, so two models are compared
digit by digit (paired bootstrap intervals); cards of other settings are ranked but never paired.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import SemError
from ..metrics.stats import bootstrap_paired, mean_difference
from ..viz.card import interval_text
from .card import HEADLINES, read_card
from .defenses import PAIRS, defense_holds

#: the headline a family's defense is judged on (the defenses experiment's measure)
#: the committed leaderboard's models (docs/LEADERBOARD.md), each natural model before its robust variants
SHIPPED_BOARD = ("cnn", "cnn-smooth", "senn", "senn-k5", "senn-adv", "senn-lip", "senn-madry", "protodl", "protodl-adv",
                 "protodl-li")


def board_command(models=SHIPPED_BOARD, out: str | None = None, options: str = "") -> str:
    """The CLI line that builds the leaderboard of ``models`` (with ``options``, into ``out``), as its Markdown
    cites it; each name shell-quoted."""
    import shlex

    return ("python -m sem_core leaderboard --models " + " ".join(shlex.quote(m) for m in models) + options
            + (f" --out {shlex.quote(out)}" if out else ""))


FAMILY_HEADLINE = {"concept": "concept_ratio", "prototype": "prototype_consistency", "saliency": "saliency_topk"}


@dataclass
class Entry:
    """One model's card as the leaderboard reads it: the card document and its per-digit rows."""

    name: str
    doc: dict[str, Any]
    rows: list[dict[str, Any]]

    @property
    def family(self) -> str:
        """"concept", "prototype" or "saliency": the family the model's defense (if any) is judged on."""
        sec = self.doc["sections"]
        return "concept" if "concept" in sec else "prototype" if "prototype" in sec else "saliency"

    def column(self, section: str, key: str, **where: Any) -> dict[int, float]:
        """digit index -> the value of ``key`` in this card's rows of ``section`` (matching ``where``)."""
        return {r["idx"]: float(r[key]) for r in self.rows
                if r["section"] == section and all(r.get(k) == v for k, v in where.items())}


@dataclass
class Leaderboard:
    """The ranked entries, the defended/natural pairs and the notes of what could not be compared."""

    entries: list[Entry]
    pairs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def card_folder(cards: Path, model: str) -> Path:
    """The folder of ``model``'s card under ``cards``: its name, or a card path's file stem made safe."""
    stem = Path(model).stem if model.endswith(".json") else model
    return Path(cards) / re.sub(r"[^A-Za-z0-9._-]", "_", stem)[:80]


def read_entry(folder: Path, name: str) -> Entry:
    """``name``'s verified card in ``folder`` with its per-digit rows (results.json, covered by the same seal)."""
    doc, _ = read_card(folder)
    rows = json.loads((Path(folder) / "results.json").read_text(encoding="utf-8"))["rows"]
    return Entry(name, doc, rows)


def build(entries: list[Entry], seed: int = 0) -> Leaderboard:
    """Rank ``entries`` (by the saliency map's top-k intersection under attack, most robust first) and judge every
    defended/natural pair of ``defenses.PAIRS`` whose two cards are present and paired."""
    key = lambda e: -(e.doc["headline"]["saliency_topk"] or {"point": float("-inf")})["point"]  # noqa: E731
    board = Leaderboard(sorted(entries, key=key))
    by = {e.name: e for e in entries}
    needed = set(PAIRS) | set(PAIRS.values())
    if not needed <= set(by):
        board.notes.append(f"defended/natural pairs need the cards of {', '.join(sorted(needed))} "
                           f"(missing: {', '.join(sorted(needed - set(by)))})")
        return board
    settings = {json.dumps({k: v for k, v in by[m].doc["run"]["params"].items() if k != "model"}, sort_keys=True)
                for m in needed}
    if len(settings) > 1:
        board.notes.append("the cards of the defended and natural models were made with other settings (n, seed or "
                           "budgets): they are ranked, not paired")
        return board
    held = defense_holds(defenses_summary(by, seed))
    for robust, natural in PAIRS.items():
        r, nat = by[robust], by[natural]
        col = FAMILY_HEADLINE[r.family]
        up = dict((k, u) for k, _, u in HEADLINES)[col]
        a, b = r.doc["headline"][col]["point"], nat.doc["headline"][col]["point"]
        ok, why = held[robust]
        board.pairs.append({"robust": robust, "natural": natural, "measure": col, "robust_value": r.doc["headline"][col],
                            "natural_value": nat.doc["headline"][col], "ranks_above": (a > b) if up else (a < b),
                            "defense_holds": ok, "why": why})
    return board


def _paired(r: Entry, nat: Entry, getter: Callable[[Entry], dict[int, float]], seed: int) -> dict[str, Any]:
    """The paired bootstrap interval of mean(r − nat) over the digits both cards hold."""
    a, b = getter(r), getter(nat)
    common = sorted(set(a) & set(b))
    return bootstrap_paired([a[i] for i in common], [b[i] for i in common], mean_difference, seed=seed).to_dict()


def defenses_summary(by: dict[str, Entry], seed: int = 0) -> dict[str, Any]:
    """A summary of the defenses experiment's shape built from robustness cards (the same protocols: concept ε 0.3,
    100 steps, the same targets; PrototypeDL's attack; the top-k saliency attack at k 50 of 784, ε 0.1, 50 steps),
    so that ``defenses.defense_holds`` judges the cards by the experiment's own rule."""
    s: dict[str, Any] = {}
    acc = {m: e.doc["model"]["accuracy"] for m, e in by.items()}
    for m, e in by.items():
        sec = e.doc["sections"]
        entry: dict[str, Any] = {}
        if "concept" in sec:
            entry.update(adv_over_in_class_interval=sec["concept"]["ratio"],
                         adv_outclass_median=sec["concept"]["adv_outclass_median"])
        if "prototype" in sec:
            entry["adversarial_consistency"] = sec["prototype"]["consistency"]["point"]
        if "saliency" in sec and "saliency" in sec["saliency"]["methods"]:
            entry["topk_intersection"] = sec["saliency"]["methods"]["saliency"]["topk_mean"]["point"]
        s[m] = entry
    for robust, natural in PAIRS.items():
        r = s[robust]
        r["accuracy_cost_points"] = round(100 * (acc[natural] - acc[robust]), 2)
        if "adv_outclass_median" in r:
            r["adv_vs_natural_model"] = r["adv_outclass_median"] / s[natural]["adv_outclass_median"]
    s["protodl-adv"]["consistency_gain_interval"] = _paired(
        by["protodl-adv"], by["protodl"], lambda e: e.column("prototype", "nearest_consistent_adv"), seed)
    s["cnn-smooth"]["topk_gain_interval"] = _paired(
        by["cnn-smooth"], by["cnn"], lambda e: e.column("saliency", "topk_topk", method="saliency"), seed)
    return s


def leaderboard_markdown(board: Leaderboard, command: str) -> str:
    """The leaderboard as Markdown: the ranked table, the pairs, the notes and how to regenerate it."""
    cols = [(k, label) for k, label, _ in HEADLINES]
    first = board.entries[0].doc["run"] if board.entries else {"n": "—", "seed": "—"}
    lines = ["# Explanation-robustness leaderboard", "",
             f"Generated by `{command}` from the models' robustness cards (`python -m sem_core card`; "
             f"n = {first['n']} seeded test digits, seed {first['seed']}). Each cell: the statistic and its 95 % "
             "bootstrap interval over digits. Ranked by how much of the gradient saliency map's top-k survives the "
             "top-k attack (most robust first); the elasticity is the local Lipschitz estimate made scale-free "
             "(lower = more stable). The last column says whether the papers' fragility findings hold for the "
             "model (its card's verdict): *reproduced* is bad news for its explanations.", "",
             "| rank | model | architecture | accuracy | " + " | ".join(label for _, label in cols)
             + " | fragility findings hold |",
             "| --- | --- | --- | --- | " + " | ".join("---" for _ in cols) + " | --- |"]
    for rank, e in enumerate(board.entries, 1):
        m, h = e.doc["model"], e.doc["headline"]
        lines.append(f"| {rank} | {e.name} | {m['architecture']} | {m['accuracy']:.1%} | "
                     + " | ".join(interval_text(h.get(k)) for k, _ in cols) + f" | {e.doc['verdict']['value']} |")
    if board.pairs:
        lines += ["", "## Defended models beside their natural partners", "",
                  "The defenses experiment's rule (`sem_core/experiments/defenses.py`, `defense_holds`) applied to the "
                  "cards' numbers: paired over the same digits where the rule pairs them.", "",
                  "| defended | natural | measure | defended | natural | ranks above | defense holds | numbers |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        label = {k: lab for k, lab, _ in HEADLINES}
        for p in board.pairs:
            lines.append(f"| {p['robust']} | {p['natural']} | {label[p['measure']]} | {interval_text(p['robust_value'])} "
                         f"| {interval_text(p['natural_value'])} | {'yes' if p['ranks_above'] else 'no'} | "
                         f"{'yes' if p['defense_holds'] else 'no'} | {p['why']} |")
    if board.notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in board.notes]
    return "\n".join(lines) + "\n"


def pair_outcomes(board: Leaderboard) -> dict[str, bool]:
    """defended model -> whether its defense holds on the cards (for comparing with the defenses experiment)."""
    return {p["robust"]: p["defense_holds"] for p in board.pairs}


def check_models(models: list[str]) -> list[str]:
    """``models`` without repeats; an empty list is refused."""
    if not models:
        raise SemError("leaderboard: name at least one model (--models cnn senn ...)")
    return list(dict.fromkeys(models))
