"""Samples -> model input tensors, with hwocr's own preprocessing (so training sees what inference sees)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from ..preprocess import make_windows
from ..registry import InputSpec
from .data import Sample


def window(rgb: np.ndarray, spec: InputSpec) -> np.ndarray | None:
    """The one model window of a line (C x H x W), or None when it needs more than one."""
    wins = make_windows(rgb, spec)
    return wins[0].tensor if len(wins) == 1 else None


def collate(tensors: Sequence[np.ndarray]) -> torch.Tensor:
    """Windows of different widths -> N x C x H x W, right-padded with zeros (the model's padding)."""
    w = max(t.shape[2] for t in tensors)
    out = np.zeros((len(tensors), *tensors[0].shape[:2], w), dtype=np.float32)
    for i, t in enumerate(tensors):
        out[i, :, :, : t.shape[2]] = t
    return torch.from_numpy(out)


def training_batch(samples: Sequence[Sample], spec: InputSpec, rng: np.random.Generator,
                   augment: Callable | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augmented inputs, concatenated CTC targets and their lengths."""
    tensors = []
    for s in samples:
        t = window(augment(s.rgb, rng), spec) if augment is not None else None
        tensors.append(t if t is not None else window(s.rgb, spec))
    targets = torch.tensor([c for s in samples for c in s.targets], dtype=torch.long)
    lengths = torch.tensor([len(s.targets) for s in samples], dtype=torch.long)
    return collate(tensors), targets, lengths


def eval_groups(samples: Sequence[Sample], spec: InputSpec, max_batch: int = 16) -> list[tuple[list[int], torch.Tensor]]:
    """Samples grouped by their padded width (so each is read exactly as at inference), as
    (indices, batch) pairs; computed once per evaluation set."""
    by_width: dict[int, list[tuple[int, np.ndarray]]] = {}
    for i, s in enumerate(samples):
        t = window(s.rgb, spec)
        by_width.setdefault(t.shape[2], []).append((i, t))
    out = []
    for items in by_width.values():
        for k in range(0, len(items), max_batch):
            part = items[k : k + max_batch]
            out.append(([i for i, _ in part], collate([t for _, t in part])))
    return out
