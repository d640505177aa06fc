"""What the pages' menus offer (sem_core.viz.menus) is what the registries hold."""
import pytest

from sem_core.attacks import ATTACKS, SALIENCY_METHODS, list_attacks
from sem_core.errors import UnknownNameError
from sem_core.lipschitz import SELF, list_lipschitz_explainers, list_protocols
from sem_core.viz.menus import (SELF_EXPLANATION, attack_choice, attack_choices, lipschitz_explainers,
                                lipschitz_protocol, lipschitz_protocols, saliency_methods)


def test_saliency_attack_choices_follow_the_registry():
    choices = attack_choices("saliency")
    assert [c.name for c in choices.values()] == list_attacks(family="saliency")
    for label, c in choices.items():
        cls = ATTACKS.get(c.name)
        assert label == c.label == cls.label and c.kind == cls.kind and c.targeted == cls.targeted
        assert c.sentence == cls.sentence and c.objective_tex == cls.objective_tex and c.steps_fixed == cls.steps_fixed
    assert choices["targeted region"].targeted and not choices["top-k"].targeted
    untargeted = attack_choices("saliency", targeted=False)
    assert "targeted region" not in untargeted and untargeted["top-k"].name == "saliency_topk"


def test_an_attack_without_a_label_is_shown_by_its_name():
    assert attack_choice("senn_concept").label == "senn_concept" and attack_choice("senn_concept").targeted
    with pytest.raises(UnknownNameError):
        attack_choice("nope")


def test_explainer_and_protocol_menus(shipped):
    assert saliency_methods() == list(SALIENCY_METHODS)
    senn, cnn = shipped["senn"][0], shipped["cnn"][0]
    assert SELF_EXPLANATION == SELF and lipschitz_explainers(senn)[0] == SELF
    assert lipschitz_explainers(cnn) == list_lipschitz_explainers(cnn) and SELF not in lipschitz_explainers(cnn)
    assert lipschitz_protocols() == list_protocols()
    spec = lipschitz_protocol(lipschitz_protocols()[0])
    assert spec.name == lipschitz_protocols()[0] and spec.summary and spec.eps > 0
