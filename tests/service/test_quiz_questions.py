"""The quiz's questions come from real attack results (issue 29, point 9): the service runs the attack pages' own
jobs, and each question's figures, answer and numbers are read off that result."""
from __future__ import annotations

import pytest
import torch

from sem_core.serve.cache import ResultCache
from sem_core.serve.quiz_questions import QUESTION_KINDS, QUESTION_ORDER, question_seed
from sem_core.serve.service import AttackService
from sem_core.serve.views import CONCEPT


@pytest.fixture(scope="module")
def results(shipped, test_split, tmp_path_factory):
    """kind -> the result of its job on the first 9 (the concept page's default digit), one service for all."""
    x, y, _ = test_split
    svc = AttackService(device="cpu", loader=lambda name: shipped[name],
                        cache=ResultCache(folder=tmp_path_factory.mktemp("cache")))
    try:
        out = {}
        for name in QUESTION_ORDER:
            kind = QUESTION_KINDS.get(name)
            out[name] = svc.submit("quiz-test", kind.job(x, y, CONCEPT.picks["src"][0])).result()
        yield out
    finally:
        svc.shutdown()


def test_every_kind_is_registered_with_a_plain_label():
    assert QUESTION_KINDS.names() == sorted(QUESTION_ORDER)
    for name in QUESTION_ORDER:
        label = QUESTION_KINDS.get(name).label
        assert "_" not in label and label.endswith(")") and "?" in label


@pytest.mark.parametrize("name", ["attacked_concepts", "attacked_saliency"])
def test_which_was_attacked_shows_both_in_a_seeded_order(results, name):
    res = results[name]
    build = QUESTION_KINDS.get(name).build
    answers = {build(res, question_seed("K7Q2", n)).answer for n in range(1, 12)}
    assert answers == {"A", "B"}                                   # both orders occur over a room's questions
    q = build(res, 3)
    assert q == build(res, 3)                                      # the same seed, the same question
    key = "bars" if name == "attacked_concepts" else "maps"
    attacked = torch.tensor(q.data[key][q.options.index(q.answer)])
    natural = torch.tensor(q.data[key][1 - q.options.index(q.answer)])
    if name == "attacked_concepts":
        assert torch.allclose(attacked, res.explanations["adversarial"].concepts[0], atol=1e-6)
        assert torch.allclose(natural, res.explanations["natural"].concepts[0], atol=1e-6)
        assert q.numbers["distance, attacked"] == pytest.approx(
            float(res.metrics["concept_distance_adv"][0]))
    else:
        m = res.explanations["adversarial"][0, 0].abs()
        assert torch.allclose(attacked, m / m.sum(), atol=1e-5)
        assert q.numbers["top-k overlap"] == pytest.approx(float(res.metrics["topk_intersection"][0]))
    assert f"{q.answer} was attacked" in q.explanation
    assert set(q.public()) == {"kind", "prompt", "options", "data"}   # what students get: no answer


def test_the_concept_that_changed_most_is_the_argmax_of_the_change(results):
    res = results["changed_most"]
    q = QUESTION_KINDS.get("changed_most").build(res, 0)
    delta = (res.explanations["adversarial"].concepts[0] - res.explanations["natural"].concepts[0]).abs()
    best = int(delta.argmax())
    assert q.answer == f"c{best + 1}" and len(q.options) == len(delta)
    assert q.numbers[f"|Δh| of c{best + 1}"] == pytest.approx(float(delta[best]), abs=1e-5)
    assert q.explanation.startswith(f"c{best + 1} changed most")


def test_did_the_label_change_reads_label_kept(results):
    res = results["label_changed"]
    q = QUESTION_KINDS.get("label_changed").build(res, 0)
    assert q.answer == ("No" if bool(res.label_kept[0]) else "Yes")
    assert q.numbers["probability before"] == pytest.approx(float(res.prob_before[0, int(res.pred_before[0])]))
    assert len(q.data["digits"]) == 2 and len(q.data["digits"][0]) == 28
