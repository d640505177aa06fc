"""Influence functions on a classifier's last layer (Koh & Liang 2017), as paper 003 Sec. 3 attacks them.

The influence of up-weighting a training digit z on the loss of a test digit x (paper 003, Sec. 2):

    I(z, x) = −∇θL(z)ᵀ (H + λI)⁻¹ ∇θL(x),   H = (1/n) Σᵢ ∇²θ L(zᵢ)   (the training-loss Hessian)

θ is the weight and bias of the model's **last** ``nn.Linear`` (the logits layer; 1,290 numbers for the shipped
CNN), as Ghorbani et al. did on InceptionNet ("we calculate the gradients only with respect to parameters in the
final layer"), and L the cross-entropy; the test loss uses the *predicted* class, as the authors' notebook does
(``Influence_Functions_Notebook.ipynb``, ``find_gradient_and_makeplot``: ``label_idx`` from ``make_prediction``).
A negative I means that up-weighting z lowers the test loss: the **most influential** training digits are the k
most negative (the most *helpful* ones) — the authors' code ranks the same digits first (its ``influence`` is
ihvp·g without the minus sign, ``influence.py``, ``Influence.compute_exact_influence`` and
``get_most_neutral_least``).

How it is computed (``InfluenceFunction``), once per model and kept in memory: the input of the last layer φ(z)
of every training digit, and each digit's gradient ∇θL(z) [n, P] in float64. Per test batch, one batched
conjugate-gradient solve (H + λI) s = ∇θL(x) whose matrix is only touched through exact Hessian-vector products
over the cached φ (``InfluenceFunction.hvp``; Koh & Liang use Pearlmutter's double back-propagation, which gives
the same product), then I = −G s. The authors
instead invert the explicit Hessian (``Influence.get_cached_inverse_hessian``, damping 0.01) or run Newton-CG on
finite-difference products (``Influence.compute_influence``/``approx_hvp``); CG on exact products reaches the same
solution (tested against the explicit inverse in tests/influence).

Damping λ = 0.01 (the authors' default; Koh & Liang use the same): the softmax cross-entropy Hessian of a full
10-class last layer is singular (adding one vector to every class row changes no probability), so H alone has no
inverse.

Example:
    infl = InfluenceFunction(cnn, x_train, y_train)          # caches φ and the training gradients
    e = infl(x_test[:4])                                       # InfluenceExplanation
    e.top_idx[0], e.scores[0, e.top_idx[0]]                    # the 5 most influential training digits of digit 0
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..device import model_device
from ..errors import SemError
from ..models.capabilities import check_batch, forward_checked

DAMPING = 0.01      # λ: the authors' default (influence.py, compute_exact_influence) and Koh & Liang's
CG_TOL = 1e-6       # relative residual ‖(H+λI)s − g‖ / ‖g‖ at which a column of the CG solve stops
CG_MAX_ITER = 1000  # a cap, not a budget: 45 iterations reach CG_TOL on the shipped CNN (benchmarks/bench_influence.py)


@dataclass(frozen=True)
class InfluenceExplanation:
    """The training digits that explain each test digit, by influence (paper 003's sample-importance interpretation).

    scores [B, n_train] float64: I(z_i, x) for every training digit (negative = up-weighting z_i lowers x's loss);
    top_idx [B, k]: indices into the training split of the k most influential (most negative I first);
    labels [B]: the class whose loss was differentiated (the prediction by default); logits [B,10] on x;
    residual [B]: relative residual of the conjugate-gradient solve (≤ ``CG_TOL`` when it converged).
    """

    scores: torch.Tensor
    top_idx: torch.Tensor
    labels: torch.Tensor
    logits: torch.Tensor
    residual: torch.Tensor

    @property
    def top_scores(self) -> torch.Tensor:
        """I of the ``top_idx`` digits, [B, k]."""
        return self.scores.gather(1, self.top_idx)


def last_linear(model: nn.Module) -> nn.Linear:
    """The model's last ``nn.Linear`` (registration order), which must produce the 10 logits."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears or linears[-1].out_features != 10:
        raise SemError(f"influence functions need a model whose last layer is a linear layer with 10 outputs "
                       f"(the logits), such as the CNN; {type(model).__name__} has none")
    return linears[-1]


def most_influential(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices [B, k] of the k most negative influences (most helpful first)."""
    if not 1 <= k <= scores.shape[1]:
        raise SemError(f"k must be between 1 and {scores.shape[1]} training digits, got {k}")
    return (-scores).topk(k, dim=1).indices


def batched_cg(matvec, b: torch.Tensor, x0: torch.Tensor | None = None, *, tol: float = CG_TOL,
               max_iter: int = CG_MAX_ITER) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Conjugate gradients for A s = b, one independent solve per row of ``b`` [B, P] (A symmetric positive
    definite, given as ``matvec``: [B, P] → [B, P]). A row stops moving once its relative residual is ≤ ``tol``,
    so a row's answer does not depend on the rest of the batch. Returns (s, relative residual [B], iterations)."""
    s = torch.zeros_like(b) if x0 is None else x0.clone()
    r = b - matvec(s) if x0 is not None else b.clone()
    p = r.clone()
    rr = (r * r).sum(1)
    bnorm = b.norm(dim=1).clamp_min(torch.finfo(b.dtype).tiny)
    it = 0
    for it in range(1, max_iter + 1):
        active = rr.sqrt() / bnorm > tol
        if not active.any():
            it -= 1
            break
        ap = matvec(p)
        alpha = torch.where(active, rr / (p * ap).sum(1).clamp_min(torch.finfo(b.dtype).tiny), torch.zeros_like(rr))
        s = s + alpha[:, None] * p
        r = r - alpha[:, None] * ap
        rr_new = (r * r).sum(1)
        beta = torch.where(active, rr_new / rr.clamp_min(torch.finfo(b.dtype).tiny), torch.zeros_like(rr))
        p = torch.where(active[:, None], r + beta[:, None] * p, p)
        rr = torch.where(active, rr_new, rr)
    return s, rr.sqrt() / bnorm, it


class InfluenceFunction:
    """Influence of every training digit on the loss of test digits, through the model's last linear layer.

    Args:
        model: a classifier whose last ``nn.Linear`` gives the logits (the CNN); never modified.
        x_train [n,1,28,28] in [0,1], y_train [n]: the training split the model was trained on (the Hessian's
            and the gradients' data), e.g. ``load_split("train", card["data"]["source"])``.
        damping: λ added to the Hessian's diagonal (default 0.01, see the module docstring).
        tol, max_iter: conjugate-gradient stopping rule (relative residual) and iteration cap.
        k: how many most influential digits ``top_idx`` lists.
    Example:
        infl = InfluenceFunction(cnn, *load_split("train", "subset")[:2])
        infl(x[:2]).top_idx        # [2, 5] training indices
    """

    def __init__(self, model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor, *, damping: float = DAMPING,
                 tol: float = CG_TOL, max_iter: int = CG_MAX_ITER, k: int = 5, batch_size: int = 500):
        if not (damping >= 0 and damping < float("inf")):
            raise SemError(f"damping must be a finite number >= 0, got {damping}")
        if x_train.ndim != 4 or len(x_train) != len(y_train) or not len(y_train):
            raise SemError(f"the training split must be images [n,C,H,W] with n labels, got {list(x_train.shape)} "
                           f"and {list(y_train.shape)}")
        forward_checked(model, x_train[:1].to(model_device(model)), who="the influence function (on its training "
                        "split)")
        self.layer = last_linear(model)
        self._model: Any = lambda: model          # a strong reference; ``influence_for`` keeps a weak one
        self.image_shape = tuple(x_train.shape[1:])
        self.damping, self.tol, self.max_iter, self.k = float(damping), float(tol), int(max_iter), int(k)
        self.device = model_device(model)
        self.theta = torch.cat([self.layer.weight.detach().flatten(), self.layer.bias.detach()]).double()
        with torch.no_grad():
            phis = [self.features(x_train[i:i + batch_size].to(self.device))[0] for i in range(0, len(x_train), batch_size)]
        self.phi_train = torch.cat(phis).double()                       # [n, d]
        self.y_train = y_train.to(self.device)
        self.grads_train = self.gradients(self.phi_train, self.y_train)  # [n, P], float64
        self.n_train, self.n_params = self.grads_train.shape
        w, b = self._split(self.theta)
        self._p_train = (self.phi_train @ w.T + b).softmax(1)              # [n, 10], for the HVP
        self._phi1 = torch.cat([self.phi_train, torch.ones_like(self.phi_train[:, :1])], dim=1)  # φ̃ = [φ, 1]

    @property
    def model(self) -> nn.Module:
        """The model the influence functions were built for (held weakly)."""
        model = self._model()
        if model is None:
            raise SemError("the model of this influence function no longer exists")
        return model

    # --- the pieces -----------------------------------------------------------------------------------
    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(φ(x) [B,d], logits [B,10]): the last layer's input, captured by a forward hook, and the model's output."""
        seen: list[torch.Tensor] = []
        handle = self.layer.register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
        try:
            logits = self.model(x)
        finally:
            handle.remove()
        if len(seen) != 1 or not torch.allclose(self.layer(seen[0]), logits, atol=1e-4):
            raise SemError("influence functions need the model's output to be its last linear layer's output")
        return seen[0], logits

    def _split(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, d = self.layer.out_features, self.layer.in_features
        return theta[: out * d].view(out, d), theta[out * d:]

    def loss(self, theta: torch.Tensor, phi: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the last layer with parameters ``theta`` [P] on features ``phi`` [B,d]."""
        w, b = self._split(theta)
        return F.cross_entropy(phi @ w.T + b, labels)

    def gradients(self, phi: torch.Tensor, labels: torch.Tensor, *, create_graph: bool = False) -> torch.Tensor:
        """Per-digit ∇θ L [B, P] (float64): one backward pass through a per-digit copy of θ; ``create_graph``
        keeps the graph to φ (so an attack can differentiate ∇θL(x) with respect to the image)."""
        w, b = self._split(self.theta)
        wb = w.expand(len(phi), *w.shape).clone().requires_grad_(True)   # [B, 10, d]
        bb = b.expand(len(phi), *b.shape).clone().requires_grad_(True)   # [B, 10]
        logits = torch.einsum("bcd,bd->bc", wb, phi.double()) + bb
        losses = F.cross_entropy(logits, labels, reduction="sum")
        gw, gb = torch.autograd.grad(losses, (wb, bb), create_graph=create_graph)
        return torch.cat([gw.flatten(1), gb], dim=1)

    def hvp(self, v: torch.Tensor) -> torch.Tensor:
        """(H + λI) v for each row of ``v`` [B, P]: the exact Hessian-vector product of the mean training loss
        over the cached features, never forming H. For the last linear layer with softmax cross-entropy,
        H = (1/n) Σᵢ Aᵢ ⊗ φ̃ᵢφ̃ᵢᵀ with Aᵢ = diag(pᵢ) − pᵢpᵢᵀ and φ̃ = [φ, 1], so with V the matrix form of v
        (rows = classes): H v = (1/n) Σᵢ (Aᵢ V φ̃ᵢ) φ̃ᵢᵀ — two passes over the features (measured 24 ms vs 60 ms for
        double back-propagation with torch.func, 6 vectors, shipped CNN; checked against autograd's Hessian in
        tests/influence)."""
        vm = self._as_matrix(v)                                           # [B, 10, d+1]
        z = torch.einsum("bcd,nd->bnc", vm, self._phi1)                  # V φ̃ᵢ, [B, n, 10]
        p = self._p_train
        az = p * z - p * (p * z).sum(2, keepdim=True)                     # Aᵢ V φ̃ᵢ
        hv = torch.einsum("bnc,nd->bcd", az, self._phi1) / self.n_train  # [B, 10, d+1]
        return self._as_vector(hv) + self.damping * v

    def _as_matrix(self, v: torch.Tensor) -> torch.Tensor:
        """θ-shaped rows [B, P] (weight then bias) → [B, 10, d+1] (each class's weights, then its bias)."""
        out, d = self.layer.out_features, self.layer.in_features
        return torch.cat([v[:, : out * d].view(-1, out, d), v[:, out * d:].view(-1, out, 1)], dim=2)

    def _as_vector(self, m: torch.Tensor) -> torch.Tensor:
        return torch.cat([m[:, :, :-1].flatten(1), m[:, :, -1]], dim=1)

    def dense_hessian(self) -> torch.Tensor:
        """The explicit (H + λI) [P, P] (for checks on small models; P² numbers)."""
        h = torch.autograd.functional.hessian(lambda t: self.loss(t, self.phi_train, self.y_train), self.theta)
        return h + self.damping * torch.eye(self.n_params, dtype=h.dtype, device=h.device)

    def solve(self, g: torch.Tensor, x0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(H + λI)⁻¹ g for each row of ``g`` [B, P] by conjugate gradients; returns (s, relative residual [B])."""
        s, res, _ = batched_cg(self.hvp, g.double(), x0, tol=self.tol, max_iter=self.max_iter)
        return s, res

    def influence_of(self, s: torch.Tensor) -> torch.Tensor:
        """I(z_i, x) = −∇θL(z_i)ᵀ s for every training digit, s = (H+λI)⁻¹∇θL(x) [B,P] → [B, n_train]."""
        return -(s @ self.grads_train.T)

    def test_gradients(self, x: torch.Tensor, labels: torch.Tensor | None = None, *,
                       create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(∇θL(x) [B,P] float64, logits [B,10]) for images ``x`` and the class ``labels`` (default: predicted)."""
        phi, logits = self.features(x.to(self.device))
        labels = logits.argmax(1) if labels is None else labels.to(self.device)
        return self.gradients(phi, labels, create_graph=create_graph), logits

    def __call__(self, x: torch.Tensor, labels: torch.Tensor | None = None, *, k: int | None = None,
                 x0: torch.Tensor | None = None) -> InfluenceExplanation:
        """The influence explanation of images ``x`` [B,C,H,W] (the training split's shape) for class ``labels``
        (default: predicted). ``x0``: a warm start for the solve [B,P] (e.g. the solution of a nearby image)."""
        x, labels = check_batch(self.model, x, labels, who="the influence function")
        if x.shape[1:] != self.image_shape:
            raise SemError(f"the influence function was built on training images {list(self.image_shape)}; "
                           f"got images {list(x.shape[1:])}")
        return self.explain_solved(*self.solved(x, labels, x0), k=k)[0]

    def solved(self, x: torch.Tensor, labels: torch.Tensor | None = None, x0: torch.Tensor | None = None):
        """(s = (H+λI)⁻¹∇θL(x) [B,P], residual [B], labels [B], logits [B,10]) without gradients to ``x``."""
        with torch.enable_grad():
            g, logits = self.test_gradients(x.detach(), labels)
        labels = logits.argmax(1) if labels is None else labels.to(self.device)
        s, res = self.solve(g.detach(), x0)
        return s, res, labels, logits.detach()

    def explain_solved(self, s, res, labels, logits, *, k: int | None = None) -> tuple[InfluenceExplanation, torch.Tensor]:
        """(the explanation, s) from a solve's outputs (see ``solved``)."""
        scores = self.influence_of(s)
        return InfluenceExplanation(scores=scores, top_idx=most_influential(scores, k or self.k), labels=labels,
                                    logits=logits, residual=res), s


_CACHE: "weakref.WeakKeyDictionary[nn.Module, tuple[Any, InfluenceFunction]]" = weakref.WeakKeyDictionary()


def _cache_key(model: nn.Module, source: str, damping: float) -> tuple:
    return (source, float(damping), tuple(p._version for p in model.parameters()),
            tuple(p.data_ptr() for p in model.parameters()))


def influence_setup(config: dict) -> tuple[str, float]:
    """(data source, damping) of the influence functions an influence attack with ``config`` builds or reuses."""
    return config.get("data", "subset"), config.get("damping", DAMPING)


def influence_cached(model: nn.Module, source: str = "subset", *, damping: float = DAMPING) -> bool:
    """Whether ``influence_for`` would return at once (its training gradients are built for this model)."""
    hit = _CACHE.get(model)
    return hit is not None and hit[0] == _cache_key(model, source, damping)


def influence_for(model: nn.Module, source: str = "subset", *, damping: float = DAMPING) -> InfluenceFunction:
    """The model's ``InfluenceFunction`` on the training split of ``source``, built once and kept in memory (per
    model object, data source and damping; rebuilt when the model's weights change in place)."""
    from ..data import load_split

    key = _cache_key(model, source, damping)
    hit = _CACHE.get(model)
    if hit is not None and hit[0] == key:
        return hit[1]
    x_train, y_train, _ = load_split("train", source)
    infl = InfluenceFunction(model, x_train, y_train, damping=damping)
    infl._model = weakref.ref(model)            # the cache must not keep the model (its key) alive
    _CACHE[model] = (key, infl)
    return infl
