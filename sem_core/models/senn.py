"""Self-Explaining Neural Network (Alvarez-Melis & Jaakkola 2018, paper 001).

    logits_c(x) = sum_i theta(x)_{i,c} * h(x)_i           (sum aggregation g)

h: a convolutional concept encoder (k concepts) trained as an autoencoder with a decoder;
theta: a convolutional parameterizer giving a k x 10 relevance matrix per image.
Training loss (eq. 4): CE + lambda * L_theta + xi * reconstruction + zeta * sparsity(h), with
the stability penalty (eq. 3) L_theta = || grad_x f_c(x) - theta_c(x)^T J_h(x) ||_2 for the
predicted class c, computed exactly with autograd (``stability_penalty``).
"""
from __future__ import annotations

from dataclasses import dataclass

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import ExplanationFunction, SemModel
from .defenses import adversarial_term, lipschitz_term
from .layers import make_activation
from .registry import MODELS


@dataclass(frozen=True)
class SENNConfig:
    n_concepts: int = 5          # k, the number of basis concepts (paper 000 used 12)
    n_grounding: int = 8         # training digits kept per concept for grounding
    act: str = "relu"            # "relu" (trained) or "softplus" (smooth surrogate)
    beta: float = 10.0           # softplus sharpness when act == "softplus"


@dataclass(frozen=True)
class SennExplanation:
    """SENN's own explanation for the predicted class: concepts h(x) [B,k], relevances
    theta(x)_{:,c} [B,k], contributions theta*h [B,k], predicted class [B], logits [B,10]."""

    concepts: torch.Tensor
    relevances: torch.Tensor
    contributions: torch.Tensor
    predicted: torch.Tensor
    logits: torch.Tensor


@MODELS.register("senn")
class SENN(SemModel):
    """SENN for MNIST. Input [B,1,28,28] in [0,1]; ``forward`` returns logits [B,10].

    Example:
        h = model.concepts(x)          # [B,k]
        th = model.relevances(x)       # [B,k,10]
    """

    Config = SENNConfig

    def __init__(self, config: SENNConfig = SENNConfig()):
        super().__init__()
        self.config = config
        k = config.n_concepts
        act = lambda: make_activation(config.act, config.beta)  # noqa: E731
        self.encoder = nn.Sequential(                              # h(x)
            nn.Conv2d(1, 16, 5), act(), nn.MaxPool2d(2),           # [B,16,12,12]
            nn.Conv2d(16, 32, 5), act(), nn.MaxPool2d(2),          # [B,32,4,4]
            nn.Flatten(), nn.Linear(512, k),                       # [B,k]
        )
        self.decoder = nn.Sequential(                              # x_hat(h)
            nn.Linear(k, 32 * 7 * 7), act(), nn.Unflatten(1, (32, 7, 7)),
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), act(),  # [B,16,14,14]
            nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1), nn.Sigmoid(),  # [B,1,28,28]
        )
        self.parameterizer = nn.Sequential(                        # theta(x)
            nn.Conv2d(1, 32, 3, padding=1), act(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), act(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 49, 128), act(), nn.Linear(128, k * 10),
        )
        # indices into the training split of the top activating digits, [k, n_grounding];
        # filled after training (``compute_grounding``) and saved with the weights.
        self.register_buffer("grounding", torch.full((k, config.n_grounding), -1, dtype=torch.long))

    def concepts(self, x: torch.Tensor) -> torch.Tensor:
        """h(x): [B,1,28,28] -> [B,k]."""
        return self.encoder(x)

    def relevances(self, x: torch.Tensor) -> torch.Tensor:
        """theta(x): [B,1,28,28] -> [B,k,10]."""
        return self.parameterizer(x).view(-1, self.config.n_concepts, 10)

    def reconstruct(self, h: torch.Tensor) -> torch.Tensor:
        """Decoder: concepts [B,k] -> image [B,1,28,28]."""
        return self.decoder(h)

    @staticmethod
    def aggregate(h: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """logits_c = sum_i theta_{i,c} h_i : [B,k], [B,k,10] -> [B,10]."""
        return torch.einsum("bk,bkc->bc", h, theta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.aggregate(self.concepts(x), self.relevances(x))

    def explain(self, x: torch.Tensor) -> SennExplanation:
        h, theta = self.concepts(x), self.relevances(x)
        logits = self.aggregate(h, theta)
        pred = logits.argmax(1)
        rel = theta.gather(2, pred.view(-1, 1, 1).expand(-1, theta.shape[1], 1)).squeeze(2)
        return SennExplanation(h, rel, rel * h, pred, logits)

    def stability_penalty(self, x: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
        """L_theta per image (paper 001, eq. 3): || grad_x f_c(x) - theta_c(x)^T J_h(x) ||_2, [B].

        c is the predicted class. Both terms are exact vector-Jacobian products; with
        ``create_graph=True`` the result is differentiable (it is a training loss).
        """
        x = x.detach().requires_grad_(True)
        h, theta = self.concepts(x), self.relevances(x)
        logits = self.aggregate(h, theta)
        c = logits.argmax(1).detach()
        theta_c = theta.gather(2, c.view(-1, 1, 1).expand(-1, theta.shape[1], 1)).squeeze(2)  # [B,k]
        f_c = logits.gather(1, c.view(-1, 1)).sum()
        (grad_f,) = torch.autograd.grad(f_c, x, create_graph=True)
        # theta_c^T J_h: VJP of h with theta_c as the vector (theta_c stays in the graph)
        (theta_jh,) = torch.autograd.grad(h, x, grad_outputs=theta_c, create_graph=True)
        diff = (grad_f - theta_jh).flatten(1)
        pen = diff.norm(dim=1)
        return pen if create_graph else pen.detach()

    @torch.no_grad()
    def compute_grounding(self, train_images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Fill ``grounding`` with the training digits that maximally activate each concept
        (paper 001, Sec. 3 'grounding'). Returns the [k, n_grounding] index tensor."""
        acts = torch.cat([self.concepts(b) for b in train_images.split(batch_size)])  # [N,k]
        top = acts.topk(self.config.n_grounding, dim=0).indices.T.contiguous()  # [k, n]
        self.grounding.copy_(top)
        return top

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, cfg: Any) -> dict[str, torch.Tensor]:
        """Paper 001 eq. 4: CE + stability·L_θ + reconstruction·MSE + sparsity·|h|."""
        h, theta = self.concepts(x), self.relevances(x)
        ce = F.cross_entropy(self.aggregate(h, theta), y)
        stab = self.stability_penalty(x).mean() if cfg.stability > 0 else ce.new_zeros(())
        rec = F.mse_loss(self.reconstruct(h), x)
        sparse = h.abs().mean()
        total = ce + cfg.stability * stab + cfg.reconstruction * rec + cfg.sparsity * sparse
        terms = {"ce": ce, "stability": stab, "rec": rec, "sparsity": sparse}
        defense = getattr(cfg, "defense", "none")
        if defense == "adversarial":
            terms["adversarial"] = adversarial_term(self, x, y, h, eps=cfg.defense_eps, steps=cfg.defense_steps)
        elif defense == "lipschitz":
            terms["lipschitz"] = lipschitz_term(self, x, h, eps=cfg.defense_eps)
        if defense != "none":
            total = total + cfg.defense_weight * terms[defense]
        return {"loss": total, **terms}

    def after_training(self, x_train, x_test, y_test) -> dict[str, Any]:
        self.compute_grounding(x_train)
        return {"grounding_split": "train"}

    def self_explanation(self) -> ExplanationFunction:
        """θ(x) (all k×10 relevances) over the concepts h(x): paper 001 eq. 5."""
        return ExplanationFunction(lambda z: self.relevances(z).flatten(1), True, self.concepts, "self")
