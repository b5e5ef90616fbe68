"""Traditional kanji against their Japanese forms: a prior for the beam decoder reading Japanese.

The recogniser was trained on simplified and traditional Chinese as well as Japanese, and reads many a
handwritten Japanese (shinjitai) kanji as its traditional (kyujitai) form: 譲 as 讓, 壌 as 壤, 倹 as
儉. JIS X 0208 holds both forms, so the language restriction keeps both. Japanese text writes one of
them far more often than the other (讓 about once for every 500 譲), though not always the listed
Japanese form (凛 more often than 凜), and the Japanese LM's unigram says which and how much: a
traditional form ``t`` of a Japanese form ``j`` costs ``weight * min(cap, max(0, ln p(j) - ln p(t)))``
wherever it is emitted (:func:`pair_costs`). The
cost is the same as any prior: the character still wins where the recogniser is sure enough of it (a
name written 澤 reads 澤), and greedy decoding, which has no LM, does not use it.

The pairs (``data/ja-variants.txt``, Apache-2.0, from OpenCC) are built by ``scripts/build_variants.py``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Sequence

import numpy as np

#: the most a traditional form costs (natural log), however rare Japanese text finds it
CAP = 8.0


@lru_cache(maxsize=1)
def pairs() -> tuple[tuple[str, str], ...]:
    """(traditional, Japanese) kanji pairs, both in JIS X 0208."""
    text = resources.files("hwocr").joinpath("data", "ja-variants.txt").read_text(encoding="utf-8")
    out = []
    for ln in text.splitlines():
        if ln and not ln.startswith("#"):
            t, j = ln.split("\t")
            out.append((t, j))
    return tuple(out)


def cost_map(lm, weight: float, cap: float = CAP) -> dict[str, float]:
    """Traditional form -> its cost (only those that cost anything)."""
    if not weight:
        return {}
    ps = pairs()
    logp = lm.score_pairs([""] * (2 * len(ps)), [c for t, j in ps for c in (t, j)])
    out = {}
    for k, (t, _) in enumerate(ps):
        c = weight * min(cap, max(0.0, logp[2 * k + 1] - logp[2 * k]))
        if c > 0:
            out[t] = c
    return out


def pair_costs(charset: Sequence[str], lm, weight: float, cap: float = CAP) -> np.ndarray | None:
    """Per class of ``charset``: the (non-negative) cost of emitting it, for the traditional forms whose
    Japanese form ``charset`` also holds; 0 elsewhere. None when ``weight`` is 0 or no pair is in it."""
    index = {c: i for i, c in enumerate(charset)}
    jp = dict(pairs())
    found = [(index[t], c) for t, c in cost_map(lm, weight, cap).items() if t in index and jp[t] in index]
    if not found:
        return None
    cost = np.zeros(len(charset), np.float64)
    for i, c in found:
        cost[i] = c
    return cost
