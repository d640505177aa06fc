"""What the pages' menus offer, read from the registries: attacks with their labels and texts, the explainers a
saliency attack may target, the explanations and protocols of a Lipschitz estimate.

The pages show these names and texts and hand the chosen name to a service job (``sem_core.serve.views``); they
never hold an algorithm's class, so a page cannot call one.

Example:
    choices = attack_choices("saliency")              # {"top-k": AttackChoice(name="saliency_topk", …), …}
    choices["top-k"].name, choices["top-k"].targeted   # ("saliency_topk", False)
"""
from __future__ import annotations

from dataclasses import dataclass

from ..attacks import ATTACKS, SALIENCY_METHODS, list_attacks
from ..lipschitz import SELF, Protocol, get_protocol, list_lipschitz_explainers, list_protocols

SELF_EXPLANATION = SELF  # the Lipschitz menu's entry for a model's own explanation (SENN's θ)


@dataclass(frozen=True)
class AttackChoice:
    """A registered attack as a menu shows it: ``name`` (the registry's, what a job takes), ``label`` (the menu's
    text), ``kind`` (e.g. "topk"), ``targeted`` (needs a target: a region, a digit), ``steps_fixed`` (ignores
    ``steps``), ``sentence`` (what it does, in plain words) and ``objective_tex`` (its objective, LaTeX)."""

    name: str
    label: str
    kind: str = ""
    targeted: bool = False
    steps_fixed: bool = False
    sentence: str = ""
    objective_tex: str = ""


def attack_choice(name: str) -> AttackChoice:
    """The menu entry of the registered attack ``name`` (its label: the name itself when it has none)."""
    cls = ATTACKS.get(name)
    return AttackChoice(name=name, label=getattr(cls, "label", "") or name, kind=getattr(cls, "kind", ""),
                        targeted=bool(cls.targeted), steps_fixed=bool(getattr(cls, "steps_fixed", False)),
                        sentence=getattr(cls, "sentence", ""), objective_tex=getattr(cls, "objective_tex", ""))


def attack_choices(family: str | None = None, *, targeted: bool | None = None) -> dict[str, AttackChoice]:
    """label -> menu entry of every registered attack of ``family`` ("senn", "protodl", "saliency", …; None: all),
    only the (un)targeted ones when ``targeted`` is given; in registry order."""
    entries = [attack_choice(n) for n in list_attacks(family=family, targeted=targeted)]
    return {e.label: e for e in entries}


def saliency_methods() -> list[str]:
    """The explainers a saliency attack can differentiate through (its ``method``)."""
    return list(SALIENCY_METHODS)


def lipschitz_explainers(model) -> list[str]:
    """What a Lipschitz estimate of ``model`` can measure: every explainer, and ``SELF_EXPLANATION`` first when the
    model explains itself."""
    return list_lipschitz_explainers(model)


#: a Lipschitz search's registry name as a caption shows it (the others read well as they are)
SEARCH_LABELS = {"gp_minimize": "Gaussian-process minimiser (skopt)", "bayesopt": "Bayesian optimisation"}


def search_label(name: str) -> str:
    """The Lipschitz search ``name`` (``LipschitzResult.search``) in words: "gp_minimize" → "Gaussian-process
    minimiser (skopt)"; a name without a label, its underscores as spaces."""
    return SEARCH_LABELS.get(name, name.replace("_", " "))


def lipschitz_protocols() -> list[str]:
    """The published protocols of a Lipschitz estimate (each its own neighbourhood, search and budget)."""
    return list_protocols()


def lipschitz_protocol(name: str) -> Protocol:
    """The protocol ``name`` (its ``summary``, ``eps``, ``neighbourhood``, ``notes`` and ``citations`` for the page);
    an unknown name raises ``UnknownNameError`` listing the others."""
    return get_protocol(name)
