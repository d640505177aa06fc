"""PrototypeDL (Li, Liu, Chen & Rudin 2018; described in paper 000, Sec. 2 and 3.2).

A convolutional autoencoder maps x to a latent z(x); m learnt prototypes p_j live in the same
latent space. The basis concepts are squared distances h_j(x) = ||z(x) - p_j||^2, and a linear
layer (theta constant) maps them to logits. Training loss (Li et al. eq. 1; their weights
lambda_class : lambda_ae : lambda_1 : lambda_2 = 20 : 1 : 1 : 1 in OscarcarLi/PrototypeDL
``CAE_MNIST.py`` (``total_error``), rescaled so CE has weight 1):
    CE + 0.05 * ||x_hat - x||^2 + w1 * R1 + w2 * R2
with R1 = mean_j min_i ||p_j - z(x_i)||^2 (each prototype near some training encoding) and
R2 = mean_i min_j ||z(x_i) - p_j||^2 (each training encoding near some prototype). Li et al.'s
w1 = w2 = 0.05 (shipped as ``protodl-li``); the shipped ``protodl`` raises them to 0.5 for our
short training (see ``train.TrainConfig``). Li et al. trained 1,500 epochs of 55k elastically
deformed digits in batches of 250 with a bias-free last layer; here 60 epochs of 4,000 shifted
digits in batches of 64, a last layer with bias, and a one-cycle learning-rate schedule.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import SemError
from .base import ExplanationFunction, SemModel
from .defenses import pgd_linf
from .layers import make_activation
from .registry import MODELS

log = logging.getLogger(__name__)



# --- prototype geometry (paper 000, eq. 2), shared by the model's adversarial training and its attack
def class_distances(h: torch.Tensor, classes: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """D(x, c) for every class c, [B,n_classes] (eq. 2); +inf for a class that owns no prototype."""
    onehot = F.one_hot(classes, n_classes).to(h.dtype)          # [m,10]
    counts = onehot.sum(0)                                      # [10]
    mean_sq = (h.pow(2) @ onehot) / counts.clamp(min=1)         # [B,10]
    d = mean_sq.sqrt()
    return torch.where(counts > 0, d, torch.full_like(d, float("inf")))


def d_and_r(h: torch.Tensor, classes: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """D(x, y) and R(x, y) per image, [B] each (paper 000, eq. 2 and the line after it)."""
    own = classes.view(1, -1) == y.view(-1, 1)                  # [B,m]
    sq = h.pow(2)
    d = ((sq * own).sum(1) / own.sum(1).clamp(min=1)).sqrt()
    r = ((sq * ~own).sum(1) / (~own).sum(1).clamp(min=1)).sqrt()
    return d, r


def prototype_pgd(model, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int, lam: float = 1.0,
                  xi: float = 0.3) -> torch.Tensor:
    """``steps`` sign-gradient steps of paper 000 eq. 3 (maximise D(x*, y) − λR(x*, y) − ξ CE(f(x*), y)),
    projected into B∞(x, eps) ∩ [0,1]; gradients w.r.t. the input only. Returns x*, detached."""
    classes = model.prototype_classes()

    def loss(z: torch.Tensor) -> torch.Tensor:  # the negative gain: PGD minimises
        h = model.prototype_distances(z)
        d, r = d_and_r(h, classes, y)
        return -(d - lam * r - xi * F.cross_entropy(model.classifier(h), y, reduction="none")).sum()

    return pgd_linf(x, loss, eps=eps, steps=steps)


def prototype_adversarial_term(model, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int) -> torch.Tensor:
    """On the prototype attack x* of each image: CE(f(x*), y) + CE(−D(x*, ·), y), the second a softmax over
    the class distances D(x*, c) (eq. 2) that is minimised when the digit's own class's prototypes are nearest."""
    x_adv = prototype_pgd(model, x, y, eps=eps, steps=steps)
    h = model.prototype_distances(x_adv)
    dc = class_distances(h, model.prototype_classes())                  # [B,10], +inf for a class without prototype
    dc = torch.where(torch.isinf(dc), torch.full_like(dc, 1e4), dc)
    return F.cross_entropy(model.classifier(h), y) + F.cross_entropy(-dc, y)


@dataclass(frozen=True)
class ProtoDLConfig:
    """PrototypeDL's architecture (Li et al.; saved in its card)."""
    n_prototypes: int = 15       # m, as in Li et al. and paper 000
    channels: int = 32           # filters in each of the 4 stride-2 conv layers (Li et al.)
    latent_channels: int = 10    # latent is latent_channels x 2 x 2 = 40 numbers (Li et al.)
    act: str = "relu"
    beta: float = 10.0
    class_init: bool = False     # start prototype j tied to class j mod 10 (else Li et al.'s free init)


@dataclass(frozen=True)
class ProtoExplanation:
    """PrototypeDL's explanation: squared prototype distances [B,m], the class of each prototype
    [m], the nearest prototype [B], its class [B], predicted class [B], logits [B,10]."""

    distances: torch.Tensor
    prototype_classes: torch.Tensor
    nearest: torch.Tensor
    nearest_class: torch.Tensor
    predicted: torch.Tensor
    logits: torch.Tensor


def prototype_explanation(model, x: torch.Tensor) -> ProtoExplanation:
    """The prototype explanation of ``x`` by any prototype model (``capabilities.PrototypeModel``:
    ``prototype_distances``, ``prototype_classes``, ``classifier``): distances, nearest prototype and its class,
    prediction, logits [B,K]."""
    d = model.prototype_distances(x)
    logits = model.classifier(d)
    classes = model.prototype_classes()
    nearest = d.argmin(1)
    return ProtoExplanation(d, classes, nearest, classes[nearest], logits.argmax(1), logits)


@MODELS.register("protodl")
class PrototypeDL(SemModel):
    """Input [B,1,28,28] in [0,1]; ``forward`` returns logits [B,10].

    Example:
        d = model.prototype_distances(x)       # [B,15]
        model.prototype_classes()              # [15] class of each prototype
    """

    Config = ProtoDLConfig

    def __init__(self, config: ProtoDLConfig = ProtoDLConfig()):
        super().__init__()
        self.config = config
        c, lc, m = config.channels, config.latent_channels, config.n_prototypes
        act = lambda: make_activation(config.act, config.beta)  # noqa: E731
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 3, stride=2, padding=1), act(),    # [B,c,14,14]
            nn.Conv2d(c, c, 3, stride=2, padding=1), act(),    # [B,c,7,7]
            nn.Conv2d(c, c, 3, stride=2, padding=1), act(),    # [B,c,4,4]
            nn.Conv2d(c, lc, 3, stride=2, padding=1), nn.Sigmoid(),  # [B,lc,2,2]
            nn.Flatten(),                                      # [B,4*lc]
        )
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (lc, 2, 2)),
            nn.ConvTranspose2d(lc, c, 3, stride=2, padding=1, output_padding=1), act(),  # 4x4
            nn.ConvTranspose2d(c, c, 3, stride=2, padding=1), act(),                     # 7x7
            nn.ConvTranspose2d(c, c, 3, stride=2, padding=1, output_padding=1), act(),   # 14x14
            nn.ConvTranspose2d(c, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid(),  # 28
        )
        self.prototypes = nn.Parameter(torch.rand(m, 4 * lc))  # [m, d] in latent space
        self.classifier = nn.Linear(m, 10)                      # theta: constant weights
        # Optionally start prototype j connected to class j mod 10 (negative weight: closer ->
        # more likely). Training is free either way; the class of a prototype is always read off
        # the trained weights (``prototype_classes``).
        if config.class_init:
            with torch.no_grad():
                init = torch.zeros(10, m)
                init[torch.arange(m) % 10, torch.arange(m)] = -1.0
                self.classifier.weight.copy_(init)
                self.classifier.bias.zero_()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z(x): [B,1,28,28] -> [B,d]."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """[B,d] -> [B,1,28,28]."""
        return self.decoder(z)

    def distances_from_latent(self, z: torch.Tensor) -> torch.Tensor:
        """||z - p_j||^2: [B,d] -> [B,m]."""
        return (z.unsqueeze(1) - self.prototypes.unsqueeze(0)).pow(2).sum(-1)

    def prototype_distances(self, x: torch.Tensor) -> torch.Tensor:
        """h(x) = squared latent distances to the prototypes, [B,m]."""
        return self.distances_from_latent(self.encode(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.prototype_distances(x))

    def prototype_classes(self) -> torch.Tensor:
        """Class of each prototype, [m]: the class whose logit it raises most as it gets closer
        (the most negative weight of its column)."""
        return self.classifier.weight.detach().argmin(0)

    @torch.no_grad()
    def prototype_images(self) -> torch.Tensor:
        """Decoded prototypes, [m,1,28,28] in [0,1]."""
        return self.decode(self.prototypes)

    def explain(self, x: torch.Tensor) -> ProtoExplanation:
        """The prototype explanation of ``x`` [B,1,28,28]: distances, nearest prototype and its class, prediction."""
        return prototype_explanation(self, x)

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, cfg: Any) -> dict[str, torch.Tensor]:
        """Li et al.: CE + λ_rec·‖x̂ − x‖² + λ₁·R1 + λ₂·R2."""
        z = self.encode(x)
        d = self.distances_from_latent(z)  # [B,m]
        ce = F.cross_entropy(self.classifier(d), y)
        rec = (self.decode(z) - x).pow(2).flatten(1).sum(1).mean()
        r1 = d.min(0).values.mean()  # each prototype near some encoding in the batch
        r2 = d.min(1).values.mean()  # each encoding near some prototype
        total = ce + cfg.proto_reconstruction * rec + cfg.proto_r1 * r1 + cfg.proto_r2 * r2
        terms = {"ce": ce, "rec": rec, "r1": r1, "r2": r2}
        if getattr(cfg, "defense", "none") == "adversarial":  # paper 000 eq. 3 inside training
            terms["adversarial"] = prototype_adversarial_term(self, x, y, eps=cfg.defense_eps, steps=cfg.defense_steps)
            total = total + cfg.defense_weight * terms["adversarial"]
        elif getattr(cfg, "defense", "none") != "none":
            raise SemError(f"PrototypeDL supports the defense 'adversarial' only, not '{cfg.defense}'")
        return {"loss": total, **terms}

    def loss_terms(self, cfg: Any) -> dict[str, Any]:
        """The training loss's terms and weights as the checkpoint card records them."""
        out = {"formula": "CE + w_rec * ||x_hat - x||^2 + w_r1 * R1 + w_r2 * R2",
               "weights": {"ce": 1.0, "rec": cfg.proto_reconstruction, "r1": cfg.proto_r1, "r2": cfg.proto_r2},
               "terms": {"ce": "cross-entropy of the logits", "rec": "squared L2 reconstruction error per image",
                         "r1": "mean over prototypes of the squared distance to the nearest encoding in the batch",
                         "r2": "mean over encodings of the squared distance to the nearest prototype"},
               "li_et_al": "lambda_class 20, lambda_ae 1, lambda_1 1, lambda_2 1 (CAE_MNIST.py): "
                           "w_rec = w_r1 = w_r2 = 0.05"}
        if getattr(cfg, "defense", "none") == "adversarial":
            out["formula"] += " + w_adversarial * adversarial"
            out["weights"]["adversarial"] = cfg.defense_weight
            out["terms"]["adversarial"] = "paper 000 eq. 3 term of adversarial training (models/defenses.py)"
        return out

    def after_training(self, x_train, x_test, y_test) -> dict[str, Any]:
        extras: dict[str, Any] = {"prototype_classes": self.prototype_classes().tolist()}
        orphans = sorted(set(range(10)) - set(extras["prototype_classes"]))
        if orphans:  # D(x, y) is undefined for them; the prototype attack refuses such a model
            log.warning("classes %s own no prototype; try another --seed", orphans)
            extras["classes_without_prototype"] = orphans
        dev = self.prototypes.device
        with torch.no_grad():
            near = torch.cat([self.explain(b.to(dev)).nearest_class.cpu() for b in x_test.split(500)])
        extras["test_nearest_prototype_consistency"] = round((near == y_test).float().mean().item(), 4)
        return extras

    def self_explanation(self) -> ExplanationFunction:
        """The prototype distances h(x) over the input (θ is constant, so eq. 5 would be 0)."""
        return ExplanationFunction(self.prototype_distances, True, None, "self")
