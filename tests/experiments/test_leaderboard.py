"""The leaderboard (issue 31): ranked on the cards' headline numbers; defended models judged by the defenses
experiment's own rule; the committed docs/LEADERBOARD.md regenerated from the committed cards, and agreeing with the
committed defenses run pair by pair."""
import json
from pathlib import Path

import pytest

from sem_core.experiments.defenses import PAIRS, defense_holds
from sem_core.experiments.leaderboard import (SHIPPED_BOARD, Entry, board_command, build, card_folder, leaderboard_markdown,
                                           pair_outcomes, read_entry)
from sem_core.experiments.runner import open_results, valid_for_code

ROOT = Path(__file__).resolve().parents[2]
CARDS = ROOT / "results" / "cards"
SHIPPED = list(SHIPPED_BOARD)
COMMAND = board_command(SHIPPED_BOARD, "docs/LEADERBOARD.md")


def _iv(point, low=None, high=None):
    return {"point": point, "low": point if low is None else low, "high": point if high is None else high, "n": 3,
            "level": 0.95, "resamples": 2000}


def _entry(name, topk, params=None):
    doc = {"model": {"accuracy": 0.9, "architecture": "x"}, "run": {"n": 3, "seed": 0, "params": params or {"n": 3}},
           "headline": {"saliency_topk": _iv(topk), "lipschitz_elasticity": None, "concept_ratio": None,
                        "prototype_consistency": None},
           "verdict": {"value": "partly"}, "sections": {}}
    return Entry(name, doc, [])


def test_ranked_most_robust_first_and_pairs_need_the_seven_cards():
    board = build([_entry("a", 0.2), _entry("b", 0.6), _entry("c", 0.4)])
    assert [e.name for e in board.entries] == ["b", "c", "a"]
    assert not board.pairs and "missing" in board.notes[0]
    text = leaderboard_markdown(board, "cmd")
    assert "| 1 | b |" in text and "0.60 [0.60, 0.60]" in text


def test_cards_of_other_settings_are_ranked_never_paired():
    entries = [_entry(m, 0.5, {"n": 3 if m != "cnn" else 4}) for m in set(PAIRS) | set(PAIRS.values())]
    board = build(entries)
    assert not board.pairs and "other settings" in board.notes[0]


def test_card_folders_are_named_safely():
    assert card_folder(Path("r"), "cnn") == Path("r/cnn")
    assert card_folder(Path("r"), "/x/my model.json") == Path("r/my_model")


@pytest.fixture(scope="module")
def committed():
    entries = [read_entry(card_folder(CARDS, m), m) for m in SHIPPED]
    return build(entries)


def test_the_committed_cards_are_what_the_committed_code_computes():
    for m in SHIPPED:
        manifest, _, _ = open_results(CARDS / m)            # verified: published with the code
        assert manifest["params"]["n"] == 100 and valid_for_code(manifest), m


def test_the_committed_leaderboard_is_regenerated_from_the_committed_cards(committed):
    assert leaderboard_markdown(committed, COMMAND) == (ROOT / "docs" / "LEADERBOARD.md").read_text()
    assert sorted(e.name for e in committed.entries) == sorted(SHIPPED)


def test_defended_models_rank_above_their_partners_exactly_where_the_defenses_experiment_says(committed):
    """The defenses run (results/defenses) and the cards judge each defended model by the same rule; they agree, and
    a defense that holds ranks its model above the natural partner on the family's headline."""
    manifest = json.loads((ROOT / "results" / "defenses" / "manifest.json").read_text())
    experiment = {m: ok for m, (ok, _) in defense_holds(manifest["summary"]).items()}
    cards = pair_outcomes(committed)
    assert cards == experiment
    for p in committed.pairs:
        if p["defense_holds"]:
            assert p["ranks_above"], p
