"""CTC decoding of per-frame probabilities (T x C, class 0 = blank) into characters.

Decoders return *emissions*: which class was emitted over which frames. Confidences,
alternatives and pixel spans are derived from the emissions and the probabilities in one
place (:func:`describe`), whatever decoder produced them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: how many candidates the reference demo walks for its designated-characters filter
ALLOW_TOP_K = 20


@dataclass(frozen=True)
class Emission:
    cls: int
    t0: int  # first frame of the character's run
    t1: int  # last frame of the run
    peak: int  # frame where the class is most probable


def class_mask(charset: Sequence[str], keep) -> np.ndarray:
    """Bool mask over classes: blank, the space class and characters accepted by ``keep``."""
    m = np.fromiter((i == 0 or c.isspace() or keep(c) for i, c in enumerate(charset)), dtype=bool, count=len(charset))
    return m


def restrict(probs: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Zero the classes outside ``mask`` and renormalise each frame."""
    if mask is None:
        return probs
    p = probs * mask
    s = p.sum(axis=-1, keepdims=True)
    return p / np.maximum(s, 1e-12)


def greedy(probs: np.ndarray) -> list[Emission]:
    """Best class per frame, repeats collapsed, blanks dropped."""
    best = probs.argmax(axis=1)
    out: list[Emission] = []
    t = 0
    n = len(best)
    while t < n:
        c = int(best[t])
        t0 = t
        while t + 1 < n and best[t + 1] == c:
            t += 1
        if c != 0:
            seg = probs[t0 : t + 1, c]
            out.append(Emission(c, t0, t, t0 + int(seg.argmax())))
        t += 1
    return out


#: a line that decodes to nothing still reads its most probable character when that is at least this
#: probable somewhere: a guess costs no more than the deletion when there is a character, and blank or
#: noise images stay empty (their best non-blank class is below 0.03)
GUESS_FLOOR = 0.05


def guess(probs: np.ndarray, allowed: np.ndarray | None = None, floor: float = GUESS_FLOOR) -> Emission | None:
    """The most probable non-blank (allowed) class over all frames as one emission, or None when it is
    below ``floor``: what a line reads when every frame's best class is the blank."""
    q = probs[:, 1:] if allowed is None else probs[:, 1:] * allowed[1:]
    if q.size == 0:
        return None
    t, c = np.unravel_index(int(q.argmax()), q.shape)
    if q[t, c] < floor:
        return None
    return Emission(int(c) + 1, int(t), int(t), int(t))


def designate(emissions: list[Emission], probs: np.ndarray, allowed: np.ndarray, top_k: int = ALLOW_TOP_K) -> list[Emission]:
    """The reference demo's designated-characters filter: an emitted character outside ``allowed``
    is replaced by the most probable allowed class among that frame's top-k; kept if none."""
    out = []
    for e in emissions:
        if allowed[e.cls]:
            out.append(e)
            continue
        order = np.argsort(-probs[e.peak])[:top_k]
        repl = next((int(c) for c in order if c != 0 and allowed[c]), None)
        out.append(e if repl is None else Emission(repl, e.t0, e.t1, e.peak))
    return out


def fix_peaks(emissions: list[tuple[int, int, int]], probs: np.ndarray) -> list[Emission]:
    """Emissions from (class, first frame, last frame) triples, as beam search returns them."""
    out = []
    for c, t0, t1 in emissions:
        t1 = max(t0, t1)
        out.append(Emission(int(c), int(t0), int(t1), int(t0 + probs[t0 : t1 + 1, c].argmax())))
    return out


@dataclass(frozen=True)
class CharInfo:
    cls: int
    confidence: float
    f0: float  # span in frames (fractional), boundaries halfway between neighbouring characters
    f1: float
    alternatives: tuple[tuple[int, float], ...]


def describe(emissions: list[Emission], probs: np.ndarray, top_k: int = 0, frame_rows: int = 1) -> list[CharInfo]:
    """Confidence (probability of the emitted class at its peak frame), a span in columns and the
    top-k classes at the peak frame for each emission.

    ``frame_rows`` > 1: the time axis is a flattened grid of that many rows; a frame's column is
    ``t % (T // frame_rows)`` and spans are in those columns."""
    if not emissions:
        return []
    T = probs.shape[0]
    if frame_rows > 1 and T % frame_rows == 0:
        cols = T // frame_rows
        emissions = [Emission(e.cls, e.peak % cols, e.peak % cols, e.peak) for e in emissions]
        T = cols
    bounds = [0.0]
    for a, b in zip(emissions, emissions[1:]):
        bounds.append(max(bounds[-1], (a.t1 + 1 + b.t0) / 2))
    pitch = np.median(np.diff(bounds[1:])) if len(bounds) > 2 else None
    first = emissions[0]
    last = emissions[-1]
    half = (pitch / 2) if pitch is not None else 2.0
    bounds[0] = max(0.0, min(first.t0, (first.t0 + first.t1 + 1) / 2 - half, bounds[1] if len(bounds) > 1 else T))
    bounds.append(max(bounds[-1], min(float(T), max(last.t1 + 1, (last.t0 + last.t1 + 1) / 2 + half))))
    out = []
    for i, e in enumerate(emissions):
        row = probs[e.peak]
        alts: tuple[tuple[int, float], ...] = ()
        if top_k > 0:
            k = min(top_k + 1, row.shape[0] - 1)
            idx = np.argpartition(-row, k)[: k + 1]
            idx = idx[np.argsort(-row[idx])]
            alts = tuple((int(c), float(row[c])) for c in idx if c != 0)[:top_k]
        out.append(CharInfo(e.cls, float(row[e.cls]), bounds[i], bounds[i + 1], alts))
    return out
