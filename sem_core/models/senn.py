"""Self-Explaining Neural Network (Alvarez-Melis & Jaakkola 2018, paper 001).

    logits_c(x) = sum_i theta(x)_{i,c} * h(x)_i           (sum aggregation g)

h: a convolutional concept encoder (k concepts) trained as an autoencoder with a decoder;
theta: a convolutional parameterizer giving a k x 10 relevance matrix per image.
Training loss (eq. 4): CE + lambda * L_theta + xi * reconstruction + zeta * sparsity(h).

Two recipes share this class (``SENNConfig``; the defaults are the project's first model, so older
cards load unchanged):
- ``project`` (shipped as ``senn-k5``): unbounded theta, raw [0,1] inputs, L_theta for the predicted
  logit only, ``|| grad_x f_c(x) - theta_c(x)^T J_h(x) ||_2`` averaged over the images; sparsity
  weight on the mean |h|.
- ``authors`` (``AUTHORS_CONFIG``, shipped as ``senn``), as github:dmelis/SENN builds its MNIST model:
  theta = tanh(.) in [-1, 1] (``SENN/parametrizers.py``, ``image_parametrizer.forward``); inputs
  standardised with MNIST's mean 0.1307 and std 0.3081 (``scripts/main_mnist.py``,
  ``load_mnist_data``), done inside the model so every API still takes [0,1] images; the stability
  penalty on the Jacobian of all ten outputs of the model, which are log-probabilities in their
  ``GSENN`` (``SENN/aggregators.py``, ``additive_scalar_aggregator.forward`` returns log_softmax),
  taken w.r.t. the standardised input, as one Frobenius norm over the batch
  (``SENN/trainers.py``, ``GradPenaltyTrainer.train_batch``, ``typ=3``: ``(bmm(dH, thetas) -
  compute_jacobian(inputs, pred)).norm(2)``); the reconstruction MSE on the standardised image
  (``ClassificationTrainer.concept_learning_loss``) and the sparsity term 1e-4 * ||h||_1 summed over
  the batch (``GSENN.forward``: ``h_norm_l1 = h_x.norm(p=1)``; ``SENN/arglist.py``: ``h_sparsity``
  1e-4, ``theta_reg_lambda`` 1e-2, ``batch_size`` 128); 12 concepts as paper 000 (Sec. 4) trained.
  The encoder, decoder and parameterizer layers stay the project's (below), not the authors' sizes.
"""
from __future__ import annotations

from dataclasses import dataclass

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import ExplanationFunction, SemModel
from .defenses import adversarial_term, lipschitz_term, madry_term
from .layers import make_activation
from .registry import MODELS


MNIST_MEAN, MNIST_STD = 0.1307, 0.3081   # the authors' transforms.Normalize (scripts/main_mnist.py)
CHOICES = {"theta_act": ("none", "tanh"), "penalty": ("predicted", "full"), "sparsity_reduction": ("mean", "sum")}


@dataclass(frozen=True)
class SENNConfig:
    """SENN's architecture (paper 001; saved in its card)."""
    n_concepts: int = 5          # k, the number of basis concepts (paper 000 used 12)
    n_grounding: int = 8         # training digits kept per concept for grounding
    act: str = "relu"            # "relu" (trained) or "softplus" (smooth surrogate)
    beta: float = 10.0           # softplus sharpness when act == "softplus"
    theta_act: str = "none"      # "tanh": relevances bounded in [-1, 1] (the authors')
    normalize: bool = False      # standardise inputs with MNIST mean/std inside the model (the authors')
    penalty: str = "predicted"   # "full": Jacobian of all 10 log-probabilities, batch Frobenius norm (the authors')
    sparsity_reduction: str = "mean"   # "sum": ||h||_1 over the batch (the authors'); "mean": mean |h|

    def __post_init__(self):
        for key, allowed in CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"SENN {key} must be one of {', '.join(allowed)}, got {getattr(self, key)!r}")


# The authors' recipe (module docstring): the model config and the training hyperparameters that differ
# from TrainConfig's defaults. ``python -m sem_core train --model senn --recipe authors`` uses both.
AUTHORS_CONFIG = {"n_concepts": 12, "theta_act": "tanh", "normalize": True, "penalty": "full",
                  "sparsity_reduction": "sum"}
AUTHORS_TRAIN = {"batch_size": 128, "stability": 1e-2, "reconstruction": 1.0, "sparsity": 1e-4}


@dataclass(frozen=True)
class SennExplanation:
    """SENN's own explanation for the predicted class: concepts h(x) [B,k], relevances
    theta(x)_{:,c} [B,k], contributions theta*h [B,k], predicted class [B], logits [B,10]."""

    concepts: torch.Tensor
    relevances: torch.Tensor
    contributions: torch.Tensor
    predicted: torch.Tensor
    logits: torch.Tensor


def concept_explanation(model, x: torch.Tensor) -> SennExplanation:
    """The concept explanation of ``x`` by any concept model (``capabilities.ConceptModel``: ``concepts``,
    ``relevances``, ``aggregate``): h [B,k], θ of the predicted class [B,k], θ·h, prediction, logits [B,K]."""
    h, theta = model.concepts(x), model.relevances(x)
    logits = model.aggregate(h, theta)
    pred = logits.argmax(1)
    rel = theta.gather(2, pred.view(-1, 1, 1).expand(-1, theta.shape[1], 1)).squeeze(2)
    return SennExplanation(h, rel, rel * h, pred, logits)


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
        # a module, not torch.tanh: DeepLIFT's rescale rule sees modules only (it refuses functional calls)
        self.theta_act = nn.Tanh() if config.theta_act == "tanh" else nn.Identity()
        # indices into the training split of the top activating digits, [k, n_grounding];
        # filled after training (``compute_grounding``) and saved with the weights.
        self.register_buffer("grounding", torch.full((k, config.n_grounding), -1, dtype=torch.long))

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        """The networks' input: x itself, or (x - 0.1307) / 0.3081 when ``config.normalize``."""
        return (x - MNIST_MEAN) / MNIST_STD if self.config.normalize else x

    def _h(self, z: torch.Tensor) -> torch.Tensor:
        return self.encoder(z)

    def _theta(self, z: torch.Tensor) -> torch.Tensor:
        theta = self.parameterizer(z).view(-1, self.config.n_concepts, 10)
        return self.theta_act(theta)

    def concepts(self, x: torch.Tensor) -> torch.Tensor:
        """h(x): [B,1,28,28] in [0,1] -> [B,k]."""
        return self._h(self.standardise(x))

    def relevances(self, x: torch.Tensor) -> torch.Tensor:
        """theta(x): [B,1,28,28] in [0,1] -> [B,k,10] (in [-1, 1] when ``theta_act == "tanh"``)."""
        return self._theta(self.standardise(x))

    def reconstruct(self, h: torch.Tensor) -> torch.Tensor:
        """Decoder: concepts [B,k] -> image [B,1,28,28]."""
        return self.decoder(h)

    @staticmethod
    def aggregate(h: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """logits_c = sum_i theta_{i,c} h_i : [B,k], [B,k,10] -> [B,10]."""
        return torch.einsum("bk,bkc->bc", h, theta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.standardise(x)
        return self.aggregate(self._h(z), self._theta(z))

    def explain(self, x: torch.Tensor) -> SennExplanation:
        """SENN's explanation of ``x`` [B,1,28,28]: concepts h, relevances θ of the prediction, h·θ, prediction."""
        return concept_explanation(self, x)

    def stability_penalty(self, x: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
        """L_theta per image (paper 001, eq. 3), [B]; ``config.penalty`` picks which:

        - ``predicted``: || grad_x f_c(x) - theta_c(x)^T J_h(x) ||_2 for the predicted logit c;
        - ``full`` (the authors'): || J_F(z) - J_h(z) theta(z) ||_F over all ten outputs F = log_softmax(f),
          w.r.t. the network input z (the standardised image when ``normalize``), as
          ``SENN/trainers.py`` ``GradPenaltyTrainer.train_batch`` (typ 3) computes it. Their loss is the
          norm over the whole batch, i.e. ``pen.norm()`` of this per-image vector (``training_loss``).

        Every term is an exact vector-Jacobian product; with ``create_graph=True`` the result is
        differentiable (it is a training loss).
        """
        z = self.standardise(x.detach()).requires_grad_(True)
        h, theta = self._h(z), self._theta(z)
        logits = self.aggregate(h, theta)
        if self.config.penalty == "full":
            out = F.log_softmax(logits, dim=1)
            ones = torch.ones((), dtype=out.dtype, device=out.device)
            sq = out.new_zeros(out.shape[0])
            for c in range(out.shape[1]):  # column c of J_F - J_h theta: one VJP through both outputs
                (col,) = torch.autograd.grad([out[:, c].sum(), h], z, grad_outputs=[ones, -theta[:, :, c]],
                                             create_graph=True)
                sq = sq + col.flatten(1).pow(2).sum(1)
            pen = sq.sqrt()
        else:
            c = logits.argmax(1).detach()
            theta_c = theta.gather(2, c.view(-1, 1, 1).expand(-1, theta.shape[1], 1)).squeeze(2)  # [B,k]
            f_c = logits.gather(1, c.view(-1, 1)).sum()
            (grad_f,) = torch.autograd.grad(f_c, z, create_graph=True)
            # theta_c^T J_h: VJP of h with theta_c as the vector (theta_c stays in the graph)
            (theta_jh,) = torch.autograd.grad(h, z, grad_outputs=theta_c, create_graph=True)
            pen = (grad_f - theta_jh).flatten(1).norm(dim=1)
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
        """Paper 001 eq. 4: CE + stability·L_θ + reconstruction·MSE + sparsity·|h| (the reductions as
        ``config`` says: L_θ mean or batch norm, |h| mean or batch sum, MSE on the network input)."""
        z = self.standardise(x)
        h, theta = self._h(z), self._theta(z)
        ce = F.cross_entropy(self.aggregate(h, theta), y)
        full = self.config.penalty == "full"
        if cfg.stability > 0:
            pen = self.stability_penalty(x)
            stab = pen.norm() if full else pen.mean()
        else:
            stab = ce.new_zeros(())
        rec = F.mse_loss(self.standardise(self.reconstruct(h)), z)
        sparse = h.abs().sum() if self.config.sparsity_reduction == "sum" else h.abs().mean()
        total = ce + cfg.stability * stab + cfg.reconstruction * rec + cfg.sparsity * sparse
        terms = {"ce": ce, "stability": stab, "rec": rec, "sparsity": sparse}
        defense = getattr(cfg, "defense", "none")
        if defense == "adversarial":
            terms["adversarial"] = adversarial_term(self, x, y, h, eps=cfg.defense_eps, steps=cfg.defense_steps)
        elif defense == "madry":
            terms["madry"] = madry_term(self, x, y, h, eps=cfg.defense_eps, steps=cfg.defense_steps,
                                        targets=cfg.defense_targets)
        elif defense == "lipschitz":
            terms["lipschitz"] = lipschitz_term(self, x, h, eps=cfg.defense_eps)
        if defense != "none":
            total = total + cfg.defense_weight * terms[defense]
        return {"loss": total, **terms}

    def loss_terms(self, cfg: Any) -> dict[str, str]:
        """The training loss term by term, with its weight, as the card records it (``cfg`` a TrainConfig)."""
        full, total = self.config.penalty == "full", self.config.sparsity_reduction == "sum"
        on = "the standardised input" if self.config.normalize else "the input"
        terms = {
            "ce": "1 × cross-entropy of the logits θ(x)ᵀh(x), mean over the batch",
            "stability": (f"{cfg.stability:g} × " + (
                f"‖J_F − J_h θ‖_F over the batch, F = log_softmax of all 10 outputs, Jacobians w.r.t. {on}" if full
                else f"‖∇f_ŷ − θ_ŷᵀ J_h‖₂ for the predicted logit ŷ, w.r.t. {on}, mean over the batch")),
            "rec": f"{cfg.reconstruction:g} × MSE of the decoder's image against {on}",
            "sparsity": f"{cfg.sparsity:g} × " + ("‖h‖₁ summed over the batch" if total else "mean |h|"),
        }
        defense = getattr(cfg, "defense", "none")
        if defense != "none":
            terms[defense] = f"{cfg.defense_weight:g} × the {defense} defense term (models/defenses.py), ε {cfg.defense_eps:g}"
            if defense in ("adversarial", "madry"):
                terms[defense] += f", {cfg.defense_steps} PGD steps"
            if defense == "madry":
                terms[defense] += (f" from a random start, the worst of {cfg.defense_targets} targets"
                                   + (f", ε ramped over {cfg.defense_ramp_epochs} epochs" if cfg.defense_ramp_epochs else ""))
        return terms

    def after_training(self, x_train, x_test, y_test) -> dict[str, Any]:
        self.compute_grounding(x_train)
        return {"grounding_split": "train"}

    def predicted_relevance_explanation(self) -> ExplanationFunction:
        """θ_ŷ(x) against the input: the relevances of each image's own predicted class, [B,k], with D(x) = x,
        i.e. the ratio ‖θ_ŷ(x) − θ_ŷ(x')‖ / ‖x − x'‖ the authors' Lipschitz code measures for SENN
        (github:dmelis/robust_interpret, ``explainers.py``: ``gsenn_wrapper.__call__`` gathers θ at the argmax
        of the prediction on each input, ``explainer_wrapper.lipschitz_ratio`` divides by ‖x − x'‖; theirs in
        standardised units, this in pixel units)."""
        def fn(x: torch.Tensor) -> torch.Tensor:
            z = self.standardise(x)
            theta = self._theta(z)
            pred = self.aggregate(self._h(z), theta).argmax(1)
            return theta.gather(2, pred.view(-1, 1, 1).expand(-1, theta.shape[1], 1)).squeeze(2)

        return ExplanationFunction(fn, True, None, "self_predicted_theta")

    def self_explanation(self) -> ExplanationFunction:
        """θ(x) (all k×10 relevances) over the concepts h(x): paper 001 eq. 5."""
        return ExplanationFunction(lambda z: self.relevances(z).flatten(1), True, self.concepts, "self")
