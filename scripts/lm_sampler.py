"""Turn a word n-gram language model into text by sampling sentences from it (build time only).

Pure Python (stdlib). Two inputs:

* an ARPA back-off model (``read_arpa``), e.g. libkkc-data's ``data.arpa`` (tokens
  ``reading/surface``; pass ``surface=lambda t: t.rsplit("/", 1)[-1]``) or libime's ``lm_sc.arpa``;
* libpinyin's ``interpolation2.text`` word unigram/bigram counts (``read_libpinyin_counts``),
  turned into an absolute-discounting back-off bigram model.

Sampling is exact for a back-off model: in context ``h`` an explicit entry is drawn with its own
probability; with the remaining mass the sampler backs off to the shorter context and rejects any
word that has an explicit entry in ``h`` (that is what the back-off weight renormalises for).
Deterministic for a given seed (``random.Random``'s Mersenne Twister is stable across versions).
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

BOS_TOK, EOS_TOK, UNK_TOK = "<s>", "</s>", "<unk>"


@dataclass
class BackoffLM:
    """Word back-off model as sampling tables: ``tables[k][ctx]`` (ctx = tuple of k word ids) is
    ``(sorted next-word ids, cumulative probabilities, total explicit mass)``."""

    vocab: list[str]
    order: int
    tables: list[dict] = field(default_factory=list)

    def word_id(self, w: str) -> int | None:
        if not hasattr(self, "_ids"):
            self._ids = {t: i for i, t in enumerate(self.vocab)}
        return self._ids.get(w)


def _finish(vocab: list[str], order: int, raw: list[dict]) -> BackoffLM:
    """raw[k][ctx] = list of (word id, prob) -> sampling tables."""
    tables = []
    for k in range(order):
        t = {}
        for ctx, entries in raw[k].items():
            entries.sort()
            words = [w for w, _ in entries]
            cum = list(accumulate(p for _, p in entries))
            t[ctx] = (words, cum, cum[-1])
        tables.append(t)
    return BackoffLM(vocab, order, tables)


def read_arpa(path: Path, surface=None, encoding: str = "utf-8") -> BackoffLM:
    """Parse an ARPA file (log10 probabilities; back-off weights are implied by the sampler)."""
    vocab: list[str] = []
    ids: dict[str, int] = {}
    raw: list[dict] = []
    order = 0
    k = 0
    with open(path, encoding=encoding, errors="replace") as f:
        for line in f:
            if line.startswith("\\"):
                s = line.strip()
                if s.endswith("-grams:"):
                    k = int(s[1:s.index("-")])
                    order = max(order, k)
                    while len(raw) < k:
                        raw.append({})
                elif s == "\\end\\":
                    break
                continue
            if k == 0:
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                continue
            toks = parts[1].split(" ")
            if len(toks) != k:
                continue
            wid = []
            for t in toks:
                i = ids.get(t)
                if i is None:
                    i = ids[t] = len(vocab)
                    vocab.append(t)
                wid.append(i)
            lp = float(parts[0])
            if lp <= -98 or toks[-1] in (BOS_TOK, UNK_TOK):
                continue  # <s> is never predicted; <unk> is not text
            raw[k - 1].setdefault(tuple(wid[:-1]), []).append((wid[-1], 10.0 ** lp))
    if surface is not None:
        vocab = [t if t in (BOS_TOK, EOS_TOK, UNK_TOK) else surface(t) for t in vocab]
    return _finish(vocab, order, raw)


def read_libpinyin_counts(path: Path, discount: float = 0.7) -> BackoffLM:
    """libpinyin ``interpolation2.text`` (``\\item id word count N`` unigrams, ``\\item id1 w1 id2 w2
    count N`` bigrams) as a back-off bigram model with absolute discounting."""
    uni: dict[str, int] = {}
    bi: dict[str, list[tuple[str, int]]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            p = line.split()
            if len(p) == 5 and p[0] == "\\item" and p[3] == "count":
                uni[p[2]] = uni.get(p[2], 0) + int(p[4])
            elif len(p) == 7 and p[0] == "\\item" and p[5] == "count":
                bi.setdefault(p[2], []).append((p[4], int(p[6])))
    vocab = sorted(set(uni) | set(bi) | {w for v in bi.values() for w, _ in v})
    ids = {w: i for i, w in enumerate(vocab)}
    tot = sum(uni.values())
    raw: list[dict] = [{(): [(ids[w], c / tot) for w, c in uni.items()]}, {}]
    for w1, nxt in bi.items():
        n = sum(c for _, c in nxt)
        raw[1][(ids[w1],)] = [(ids[w2], (c - discount) / n) for w2, c in nxt if c > discount]
    raw[1] = {k: v for k, v in raw[1].items() if v}
    return _finish(vocab, 2, raw)


def _draw(lm: BackoffLM, ctx: tuple, rng: random.Random) -> int:
    k = len(ctx)
    entry = lm.tables[k].get(ctx)
    if entry is None:  # unseen context: back-off weight 1
        return _draw(lm, ctx[1:], rng)
    words, cum, total = entry
    if k == 0:
        return words[min(bisect.bisect_right(cum, rng.random() * total), len(words) - 1)]
    r = rng.random()
    if r < total:
        return words[min(bisect.bisect_right(cum, r), len(words) - 1)]
    for _ in range(1000):  # back off, rejecting words explicit in this context
        w = _draw(lm, ctx[1:], rng)
        i = bisect.bisect_left(words, w)
        if i == len(words) or words[i] != w:
            return w
    return w


@dataclass(frozen=True)
class Punctuation:
    """How to punctuate sentences sampled from a model that has no punctuation tokens (an IME
    model trained on text split at punctuation): 1..``max_clauses`` clauses joined by ``joiner``,
    closed by one of ``enders`` (drawn with ``weights``)."""

    joiner: str
    enders: tuple[str, ...]
    weights: tuple[float, ...]
    max_clauses: int = 3


def sample_lines(lm: BackoffLM, n_chars: int, seed: int, min_words: int = 3, max_words: int = 24,
                 punct: Punctuation | None = None):
    """Sample sentences until ``n_chars`` characters of surface text are produced.

    With sentence markers in the model a sentence runs from ``<s>`` to ``</s>`` (at most
    ``max_words`` words); without them its length is drawn uniformly from ``min_words..max_words``
    and sampling starts from the empty context. With ``punct``, each output line is several such
    sentences (clauses) punctuated as it says."""
    if punct is not None:
        clauses = sample_lines(lm, n_chars, seed, min_words, max_words)
        rng = random.Random(seed + 1)
        out, i = [], 0
        while i < len(clauses):
            k = rng.randint(1, punct.max_clauses)
            end = rng.choices(punct.enders, punct.weights)[0]
            out.append(punct.joiner.join(clauses[i:i + k]) + end)
            i += k
        return out
    rng = random.Random(seed)
    bos, eos = lm.word_id(BOS_TOK), lm.word_id(EOS_TOK)
    n = lm.order - 1
    vocab = lm.vocab
    out, total = [], 0
    while total < n_chars:
        hist: tuple = (bos,) if bos is not None else ()
        limit = max_words if eos is not None else rng.randint(min_words, max_words)
        words = []
        for _ in range(limit):
            w = _draw(lm, hist[-n:] if n else (), rng)
            if w == eos:
                break
            if vocab[w] in (BOS_TOK, UNK_TOK):
                continue
            words.append(vocab[w])
            hist = hist + (w,)
        if words:
            s = "".join(words)
            out.append(s)
            total += len(s)
    return out
