"""CTC prefix beam search with an optional character n-gram language model (numpy + stdlib only).

Hypothesis score: ``ln P_ctc(prefix) + sum of LM terms + insertion_bonus * len(prefix)``. A character's
LM term is ``lm_weight * ln P_lm(c | context)``, with two safeguards (:class:`BeamParams`):

* ``relative``: measured from the best of the frame's candidates in the same context, so the LM only
  ranks what the recogniser proposes and never makes "no character" look better than the character it
  likes best (text without context, such as random-order characters, is not thinned out);
* a cap gated by the recogniser's own confidence: a term costs at most ``lm_cap * min(1, (1 - p) / p)``,
  ``p`` the character's peak probability near the frame it starts, so a confident character is never
  deleted or replaced by the LM alone.

The first character, which has no context, is scored by its own weight (``first_weight``, negative for a
prior correction; see :data:`FIRST_WEIGHT`). With ``prior_weight`` every later character's term also
carries ``prior_weight * prior(c)`` (the same clipped unigram prior), so that in context the LM ranks
while part of the recogniser's own bias towards frequent characters is divided out (relative terms
only: the sum is measured from the best candidate and capped like the LM term).

CTC probabilities are kept in the linear domain with a per-frame rescaling (only ratios between
hypotheses matter), frames whose blank probability exceeds ``1 - prune_min`` (at most 0.999) are
advanced without any extension, and per frame only the ``prune_top`` most likely non-blank classes
with probability >= ``prune_min`` are considered for extension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .lm import CharLM



@dataclass(frozen=True)
class BeamParams:
    """One language's decoder constants (natural-log units), chosen by ``benchmarks/tune.py``."""

    lm_weight: float
    insertion_bonus: float
    first_weight: float
    lm_cap: float = math.inf
    relative: bool = True
    beam_width: int = 4
    prune_top: int = 4
    #: (relative terms only) weight of every later character's unigram prior, like ``first_weight``
    prior_weight: float = 0.0
    #: (Japanese) weight of a traditional kanji's cost against its Japanese form (:mod:`hwocr.variants`;
    #: the reader turns it into ``beam_decode``'s ``costs``)
    variant_weight: float = 0.0

    def kwargs(self) -> dict:
        return dict(lm_weight=self.lm_weight, insertion_bonus=self.insertion_bonus, first_weight=self.first_weight,
                    lm_cap=self.lm_cap, relative=self.relative, beam_width=self.beam_width, prune_top=self.prune_top,
                    prior_weight=self.prior_weight)


PARAMS: dict[str, BeamParams] = {
    # benchmarks/tune.py --stage dec: the best worst-case gain over greedy on every validation and dev set,
    # both at bf16 (the default on CPUs with native bf16) and at f32
    # (this release: four draws of every set, and the random-order and character sets also cut to their ink;
    # zh keeps its insertion bonus 0.2 over tune.py's 0.5, which read the composed pages 0.7 points worse: README;
    # its first-character weight re-chosen, -0.4 for -0.2, once isolated characters were read in two views)
    "zh": BeamParams(lm_weight=0.3, insertion_bonus=0.2, first_weight=-0.4, lm_cap=8.0, relative=True, prior_weight=-0.6),
    "ja": BeamParams(lm_weight=0.2, insertion_bonus=0.2, first_weight=0.0, lm_cap=8.0, relative=True, prior_weight=-0.2,
                     variant_weight=0.5),
}
# (lm_weight, insertion_bonus) per language, in natural-log units.
DEFAULTS: dict[str, tuple[float, float]] = {k: (v.lm_weight, v.insertion_bonus) for k, v in PARAMS.items()}
#: Weight of the LM's unigram prior for the first character of a line, which has no context.
#: The recogniser was trained on running text, so its posteriors already favour frequent characters;
#: with no context to back that preference, isolated hanzi read better when part of it is divided
#: out again (a negative weight: "prior correction"), on real HWDB characters and on synthetic ones
#: drawn uniformly from GB2312 alike. Japanese uses none: a positive weight helps isolated kana
#: against Latin and katakana lookalikes but costs isolated kanji, a negative one the reverse
#: (``benchmarks/first_char_prior.py``).
FIRST_WEIGHT: dict[str, float] = {k: v.first_weight for k, v in PARAMS.items()}
#: unigram log-probabilities are clipped here (about one in a million characters) for the first-char
#: prior, so characters the LM never saw are not singled out
PRIOR_FLOOR = math.log(1e-6)
#: beam width and classes kept per frame: 4/4 reads as well as 8/8 on the dev lines at a quarter of the time
BEAM_WIDTH = 4
PRUNE_TOP = 4
DEFAULT_LM_WEIGHT, DEFAULT_INSERTION_BONUS = DEFAULTS["zh"]

_BLANK_SKIP = 0.999
#: a hypothesis this far (natural log) below the frame's best is dropped: e^-14 is about 1e-6, more
#: than any later LM term or bonus can make up (they are capped, or bounded by the insertion bonus)
PRUNE_DELTA = 14.0
#: frames from a character's first candidate frame in which its peak (for the confidence gate) is looked for
_PEAK_AHEAD = 3


def greedy_decode(probs: np.ndarray, allowed: np.ndarray | None = None) -> list[tuple[int, int, int]]:
    """Best-path CTC decoding: (class, first_frame, last_frame) per emitted character."""
    p = np.asarray(probs)
    if p.ndim != 2 or p.shape[0] == 0:
        return []
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool).copy()
        allowed[0] = True
        if not allowed.all():
            p = np.where(allowed[None, :], p, -1.0)
    best = p.argmax(axis=1)
    out: list[tuple[int, int, int]] = []
    prev = 0
    for t, c in enumerate(best.tolist()):
        if c != 0:
            if c == prev:
                k, f, _ = out[-1]
                out[-1] = (k, f, t)
            else:
                out.append((c, t, t))
        prev = c
    return out


def _candidates(probs: np.ndarray, frames: np.ndarray, prune_top: int, prune_min: float,
                allowed: np.ndarray | None) -> list[list[tuple[int, float]]]:
    """Per selected frame: [(class, prob)] of the best non-blank allowed classes, best first."""
    sub = probs[frames]
    C = sub.shape[1]
    flat = np.flatnonzero(sub.ravel() >= prune_min)
    rows, cols = np.divmod(flat, C)
    keep = cols != 0
    if allowed is not None:
        keep &= allowed[cols]
    rows, cols = rows[keep], cols[keep]
    vals = sub[rows, cols]
    out: list[list[tuple[int, float]]] = [[] for _ in range(len(frames))]
    for r, c, v in zip(rows.tolist(), cols.tolist(), vals.tolist()):
        out[r].append((c, v))
    for i, lst in enumerate(out):
        if len(lst) > 1:
            lst.sort(key=lambda x: -x[1])
            if len(lst) > prune_top:
                del lst[prune_top:]
    return out


def beam_decode(probs: np.ndarray, charset: Sequence[str], lm: CharLM | None = None, *,
                beam_width: int = 8, prune_top: int = 8, prune_min: float = 1e-3,
                lm_weight: float = DEFAULT_LM_WEIGHT, insertion_bonus: float = DEFAULT_INSERTION_BONUS,
                allowed: np.ndarray | None = None, first_weight: float | None = None,
                lazy_lm: bool = True, lm_cap: float = math.inf, relative: bool = False,
                prior_weight: float = 0.0, costs: np.ndarray | None = None) -> list[tuple[int, int, int]]:
    """CTC prefix beam search; returns (class_index, first_frame, last_frame) per emitted char.

    ``probs`` is (T, C) per-frame probabilities with class 0 the blank; ``charset[i]`` is the text
    of class i. ``allowed`` (bool, length C) masks classes that may be emitted (blank always is).
    With ``lm=None`` and ``beam_width=1`` this is exactly greedy (best-path) decoding.
    ``lazy_lm`` looks LM terms up only for the hypotheses that could be kept (the same result,
    about half the lookups); ``False`` looks every new hypothesis up at once. ``lm_cap`` and
    ``relative``: see the module docstring (``relative`` looks every candidate up at once). ``costs``
    (length C, >= 0): what emitting each class costs on top of its LM terms (a prior, e.g.
    :func:`hwocr.variants.pair_costs`).
    """
    probs = np.asarray(probs)
    if probs.ndim != 2:
        raise ValueError(f"probs must be 2-D (T, C), got shape {probs.shape}")
    T, C = probs.shape
    if T == 0:
        return []
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.shape != (C,):
            raise ValueError(f"allowed must have shape ({C},), got {allowed.shape}")
        allowed = allowed.copy()
        allowed[0] = True
        if allowed.all():
            allowed = None
    if lm is None and beam_width <= 1:
        return greedy_decode(probs, allowed)
    beam_width = max(1, int(beam_width))
    if lm is None:
        lm_weight = insertion_bonus = 0.0
    if first_weight is None:
        first_weight = lm_weight

    cost = costs.tolist() if costs is not None and costs.any() else None
    blank = probs[:, 0]
    skip_thr = max(_BLANK_SKIP, 1.0 - prune_min)
    active = np.flatnonzero(blank <= skip_thr)
    cands = _candidates(probs, active, max(1, prune_top), prune_min, allowed)
    blank_l = blank.tolist()

    # prefix tree: node 0 is the empty prefix
    parent = [-1]
    cls = [0]
    first = [-1]
    last = [-1]
    weight = [0.0]  # accumulated ln of LM/bonus factor of the prefix
    cap = [0.0]  # the most the node's LM term may cost (confidence-gated lm_cap)
    ctx = [""]
    children: dict[tuple[int, int], int] = {}
    lm_cache = _lm_cache(lm) if lm is not None else None

    pending: set[int] = set()  # children whose LM term is not yet in ``weight``
    lazy = lazy_lm and lm_weight >= 0 and not relative  # otherwise 0 is no upper bound of the LM term
    log = math.log

    def lm_term(k: int, sc: float, ref: float = 0.0) -> float:
        return max(lm_weight * (sc - ref), -cap[k]) if parent[k] else _first_prior(sc, first_weight)

    def rel_term(k: int, raw: float, ref: float, sc: float) -> float:
        return max(raw - ref, -cap[k]) if parent[k] else _first_prior(sc, first_weight)

    def score_lm(nodes: list[int]) -> None:
        scores = _lm_scores(lm, lm_cache, [ctx[parent[k]] for k in nodes], [charset[cls[k]] for k in nodes])
        for k, sc in zip(nodes, scores):
            weight[k] += lm_term(k, sc)
            pending.discard(k)

    # beams: node -> (pb, pnb), linear domain, rescaled every frame
    beams: dict[int, tuple[float, float]] = {0: (1.0, 0.0)}
    active_l = active.tolist()
    ai = 0
    n_active = len(active_l)
    t = 0
    while t < T:
        if ai >= n_active or active_l[ai] != t:
            # blank-dominated frame: no extensions
            p0 = blank_l[t]
            row = probs[t]
            nb = {}
            for node, (pb, pnb) in beams.items():
                if node:
                    pr = float(row[cls[node]]) * pnb
                    nb[node] = ((pb + pnb) * p0, pr)
                    if pr > (pb + pnb) * p0:
                        last[node] = t
                else:
                    nb[node] = ((pb + pnb) * p0, 0.0)
            beams = nb
            t += 1
            continue
        cand = cands[ai]
        ai += 1
        p0 = blank_l[t]
        row = probs[t]
        nxt: dict[int, list[float]] = {}  # node -> [pb, pnb_carry, pnb_ext]
        if cand:
            # create the children this frame needs; their LM term is looked up only once they
            # could be kept (below): until then it counts as 0, its upper bound
            new = [(node, c) for node in beams for c, _ in cand if (node, c) not in children]
            caps = {c: _gated_cap(lm_cap, probs, t, c) for c, _ in cand} if new else {}
            for nd, c in new:
                k = len(parent)
                parent.append(nd)
                cls.append(c)
                first.append(t)
                last.append(t)
                weight.append(weight[nd] + insertion_bonus - (cost[c] if cost else 0.0))
                cap.append(caps[c])
                ctx.append(lm.next_context(ctx[nd], charset[c]) if lm is not None else "")
                children[(nd, c)] = k
                if lm is not None:
                    sc = lm_cache.get((ctx[nd], charset[c]))
                    if sc is None or relative:
                        pending.add(k)
                    else:  # known already: no reason to wait
                        weight[k] += lm_term(k, sc)
            if new and relative and lm is not None:
                _score_relative(lm, lm_cache, new, cand, ctx, charset, children, weight, rel_term, pending,
                                lm_weight, prior_weight)
            elif new and not lazy:
                score_lm(list(pending))
        for node, (pb, pnb) in beams.items():
            tot = pb + pnb
            e = cls[node]
            ent = nxt.get(node)
            if ent is None:
                ent = nxt[node] = [0.0, 0.0, 0.0]
            ent[0] += tot * p0
            if node:
                ent[1] += pnb * float(row[e])
            for c, pc in cand:
                ch = children[(node, c)]
                ent2 = nxt.get(ch)
                if ent2 is None:
                    ent2 = nxt[ch] = [0.0, 0.0, 0.0]
                ent2[2] += (pb if c == e and node else tot) * pc
        # select beams by total score, looking up the LM terms of the children that could be kept
        # until the best ``beam_width`` need none (scores only fall when an LM term is added)
        scored = list(nxt.items())
        if len(scored) > beam_width:
            ctc = {nd: log(v[0] + v[1] + v[2] + 1e-300) for nd, v in scored}
            while True:
                scored.sort(key=lambda kv: -(ctc[kv[0]] + weight[kv[0]]))
                if not any(nd in pending for nd, _ in scored[:beam_width]):
                    break
                # the runners-up too: one LM call for a few more pairs is cheaper than a second call
                score_lm([nd for nd, _ in scored[:2 * beam_width] if nd in pending])
            del scored[beam_width:]
        elif pending:
            need = [nd for nd, _ in scored if nd in pending]
            if need:
                score_lm(need)
        if len(scored) > 1:
            # hypotheses more than PRUNE_DELTA behind the best are dropped (a few live ones on the
            # confident stretches of a line instead of beam_width)
            tot = [log(v[0] + v[1] + v[2] + 1e-300) + weight[nd] for nd, v in scored]
            floor = max(tot) - PRUNE_DELTA
            if min(tot) < floor:
                scored = [kv for kv, x in zip(scored, tot) if x >= floor]
        m = max((v[0] + v[1] + v[2]) for _, v in scored) or 1.0
        beams = {}
        for node, (pb, carry, ext) in scored:
            if ext > carry + pb and first[node] != t:
                first[node] = t  # the path entering now dominates the one carried over
            if carry + ext > pb:
                last[node] = t
            beams[node] = (pb / m, (carry + ext) / m)
        t += 1

    best = max(beams.items(), key=lambda kv: math.log(max(kv[1][0] + kv[1][1], 1e-300)) + weight[kv[0]])[0]
    path = []
    node = best
    while node:
        path.append(node)
        node = parent[node]
    path.reverse()
    out = []
    for i, node in enumerate(path):
        f = first[node]
        lst = max(last[node], f)
        if i + 1 < len(path):
            lst = min(lst, max(f, first[path[i + 1]] - 1))
        out.append((cls[node], f, lst))
    return out


def _gated_cap(lm_cap: float, probs: np.ndarray, t: int, c: int) -> float:
    """``lm_cap`` gated by the class's peak probability in the frames from ``t`` on."""
    if math.isinf(lm_cap):
        return lm_cap
    p = float(probs[t : t + _PEAK_AHEAD, c].max())
    return lm_cap * min(1.0, (1.0 - p) / max(p, 1e-6))


def _score_relative(lm, cache, new, cand, ctx, charset, children, weight, rel_term, pending,
                    lm_weight: float, prior_weight: float) -> None:
    """LM terms of this frame's new children, each from the best candidate in its parent's context
    (``lm_weight * ln P(c | context) + prior_weight * prior(c)``, the prior measured as in
    :func:`_first_prior`)."""
    parents = list(dict.fromkeys(nd for nd, _ in new))
    cs = [c for c, _ in cand]
    texts = [charset[c] for c in cs]
    scores = _lm_scores(lm, cache, [ctx[nd] for nd in parents for _ in cs], texts * len(parents))
    prior = [_first_prior(u, prior_weight) for u in _lm_scores(lm, cache, [""] * len(cs), texts)] \
        if prior_weight else [0.0] * len(cs)
    n = len(cs)
    for i, nd in enumerate(parents):
        row = scores[i * n : (i + 1) * n]
        raw = [lm_weight * sc + pr for sc, pr in zip(row, prior)]
        ref = max(raw)
        for c, sc, x in zip(cs, row, raw):
            k = children[(nd, c)]
            if k in pending:
                weight[k] += rel_term(k, x, ref, sc)
                pending.discard(k)


def _first_prior(logp: float, w: float) -> float:
    """LM term of a line's first character: ``w * ln p(c)`` (clipped at :data:`PRIOR_FLOOR`),
    measured from the floor when ``w`` is negative, so that the term is never a reward for emitting
    a character (a blank or noisy crop must not read as a rare character)."""
    if not w:
        return 0.0
    logp = max(logp, PRIOR_FLOOR)
    return w * (logp - PRIOR_FLOOR) if w < 0 else w * logp


def _lm_cache(lm: CharLM) -> dict:
    cache = getattr(lm, "_beam_cache", None)
    if cache is None or len(cache) > 300_000:
        cache = {}
        try:
            lm._beam_cache = cache  # type: ignore[attr-defined]
        except AttributeError:
            pass
    return cache


def _lm_scores(lm: CharLM, cache: dict, ctxs: list[str], texts: list[str]) -> list[float]:
    out = [0.0] * len(ctxs)
    miss = []
    for i, key in enumerate(zip(ctxs, texts)):
        v = cache.get(key)
        if v is None:
            miss.append(i)
        else:
            out[i] = v
    if miss:
        mc = [ctxs[i] for i in miss]
        mt = [texts[i] for i in miss]
        for i, x, y, v in zip(miss, mc, mt, lm.score_pairs(mc, mt)):
            out[i] = v
            cache[(x, y)] = v
    return out


__all__ = ["beam_decode", "greedy_decode", "BeamParams", "PARAMS", "DEFAULTS", "FIRST_WEIGHT", "PRIOR_FLOOR", "BEAM_WIDTH", "PRUNE_TOP"]
