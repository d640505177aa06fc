"""The shared PGD loop: L∞ ball and [0,1] projection, keep-the-label selection, the result object.

An attack is one small subclass that says what to minimise (``step``) and what to report
(``metrics``). The loop (Madry et al. PGD, L∞, sign-gradient steps) lives here once:

    x_{t+1} = clip_[0,1]( clip_{x±ε}( x_t − α · sign ∇ loss(x_t) ) )

Selection (the papers' rule): per image, among the iterates whose *real* model prediction equals
the prediction on the natural image, keep the one with the best ``score``; the natural image is
iterate 0, so an image for which no perturbed iterate kept the label comes back unperturbed with
``improved`` False.

Every attack has one shape (torchattacks / captum style): configured in the constructor, data in
the call, a frozen ``AttackResult`` out, registered by name in ``ATTACKS``:

    res = TopKAttack(cnn, method="ig", eps=0.1)(x)              # untargeted: no target
    res = SennConceptAttack(senn, eps=0.3)(x9, target=x2)       # targeted: a target is required
    res = sem_core.attack(cnn, "saliency_topk", x, eps=0.1)      # the same through the registry
"""
from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn

from ..batching import batch_cat
from ..errors import AttackError
from ..models.capabilities import check_batch, forward_checked, input_domain
from ..params import Param, Settings

#: what happened to one image (``AttackResult.status``): "ok" a perturbed iterate that keeps the label and
#: scores better than the natural image was kept; "no-gradient" the attack's loss had a zero gradient at every
#: step, so nothing could move (e.g. a ReLU network's saliency without a surrogate); "label-lost" no perturbed
#: iterate kept the label; "no-improvement" some kept it but none scored better; "not-run" steps = 0.
STATUSES = ("ok", "no-gradient", "label-lost", "no-improvement", "not-run")


@dataclass(frozen=True)
class StepOut:
    """What an attack computes at an iterate. ``loss`` [B] is minimised by the gradient steps;
    ``score`` [B] (lower is better) picks the best iterate; ``logits`` [B,10] are the real
    model's on that iterate when the attack already computed them (else None)."""

    loss: torch.Tensor
    score: torch.Tensor
    logits: torch.Tensor | None = None


@dataclass(frozen=True)
class Snapshot:
    """One replay frame: the iterate ``x`` [B,C,H,W] at PGD ``step`` and the attack's
    explanation of it (``Attack.explain_images``: SENN's concepts, PrototypeDL's distances, a map)."""

    step: int
    x: torch.Tensor
    explanation: Any


@dataclass(frozen=True)
class AttackResult:
    """Per-image results of one attack on a batch (all tensors on the CPU).

    x, x_adv [B,C,H,W]; y [B] labels; pred_before/pred_after [B]; prob_before/prob_after [B,K];
    label_kept [B] bool (fresh forward of the real model on x_adv); improved [B] bool (a perturbed
    iterate was kept); linf [B]; objective [S+1,B] (score at every iterate); best_step [B];
    metrics: name -> [B]; config; snapshots: replay frames (``snapshot_every``); extras: per-image
    tensors of the attack (e.g. ``x_target``); explanations: what the attacked explanation looks
    like — ``natural`` (of x), ``adversarial`` (of x_adv) and, for targeted attacks with target
    images, ``target`` — each as the attack's ``explain_images`` returns it; status: per image, one of
    ``STATUSES`` ("no-gradient": the attack could not move this image at all, so its metrics are not a finding).
    """

    x: torch.Tensor
    x_adv: torch.Tensor
    y: torch.Tensor
    pred_before: torch.Tensor
    pred_after: torch.Tensor
    prob_before: torch.Tensor
    prob_after: torch.Tensor
    label_kept: torch.Tensor
    improved: torch.Tensor
    linf: torch.Tensor
    objective: torch.Tensor
    best_step: torch.Tensor
    metrics: dict[str, torch.Tensor]
    config: dict[str, Any]
    snapshots: list[Snapshot] = field(default_factory=list)
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    explanations: dict[str, Any] = field(default_factory=dict)
    status: tuple[str, ...] = ()

    @property
    def outcome(self) -> str:
        """The batch in one word: "no-gradient" when the attack could move no image (its metrics are not a
        finding: the CLI exits non-zero, the app and experiments say so), "not-run" for 0 steps, else "ok"."""
        if self.status and all(s == "no-gradient" for s in self.status):
            return "no-gradient"
        if self.status and all(s == "not-run" for s in self.status):
            return "not-run"
        return "ok"

    def status_counts(self) -> dict[str, int]:
        """How many images ended in each status (only the statuses that occur)."""
        return {s: self.status.count(s) for s in STATUSES if s in self.status}

    def summary(self) -> dict[str, float]:
        """Means over the batch of every metric, plus the label-kept rate and max L∞."""
        out = {"label_kept_rate": self.label_kept.float().mean().item(),
               "improved_rate": self.improved.float().mean().item(),
               "linf_max": self.linf.max().item()}
        out.update({k: v.float().mean().item() for k, v in self.metrics.items()})
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready per-image lists plus the summary and config."""
        per_image = {k: v.tolist() for k, v in self.metrics.items()}
        return {"summary": self.summary(), "config": self.config, "y": self.y.tolist(),
                "pred_before": self.pred_before.tolist(), "pred_after": self.pred_after.tolist(),
                "label_kept": self.label_kept.tolist(), "improved": self.improved.tolist(),
                "linf": self.linf.tolist(), "best_step": self.best_step.tolist(), "metrics": per_image,
                "outcome": self.outcome, "status": list(self.status), "status_counts": self.status_counts()}


def to_cpu(obj: Any) -> Any:
    """``obj`` with every tensor moved to the CPU and detached (tensors, dicts, frozen dataclasses)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: to_cpu(getattr(obj, f.name)) for f in dataclasses.fields(obj)})
    return obj


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    """Into the L∞ ball of radius eps around x, and into the input domain [lo, hi] (default [0,1])."""
    return torch.max(torch.min(x_adv, x + eps), x - eps).clamp(lo, hi)


@dataclass
class _Best:
    """The best label-keeping iterate so far, per image."""

    x: torch.Tensor
    score: torch.Tensor
    step: torch.Tensor


@dataclass(eq=False)
class PGDRun:
    """A batch on its way through the PGD loop (``Attack.begin`` / ``advance`` / ``end``): the images, their
    prediction and prepared context, the current iterate ``x_adv`` at iteration ``t``, the best label-keeping
    iterate so far, the score per iteration and the replay frames."""

    x: torch.Tensor
    y: torch.Tensor
    pred: torch.Tensor
    logits0: torch.Tensor
    ctx: dict[str, Any]
    x_adv: torch.Tensor
    best: _Best
    gen: torch.Generator
    on_step: Callable[[int, int], None] | None = None
    moved: torch.Tensor | None = None       # [B] bool: the loss gradient was non-zero at some step
    kept_any: torch.Tensor | None = None    # [B] bool: some perturbed iterate kept the label
    t: int = 0
    finished: bool = False
    scores: list[torch.Tensor] = field(default_factory=list)
    frames: list[tuple[int, torch.Tensor]] = field(default_factory=list)


class Attack:
    """Base class. Model in the constructor, data in the call.

    Class attributes a subclass sets: ``name`` (its registry name), ``targeted`` (True: the call
    needs ``target``; False: a target is refused), ``family`` (the model family it attacks:
    "senn", "protodl", or "saliency" for any model with a saliency map) and ``summary`` (one line
    for menus and ``--help``).

    Args:
        model: the real model (its predictions decide ``label_kept``); never modified.
        **config: the attack's settings, declared once in ``settings`` (default, range, label, help): eps (L∞
            radius, pixel units), steps, step_size (default 2.5·eps/steps, Madry et al.), random_start,
            snapshot_every (replay frames), plus each subclass's own. Unknown names and bad values raise
            ``AttackError``.
    """

    name = "attack"
    targeted = False
    family = ""
    summary = ""
    headline: tuple[str, ...] = ()   # the metrics that say whether it worked (comparison tables)
    per_image = False                # every image's loss, score and context depend on that image alone
    uses_gradient = True             # the steps follow the loss gradient (False: the random baseline)
    shared_ctx: frozenset[str] = frozenset()   # ``prepare`` entries that are the same for every image

    settings = Settings(
        Param("eps", 0.3, "ε (L∞ radius, pixel units)", "every pixel moves by at most ε", lo=0.0, hi=1.0, lo_open=True,
              step=0.05),
        Param("steps", 100, "PGD steps", lo=0, hi=10_000),
        Param("step_size", None, "Step size α (pixel units)", "2.5·ε/steps when not given (Madry et al.)", lo=0.0,
              hi=1.0, lo_open=True, value_type=float, optional=True),
        Param("random_start", False, "Random start", "start from a uniform point in the ε-ball instead of x"),
        Param("snapshot_every", 0, "Replay frame every N steps", "0: no replay frames", lo=0, hi=10_000,
              reported=False),
    )

    def __init__(self, model: nn.Module, **config: Any):
        self.settings.configure(self, config, f"attack '{self.name}'", AttackError)
        if self.step_size is None:
            self.step_size = 2.5 * self.eps / max(self.steps, 1)
            if not 0.0 < self.step_size <= 1.0:
                raise AttackError(f"step_size must be in (0, 1] (pixel units), got {self.step_size}")
        self.model = model
        self.domain = input_domain(model)   # (lo, hi): iterates are clipped to it, ε is in its units
        self._joined: tuple | None = None   # (runs, x, pred, ctx) of the last several runs advanced together

    # --- what a subclass defines -------------------------------------------------------------
    def prepare(self, x: torch.Tensor, pred: torch.Tensor, target: Any) -> dict[str, Any]:
        """Precompute what ``step`` needs (natural explanations, target concepts...)."""
        return {}

    def step(self, x_adv: torch.Tensor, pred: torch.Tensor, ctx: dict[str, Any]) -> StepOut:
        """The attack's loss (minimised), score (lower is better) and, when computed, the real logits at ``x_adv``."""
        raise NotImplementedError

    def metrics(self, x: torch.Tensor, x_adv: torch.Tensor, pred: torch.Tensor, ctx: dict[str, Any],
                explanations: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Per-image metrics [B]; ``explanations`` holds the ``natural`` and ``adversarial`` explanations the
        result carries (computed once, read here rather than recomputed)."""
        return {}

    def explain_images(self, x: torch.Tensor, pred: torch.Tensor, ctx: dict[str, Any]) -> Any:
        """The explanation this attack targets, for images ``x`` whose class to explain is ``pred``."""
        return None

    def natural_explanation(self, x: torch.Tensor, pred: torch.Tensor, ctx: dict[str, Any]) -> Any:
        """``explain_images`` of the natural images ``x``; an attack whose ``prepare`` already computed it
        returns that instead of computing it again."""
        return self.explain_images(x, pred, ctx)

    def config(self) -> dict[str, Any]:
        """The settings this result was computed with (the declared ones that are ``reported``), JSON-ready."""
        return {"attack": self.name, **{p.name: getattr(self, p.name) for p in self.settings if p.reported}}

    def direction(self, grad: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """The step direction from the loss gradient (sign, for L∞ PGD)."""
        return grad.sign()

    def extras(self, ctx: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Extra per-image tensors to hand back (e.g. the target images)."""
        return {}

    def example_target(self, x: torch.Tensor, y: torch.Tensor) -> Any:
        """A valid ``target`` for the batch (targeted attacks): demos, tests, the CLI's default."""
        raise AttackError(f"attack '{self.name}' is untargeted: it takes no target")

    # --- the loop -----------------------------------------------------------------------------
    def __call__(self, x: torch.Tensor, y: torch.Tensor | None = None, *, target: Any = None, seed: int = 0,
                 on_step: Callable[[int, int], None] | None = None) -> AttackResult:
        """Attack a batch ``x`` [B,C,H,W] in the model's input domain (default [0,1], ``input_range``); ``y`` [B]
        true labels (default: predictions). Inputs are checked at the door (``check_batch``).

        ``target``: required by targeted attacks (its form is the attack's: target images,
        a region mask), refused by untargeted ones. ``on_step(done, total)`` after every step.
        """
        with self.eval_mode():
            run = self.begin(x, y, target=target, seed=seed, on_step=on_step)
            while not run.finished:
                self.advance([run])
            return self.end(run)

    # --- the loop one iteration at a time: ``__call__`` is begin, advance until finished, end. The attack
    # service uses the three directly to let a job that arrives while a batch runs join it at its own step 0
    # (``joinable`` attacks only: every image's iterates depend on that image alone).
    @contextlib.contextmanager
    def eval_mode(self) -> Iterator[None]:
        """The model in eval mode for the attack (batch statistics frozen), restored afterwards."""
        was_training = self.model.training
        self.model.eval()
        try:
            yield
        finally:
            self.model.train(was_training)

    @property
    def draws_nothing(self) -> bool:
        """No random start and plain sign steps: a batch's images share no random draws, so any batching of
        them gives the same results (the attack service coalesces such jobs)."""
        return not self.random_start and type(self).direction is Attack.direction

    @property
    def joinable(self) -> bool:
        """Whether images may join a running batch (``advance`` of several runs): the attack declares its
        per-image independence (``per_image``) and draws nothing at random."""
        return self.per_image and self.draws_nothing

    def begin(self, x: torch.Tensor, y: torch.Tensor | None = None, *, target: Any = None, seed: int = 0,
              on_step: Callable[[int, int], None] | None = None) -> PGDRun:
        """A batch at iterate 0 (checked, prepared, on the model's device); call inside ``eval_mode()``."""
        who = f"attack '{self.name}'"
        x, y = check_batch(self.model, x, y, who=who, error=AttackError)
        if target is not None and not self.targeted:
            raise AttackError(f"attack '{self.name}' is untargeted: it takes no target")
        if target is None and self.targeted:
            raise AttackError(f"attack '{self.name}' is targeted: pass target= (see its docstring)")
        dev = x.device
        with torch.no_grad():
            logits0 = forward_checked(self.model, x, y, who=who, error=AttackError)
        pred = logits0.argmax(1)
        y = pred.clone() if y is None else y
        ctx = self.prepare(x, pred, target)
        gen = torch.Generator(device="cpu").manual_seed(seed)
        x_adv = x.clone()
        if self.random_start:
            noise = (torch.rand(x.shape, generator=gen) * 2 - 1).to(dev) * self.eps
            x_adv = project(x + noise, x, self.eps, *self.domain)
        best = _Best(x.clone(), torch.full((len(x),), float("inf"), device=dev),
                     torch.zeros(len(x), dtype=torch.long, device=dev))
        no = torch.zeros(len(x), dtype=torch.bool, device=dev)
        return PGDRun(x=x, y=y, pred=pred, logits0=logits0, ctx=ctx, x_adv=x_adv, best=best, gen=gen, on_step=on_step,
                      moved=no, kept_any=no.clone())

    def advance(self, runs: list[PGDRun]) -> list[PGDRun]:
        """One PGD iteration of every unfinished run in ``runs``, as one batched step (each run at its own
        iteration ``t``): evaluate the iterate, keep the best label-keeping one, step. Returns the runs that
        finished (their last iterate evaluated). Several runs at once need a ``joinable`` attack."""
        live = [r for r in runs if not r.finished]
        if not live:
            return []
        if len(live) > 1 and not self.joinable:
            raise AttackError(f"attack '{self.name}' cannot run several batches as one (not joinable)")
        one = len(live) == 1
        if one:
            x, pred, ctx = live[0].x, live[0].pred, live[0].ctx
        else:  # the runs' fixed inputs joined once per set of runs, not at every step (only x_adv changes)
            if self._joined is None or self._joined[0] != tuple(live):
                self._joined = (tuple(live), torch.cat([r.x for r in live]), torch.cat([r.pred for r in live]),
                                self.merge_ctx([r.ctx for r in live]))
            _, x, pred, ctx = self._joined
        x_adv = live[0].x_adv if one else torch.cat([r.x_adv for r in live])
        x_adv.requires_grad_(True)
        out = self.step(x_adv, pred, ctx)
        with torch.no_grad():
            logits = out.logits if out.logits is not None else self.model(x_adv)
            kept = logits.argmax(1) == pred
            score = out.score.detach()
        stepped = moving = None
        if any(r.t < self.steps for r in live):
            # a loss outside the graph of x (or unused by it) has no gradient: zero, and the status says so
            grad = (torch.autograd.grad(out.loss.sum(), x_adv, allow_unused=True)[0]
                    if out.loss.requires_grad else None)
            grad = torch.zeros_like(x_adv) if grad is None else grad
            with torch.no_grad():
                moving = grad.flatten(1).abs().amax(1) > 0
                stepped = project(x_adv - self.step_size * self.direction(grad, live[0].gen).to(x.device), x, self.eps,
                                  *self.domain)
        x_adv = x_adv.detach()
        finished, lo = [], 0
        for r in live:
            rows = slice(lo, lo + len(r.x))
            lo = rows.stop
            with torch.no_grad():
                # the natural image is always a candidate
                better = (torch.ones_like(kept[rows]) if r.t == 0 and not self.random_start
                          else kept[rows] & (score[rows] < r.best.score))
                r.best.x = torch.where(better.view(-1, 1, 1, 1), x_adv[rows], r.best.x)
                r.best.score = torch.where(better, score[rows], r.best.score)
                r.best.step = torch.where(better, torch.full_like(r.best.step, r.t), r.best.step)
                r.scores.append(score[rows].cpu())
                if moving is not None and r.t < self.steps:
                    r.moved |= moving[rows]
                if r.t > 0 or self.random_start:
                    r.kept_any |= kept[rows]
                if self.snapshot_every and (r.t % self.snapshot_every == 0 or r.t == self.steps):
                    r.frames.append((r.t, x_adv[rows]))
            if r.t == self.steps:
                r.finished = True
                finished.append(r)
                continue
            r.x_adv = stepped if one else stepped[rows]
            r.t += 1
            if r.on_step is not None:
                r.on_step(r.t, self.steps)
        return finished

    def end(self, run: PGDRun) -> AttackResult:
        """The result of a finished run (the best label-keeping iterate per image, metrics, explanations)."""
        if not run.finished:
            raise AttackError("the attack run has not finished")
        best = run.best
        if self.random_start:  # the natural image is the fallback when no iterate kept the label
            best.x = torch.where((best.score == float("inf")).view(-1, 1, 1, 1), run.x, best.x)
        return dataclasses.replace(self._result(run.x, run.y, run.pred, run.logits0, best, run.scores, run.frames,
                                                run.ctx), status=self.statuses(run))

    def statuses(self, run: PGDRun) -> tuple[str, ...]:
        """Each image's ``STATUSES`` entry, from what its run saw (see ``STATUSES``)."""
        improved = (run.best.step > 0) | (torch.isfinite(run.best.score) if self.random_start else False)
        improved = improved.tolist()
        moved, kept = run.moved.tolist(), run.kept_any.tolist()
        if self.steps == 0:
            return ("not-run",) * len(improved)
        return tuple("ok" if imp else "no-gradient" if self.uses_gradient and not mv else
                     "label-lost" if not kp else "no-improvement" for imp, mv, kp in zip(improved, moved, kept))

    def merge_ctx(self, ctxs: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``prepare`` contexts of several batches as one: per-image entries joined along the batch, the
        ``shared_ctx`` entries (the same for every image, e.g. the prototypes' classes) taken once."""
        return {k: ctxs[0][k] if k in self.shared_ctx else batch_cat([c[k] for c in ctxs]) for k in ctxs[0]}

    def _result(self, x, y, pred, logits0, best: _Best, scores, frames, ctx) -> AttackResult:
        with torch.no_grad():
            logits1 = self.model(best.x)
            explanations = {"natural": self.natural_explanation(x, pred, ctx),
                            "adversarial": self.explain_images(best.x, pred, ctx)}
            metrics = self.metrics(x, best.x, pred, ctx, explanations)
            snapshots = [Snapshot(t, f.cpu(), to_cpu(self.explain_images(f, pred, ctx))) for t, f in frames]
        pred_after = logits1.argmax(1)
        return AttackResult(
            x=x.cpu(), x_adv=best.x.cpu(), y=y.cpu(), pred_before=pred.cpu(), pred_after=pred_after.cpu(),
            prob_before=logits0.softmax(1).cpu(), prob_after=logits1.softmax(1).cpu(),
            label_kept=(pred_after == pred).cpu(), improved=(best.step > 0).cpu(),
            linf=(best.x - x).abs().flatten(1).max(1).values.cpu(), objective=torch.stack(scores),
            best_step=best.step.cpu(), metrics={k: v.detach().cpu() for k, v in metrics.items()},
            config=self.config(), snapshots=snapshots, extras=self.extras(ctx),
            explanations={k: to_cpu(v) for k, v in {**explanations, **self.target_explanation(ctx)}.items()
                          if v is not None},
        )

    def target_explanation(self, ctx: dict[str, Any]) -> dict[str, Any]:
        """``{"target": explanation}`` for attacks that imitate target images (else empty)."""
        return {}


class RandomSignStep:
    """Mixin for the papers' random baseline (paper 003): one step x + ε·sign(N(0,1)) whatever ``steps`` says,
    kept if the label holds, else x. Put it before the attack class: ``class B(RandomSignStep, SomeAttack)``."""

    steps_fixed = True
    uses_gradient = False

    def __init__(self, model: nn.Module, **kw):
        kw.update(steps=1, step_size=kw.get("eps", type(self).settings["eps"].default))
        super().__init__(model, **kw)

    def direction(self, grad: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """A random sign per pixel (the baseline ignores the gradient)."""
        return torch.randn(grad.shape, generator=gen).sign()
