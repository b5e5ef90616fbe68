"""Posteriors of several views of one isolated character, fused into one.

A recogniser trained on running text is unsure of a character seen alone, and how it errs depends on
where the character sits in its input: read once more with a margin all round
(``InputSpec.char_views``, :func:`hwocr.preprocess.char_views`), it errs differently. Where the crop
and every view read exactly one character (best path), the character's class distribution becomes the
mean of their peak frames' distributions (blank left out); each frame keeps its own blank probability,
so where the character is stays the crop's (a frame that only just read the character may read blank
once its distribution is flatter; a line left with nothing reads its most probable character,
:func:`hwocr.decode.guess`). Any other reading (no character, two, or a view that disagrees on how
many) leaves the crop's posteriors as they are: views decide *which* character, not how many.

The reader keeps a character's views beside its posteriors (``LinePosteriors.views``) and fuses them
when it needs them (``Reader.window_probs``): the language decision on both languages' classes,
decoding after the line's language has restricted the crop and each view, so that ``lang="auto"``
reads a character exactly as the reader forced to its language does. Decoding and the second model's
vote then work on the fused posteriors as on any others.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .decode import greedy


def peak_distribution(p: np.ndarray) -> np.ndarray | None:
    """The class distribution (blank left out, summing to 1) at the peak frame of the one character
    ``p`` (T x C, class 0 = blank) reads by its best path; None unless it reads exactly one."""
    ems = greedy(p)
    if len(ems) != 1:
        return None
    row = p[ems[0].peak].astype(np.float64)
    row[0] = 0.0
    s = row.sum()
    return row / s if s > 0 else None


def fuse(p: np.ndarray, views: Sequence[np.ndarray]) -> np.ndarray:
    """``p`` with its character's class distribution replaced by the mean over ``p`` and ``views``
    (each T' x C, same classes) of their peak distributions, when every one reads exactly one
    character; else ``p`` itself."""
    if not views:
        return p
    dists = [peak_distribution(q) for q in (p, *views)]
    if any(d is None for d in dists):
        return p
    mean = np.mean(dists, axis=0)
    out = np.empty_like(p)
    out[:, 0] = p[:, 0]
    out[:, 1:] = ((1.0 - p[:, :1].astype(np.float64)) * mean[None, 1:]).astype(p.dtype)
    return out
