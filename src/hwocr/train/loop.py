"""The fine-tuning loop: held-out split, replay, CTC training of the chosen layers, distillation
towards the base model on the replayed lines, early stopping on held-out 1-CER, and the refusal of a
model that reads worse than its base."""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import HwocrError
from ..metrics import score
from ..registry import InputSpec
from .augment import Augment
from .batches import eval_groups, training_batch
from .data import Sample
from .graph import OnnxModule

#: which weights are trained: everything from the named part of the graph on
SCOPES = ("head", "neck", "all")


class WorseModelError(HwocrError):
    """The fine-tuned model reads the held-out or the general set worse than the base model."""


@dataclass(frozen=True)
class TrainConfig:
    scope: str = "neck"  # see SCOPES; chosen by benchmarks/bench_finetune.py
    minutes: float = 10.0  # wall-clock budget of the training steps
    max_steps: int = 400
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 1e-4
    replay: float = 0.5  # share of each batch drawn from the synthetic replay lines
    eval_every: int = 20  # steps between held-out evaluations
    patience: int = 5  # evaluations without a gain before stopping
    general_tolerance: float = 0.005  # the general set may lose at most this much 1-CER
    anchor: float = 1.0  # L2-SP: weight of sum ||w - w_base||^2 in the loss (keeps the model near its base)
    # weight of the KL divergence from the base model's posteriors on the replayed lines (knowledge
    # distillation against forgetting; 50 with replay 0.5 chosen by benchmarks/bench_finetune.py style:
    # at 1 or 10 the general check set still lost 0.7-1 point within 20 steps)
    distill: float = 50.0
    seed: int = 0
    augment: bool = True


@dataclass(frozen=True)
class Scores:
    heldout: float
    general: float


@dataclass
class TrainReport:
    config: dict
    base: Scores
    best: Scores
    best_step: int
    steps: int
    seconds: float
    stopped: str  # "patience", "time", "steps"
    trainable_params: int
    device: str
    history: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def scope_start(model: OnnxModule, scope: str) -> int:
    """The first node of the trained part: the neck starts at the backbone's last pooling, the head
    at the classifier (the last MatMul)."""
    if scope not in SCOPES:
        raise HwocrError(f"unknown training scope {scope!r} (one of {', '.join(SCOPES)})")
    ops = [op for op, *_ in model.nodes]
    return {"all": 0,
            "neck": max(i for i, op in enumerate(ops) if op in ("AveragePool", "MaxPool")),
            "head": max(i for i, op in enumerate(ops) if op == "MatMul")}[scope]


def scope_parameters(model: OnnxModule, start: int) -> list[torch.nn.Parameter]:
    """Freeze every weight before node ``start``, return the rest."""
    out = []
    for name, p in model.named_parameters():
        p.requires_grad_(model.depth.get(name, 0) >= start)
        if p.requires_grad:
            out.append(p)
    return out


def seen_classes_only(model: OnnxModule, params: list[torch.nn.Parameter], seen: set[int]) -> list[torch.nn.Parameter]:
    """Let training change the classifier only for the blank and the classes in ``seen``: the
    gradients of the others are zeroed (so Adam, which moves every weight with a gradient by about
    the learning rate, leaves them as they were: otherwise each step pushes down every character the
    samples do not contain, and they are most of the 18 000). Returns the classifier's trained
    parameters (weight and bias of the last MatMul / Add)."""
    head = max(i for i, (op, *_) in enumerate(model.nodes) if op == "MatMul")
    names = [n for n in model.nodes[head][1] + model.nodes[head + 1][1] if n in model.keys]
    out = []
    for name in names:
        p = getattr(model, model.keys[name])
        if not any(p is q for q in params):
            continue
        keep = torch.zeros(p.shape[-1], dtype=p.dtype, device=p.device)
        keep[sorted(seen | {0})] = 1.0
        p.register_hook(lambda g, keep=keep: g * keep)
        out.append(p)
    return out


class Frozen:
    """The frozen part of the graph (the nodes before ``start``): on the CPU it runs on OpenVINO,
    several times faster than torch's eager CPU kernels; elsewhere (a GPU) in torch."""

    def __init__(self, model: OnnxModule, start: int, device: torch.device) -> None:
        self.model, self.start, self.device = model, start, device
        self.session = None
        if start and device.type == "cpu":
            import onnx

            from ..engines.runtime import OVSession

            with tempfile.TemporaryDirectory() as d:
                path = Path(d) / "frozen.onnx"
                onnx.save(model.prefix_onnx(start), str(path))
                self.session = OVSession(path, "CPU")

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.start:
            return x.to(self.device)
        if self.session is not None:
            return torch.from_numpy(self.session(x.numpy()))
        return self.model(x.to(self.device), stop=self.start)


class Scorer:
    """Greedy CTC reading of a fixed set, restricted to the allowed classes: 1 - corpus CER. The
    frozen part's output is computed once."""

    def __init__(self, samples: Sequence[Sample], spec: InputSpec, charset: tuple[str, ...],
                 mask: np.ndarray | None, frozen: Frozen) -> None:
        self.refs = [s.text for s in samples]
        self.groups = [(idx, frozen(x)) for idx, x in eval_groups(samples, spec)]
        self.charset = charset
        self.mask = torch.from_numpy(mask).to(frozen.device) if mask is not None else None
        self.start = frozen.start

    @torch.no_grad()
    def __call__(self, model: OnnxModule) -> float:
        if not self.refs:
            return 1.0
        preds = [""] * len(self.refs)
        for idx, x in self.groups:
            logp = model(x, log_probs=True, start=self.start)
            if self.mask is not None:
                logp = logp.masked_fill(~self.mask, float("-inf"))
            best = logp.argmax(-1).cpu().numpy()
            for i, row in zip(idx, best):
                preds[i] = _greedy(row, self.charset)
        return score(preds, self.refs).accuracy


def _greedy(row: np.ndarray, charset: tuple[str, ...]) -> str:
    keep = np.flatnonzero((row != 0) & np.concatenate([[True], row[1:] != row[:-1]]))
    return "".join(charset[row[k]] for k in keep)


def check_not_worse(base: Scores, new: Scores, tolerance: float, history: Sequence[dict] = ()) -> None:
    """Raise WorseModelError unless ``new`` reads the held-out split better than ``base`` and the
    general synthetic set at most ``tolerance`` worse. ``history``: the evaluations of the run, to
    say why nothing better was kept."""
    if new.general < base.general - tolerance:
        raise WorseModelError(
            f"not saved: the fine-tuned model reads the general synthetic set worse than the base "
            f"(1-CER {new.general:.4f} vs {base.general:.4f}); try fewer --minutes or more varied samples")
    if new.heldout <= base.heldout:
        better = [h for h in history if h["heldout"] > base.heldout]
        if better:
            top = max(better, key=lambda h: h["heldout"])
            raise WorseModelError(
                f"not saved: every step that read your held-out samples better than the base read the general "
                f"synthetic set more than {100 * tolerance:g} points worse (best held-out 1-CER {top['heldout']:.4f} "
                f"vs {base.heldout:.4f}, at general {top['general']:.4f} vs {base.general:.4f}): it would forget "
                f"other writing; try fewer --steps, a lower --lr or more varied samples")
        raise WorseModelError(
            f"not saved: the fine-tuned model reads your held-out samples no better than the base "
            f"(1-CER {new.heldout:.4f} vs {base.heldout:.4f}); add more samples or train longer")


def split_heldout(samples: Sequence[Sample], fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """(train, held-out): a seeded random ``fraction`` (at least one sample) is held out."""
    if len(samples) < 2:
        raise HwocrError(f"fine-tuning needs at least 2 labelled images (one is held out to check the "
                         f"result), got {len(samples)}")
    order = np.random.default_rng(seed).permutation(len(samples))
    k = min(len(samples) - 1, max(1, round(fraction * len(samples))))
    hold = set(order[:k].tolist())
    return ([s for i, s in enumerate(samples) if i not in hold], [s for i, s in enumerate(samples) if i in hold])


def train(model: OnnxModule, frozen: Frozen, train_set: Sequence[Sample], heldout: Scorer, general: Scorer,
          replay: Sequence[Sample], spec: InputSpec, cfg: TrainConfig,
          progress: Callable[[int, int, float, float], None] | None = None) -> TrainReport:
    """Fine-tune ``model`` in place; at the end it holds the best weights found (by held-out 1-CER
    among those that keep the general set within the tolerance), possibly the base weights."""
    t0 = time.monotonic()
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    model.eval()  # BatchNorm keeps its statistics; the graph has no dropout
    device = frozen.device
    teacher = _teacher(model) if cfg.distill and n_replay_of(cfg, replay) else None
    params = scope_parameters(model, frozen.start)
    classifier = seen_classes_only(model, params, {c for s in (*train_set, *replay) for c in s.targets})
    others = [p for p in params if all(p is not q for q in classifier)]
    opt = torch.optim.AdamW([{"params": others}, {"params": classifier, "weight_decay": 0.0}],
                            lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10))
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    aug = Augment() if cfg.augment else None
    base = Scores(heldout(model), general(model))
    best, best_step, best_state = base, 0, _state(params)
    base_state = best_state
    history = [{"step": 0, "heldout": base.heldout, "general": base.general, "loss": None}]
    n_replay = n_replay_of(cfg, replay)
    n_user = max(1, cfg.batch_size - n_replay)
    stale, stopped, losses = 0, "steps", []
    budget = cfg.minutes * 60
    step = 0
    for step in range(1, cfg.max_steps + 1):
        batch = [train_set[i] for i in rng.integers(len(train_set), size=n_user)]
        batch += [replay[i] for i in rng.integers(len(replay), size=n_replay)] if n_replay else []
        x, targets, lengths = training_batch(batch, spec, rng, aug)
        feats = frozen(x)
        logp = model(feats, log_probs=True, start=frozen.start).permute(1, 0, 2)  # T x N x C
        frames = torch.full((len(batch),), logp.shape[0], dtype=torch.long)
        loss = ctc(logp, targets.to(device), frames, lengths.to(device))
        if teacher is not None:
            loss = loss + cfg.distill * _distill(logp[:, n_user:], teacher, feats[n_user:], frozen.start)
        if cfg.anchor:
            loss = loss + cfg.anchor * sum(((p - p0) ** 2).sum() for p, p0 in zip(params, base_state))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        out_of_time = time.monotonic() - t0 > budget
        if step % cfg.eval_every == 0 or out_of_time or step == cfg.max_steps:
            now = Scores(heldout(model), general(model))
            history.append({"step": step, "heldout": now.heldout, "general": now.general,
                            "loss": float(np.mean(losses[-cfg.eval_every:]))})
            if now.heldout > best.heldout and now.general >= base.general - cfg.general_tolerance:
                best, best_step, best_state, stale = now, step, _state(params), 0
            else:
                stale += 1
            if progress:
                progress(step, cfg.max_steps, now.heldout, best.heldout)
            if stale >= cfg.patience:
                stopped = "patience"
                break
        if out_of_time:
            stopped = "time"
            break
    _load(params, best_state)
    return TrainReport(config=asdict(cfg), base=base, best=best, best_step=best_step, steps=step,
                       seconds=round(time.monotonic() - t0, 1), stopped=stopped,
                       trainable_params=sum(p.numel() for p in params), device=str(device), history=history)


def n_replay_of(cfg: TrainConfig, replay: Sequence[Sample]) -> int:
    """Replayed lines per batch (the last ones of each batch)."""
    return round(cfg.batch_size * cfg.replay) if replay else 0


def _teacher(model: OnnxModule) -> OnnxModule:
    """A frozen copy of the base model (the graph and its weights; the ONNX proto is shared)."""
    proto, model.proto = model.proto, None
    try:
        t = copy.deepcopy(model)
    finally:
        model.proto = proto
    t.proto = proto
    for p in t.parameters():
        p.requires_grad_(False)
    return t.eval()


def _distill(logp: torch.Tensor, teacher: OnnxModule, feats: torch.Tensor, start: int) -> torch.Tensor:
    """KL(base || model) of the per-frame class posteriors (``logp``: T x N x C, log-softmax), summed
    over classes, averaged over frames and lines: the replayed lines must keep reading as the base
    reads them, in every class (CTC on their labels alone moves only the labelled path)."""
    with torch.no_grad():
        t = teacher(feats, log_probs=True, start=start).permute(1, 0, 2)
    return (t.exp() * (t - logp)).sum(-1).mean()


def _state(params: list[torch.nn.Parameter]) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


def _load(params: list[torch.nn.Parameter], state: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for p, s in zip(params, state):
            p.copy_(s)


def pick_device(name: str | None = None) -> torch.device:
    """``name`` (a torch device that exists here) or cuda when available, else cpu; a one-line
    HwocrError for a device that is not there."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not name.strip():  # an unset shell variable: say so, rather than choose a device silently
        raise HwocrError("--device '': an empty device name (cpu, cuda, cuda:N; leave it out to choose)")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise HwocrError(f"--device {name[:40]!r}: not a torch device (cpu, cuda, cuda:N)") from None
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        raise HwocrError(f"--device {name[:40]!r}: no such CUDA device here")
    if dev.type not in ("cpu", "cuda"):
        raise HwocrError(f"--device {name[:40]!r}: only cpu and cuda are supported")
    return dev


__all__ = ["SCOPES", "Scorer", "Scores", "TrainConfig", "TrainReport", "WorseModelError", "check_not_worse",
           "Frozen", "pick_device", "scope_parameters", "scope_start", "split_heldout", "train"]
