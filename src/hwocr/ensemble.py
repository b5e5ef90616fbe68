"""``--ensemble``: Japanese lines read by PP-OCRv6 small and PP-OCRv5 mobile, merged by character voting.

Each Japanese line (``--lang ja``, or a line ``--lang auto`` reads as Japanese) is decoded from v6
(beam by default) and from v5 (greedy: v5's beam with v6's constants read random-order lines worse).
The two readings are aligned by edit distance (a two-system ROVER, :func:`vote`):

* where they agree the character stays;
* where they differ, each candidate scores the two models' summed probability for it (each reading
  carries its top classes at the character's peak frame, so a model also votes for the character it
  did not choose); v5's wins only when its score is ahead by more than a factor ``e^BIAS``;
* with the beam decoder every top class of either reading is a candidate (a confusion network),
  decided together with the language model: ``LM_WEIGHT`` x its ln-probability in context, and for a
  line's first character, which has no context, a unigram prior weighted by script
  (``FIRST_PRIOR``: isolated kana gain from it, against Latin and katakana lookalikes);
* a character only one model read is kept when its confidence is at least ``KEEP`` (v5's:
  ``KEEP + BIAS``).

Chinese lines are read by v6 alone (v5 reads Chinese worse, and voting lost there).
``LineResult.engine`` names the models that read the line; a note ``ensemble:v5=N/M`` says how many
of its M characters came from v5.

Chosen by ``benchmarks/ensemble_eval.py`` on the validation suite (worst-case gain across its three
Japanese sets, at bf16 and at f32, over v6 alone and over the greedy pipeline; no loss on any set with
``--lang auto``); README "A second model for Japanese" has the numbers.
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .beam import PRIOR_FLOOR as _FLOOR
from .engines.v5 import ENGINE_NAME
from .registry import PPOCRV5_REC
from .charsets import is_han, is_kana
from .errors import ModelError
from .results import BLANK_NOTE, CharResult, LineResult

if TYPE_CHECKING:
    from .lm import CharLM
    from .reader import Reader

METHODS = ("rover",)
#: v6's margin (natural log of the summed probabilities): v5's character replaces v6's only when ahead by more
BIAS = 0.2
#: a character only one model read is kept when at least this confident (v5's: KEEP + BIAS)
KEEP = 0.7
#: alternatives each reading carries into the vote (a model's probability for the other's character)
TOP_K = 5
#: (beam decoder) weight and cap of the LM's ln-probability when the disagreements are decided
LM_WEIGHT, LM_CAP = 0.05, 8.0
#: readings kept while the disagreements of a line are decided
WIDTH = 4
#: (beam decoder) weights of a line's first character's unigram prior: (kanji, kana); isolated kana
#: gain from a positive one (against Latin and katakana lookalikes), isolated kanji from a negative one
#: (re-checked by ``benchmarks/vote_prior.py``: no pair beats it by more than one character per draw)
FIRST_PRIOR = (0.0, 0.2)
#: (beam decoder) weight of every later character's unigram prior (from the same floor), added to its LM
#: term: a negative one divides part of the LM's preference for frequent characters out of a choice
#: between two readings (0: off)
PRIOR = 0.0
#: the languages whose lines both models read
LANGS = ("ja",)
#: results refined per round (the second model's posteriors of a round's Japanese lines are held at once)
CHUNK = 16


def wanted(ensemble: bool | str | None, engine: str, lang: str, store=None) -> str | None:
    """The method a Reader combines with (None: v6 alone). ``ensemble``: None = on for the ppocr engine
    where PP-OCRv5 is available, True / a method name = on (a one-line ModelError when v5 is missing or
    the engine is not ppocr), False = off. Never for ``lang="zh"`` (no Japanese lines to vote on)."""
    if ensemble is False or ensemble == "off" or lang == "zh":
        return None
    if ensemble is None:
        from .engines.v5 import available

        return METHODS[0] if engine == "ppocr" and available(store) else None
    method = METHODS[0] if ensemble is True or ensemble == "on" else ensemble
    if method not in METHODS:
        raise ModelError(f"unknown ensemble method {ensemble!r} (expected one of: {', '.join(METHODS)})")
    if engine != "ppocr":
        raise ModelError(f"--ensemble combines the ppocr engine with PP-OCRv5 mobile; not the {engine!r} engine")
    return str(method)


def align(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int]]:
    """Edit-distance alignment of two symbol sequences: (i, j) pairs, -1 for a gap."""
    n, m = len(a), len(b)
    d = np.zeros((n + 1, m + 1), dtype=np.int32)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    out, i, j = [], n, m
    while i or j:
        if i and j and d[i, j] == d[i - 1, j - 1] + (a[i - 1] != b[j - 1]):
            out.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and d[i, j] == d[i - 1, j] + 1:
            out.append((i - 1, -1))
            i -= 1
        else:
            out.append((-1, j - 1))
            j -= 1
    return out[::-1]


def _prob(c: CharResult, char: str) -> float:
    """A reading's probability for ``char`` at character ``c``'s peak frame (0 where not among its top classes)."""
    if c.char == char:
        return c.confidence
    return next((a.confidence for a in c.alternatives if a.char == char), 0.0)


#: an option of a slot: (reading, index, character, ln score); the character is that reading's, or
#: (with the LM) one of the two readings' top classes there
Option = tuple[int, int, str, float]


def _slots(a: Sequence[CharResult], b: Sequence[CharResult], bias: float, keep: float, wide: bool
           ) -> list[list[Option]]:
    """The aligned readings as slots of options: where both read a character, its candidates score
    the two models' summed probability (the second's own character ``bias`` behind); ``wide``: every
    class either reading has there is a candidate, not only the two read. A character only one of
    them read is a single option when it is kept; a reading of nothing casts no vote against the other's."""
    out: list[list[Option]] = []
    if not a or not b:
        return [[(0, i, c.char, 0.0)] for i, c in enumerate(a)] or [[(1, j, c.char, 0.0)] for j, c in enumerate(b)]
    for i, j in align([c.char for c in a], [c.char for c in b]):
        if i >= 0 and j >= 0:
            x, y = a[i], b[j]
            cands = [x.char, y.char]
            if wide:
                cands += [alt.char for c in (x, y) for alt in c.alternatives]
            opts = []
            for ch in dict.fromkeys(cands):
                px, py = _prob(x, ch), _prob(y, ch)
                sc = math.log(max(px + py, 1e-6)) - (bias if ch != x.char else 0.0)
                # the reading whose character (or else whose higher probability) it is
                k, idx = (0, i) if ch == x.char or (ch != y.char and px >= py) else (1, j)
                opts.append((k, idx, ch, sc))
            out.append(opts if wide or x.char != y.char else opts[:1])
        elif i >= 0:
            if a[i].confidence >= keep:
                out.append([(0, i, a[i].char, 0.0)])
        elif b[j].confidence >= keep + bias:
            out.append([(1, j, b[j].char, 0.0)])
    return out


def _first_prior(lm: "CharLM", ch: str, first: tuple[float, float]) -> float:
    """The line's first character, which has no context: its unigram ln-probability (from a floor of
    1e-6) weighted by its script, ``first`` = (kanji, kana) weights (a negative one divides part of
    the recogniser's preference for frequent characters out)."""
    w = 0.0 if len(ch) != 1 else first[0] if is_han(ch) else first[1] if is_kana(ch) else 0.0
    return w * (max(lm.score("", ch), _FLOOR) - _FLOOR) if w else 0.0


def vote(a: Sequence[CharResult], b: Sequence[CharResult], bias: float = BIAS, keep: float = KEEP,
         lm: "CharLM | None" = None, lm_weight: float = LM_WEIGHT, lm_cap: float = LM_CAP,
         first: tuple[float, float] = FIRST_PRIOR, width: int = WIDTH, prior: float = PRIOR,
         costs: Mapping[str, float] | None = None) -> list[tuple[int, int, str]]:
    """Two-system ROVER of two readings of a line, ``a`` the preferred one: the merged reading as a
    list of (reading, index, character), the character at ``a[index]`` (reading 0) or ``b[index]``
    (reading 1), which is that reading's own unless the LM chose another of the two readings' top
    classes there. Without ``lm`` each slot takes its best-scored character of the two read. With
    ``lm`` every top class of either reading is a candidate, decided by its vote score plus
    ``lm_weight`` x the LM's capped ln-probability in context (the first character: the script prior
    ``first``; every later one's: plus ``prior`` x its unigram ln-probability from the floor), by a
    small beam over the slots (readings with the same LM context merged). ``costs`` (with ``lm``):
    what a character costs on top (the beam decoder's traditional-form costs, :mod:`hwocr.variants`)."""
    slots = _slots(a, b, bias, keep, wide=lm is not None)
    if lm is None:
        return [max(s, key=lambda o: o[3])[:3] for s in slots]
    if costs:
        slots = [[(k, i, ch, sc - costs.get(ch, 0.0)) for k, i, ch, sc in s] for s in slots]
    # a candidate further behind its slot's best than the LM can make up is dropped (it could not win;
    # the same text on every collected set): its own term and those of the characters whose context
    # it is differ by at most lm_cap x weight each, the first character's prior by at most its weight
    # x -ln(1e-6)
    reach = lm.order * lm_weight * lm_cap + abs(prior) * -_FLOOR
    for n, s in enumerate(slots):
        if len(s) > 1:
            top = max(o[3] for o in s)
            margin = reach + (max(map(abs, first)) * -_FLOOR if n == 0 else 0.0)
            slots[n] = [o for o in s if o[3] >= top - margin]
    hyps: list[tuple[float, str, bool, list[tuple[int, int, str]]]] = [(0.0, "", False, [])]
    for s in slots:
        best: dict[str, tuple[float, str, bool, list[tuple[int, int, str]]]] = {}
        for score, ctx, started, picks in hyps:
            for k, i, ch, sc in s:
                if started:
                    term = max(lm.score(ctx, ch), -lm_cap) * lm_weight
                    if prior and len(s) > 1:
                        term += prior * (max(lm.score("", ch), _FLOOR) - _FLOOR)
                else:
                    term = _first_prior(lm, ch, first) if len(s) > 1 else 0.0
                nctx = lm.next_context(ctx, ch)
                h = (score + sc + term, nctx, True, picks + [(k, i, ch)])
                if nctx not in best or h[0] > best[nctx][0]:  # the same context: only the better can win
                    best[nctx] = h
        hyps = sorted(best.values(), key=lambda h: -h[0])[:width]
    return hyps[0][3]


def merge(r6: LineResult, r5: LineResult, bias: float = BIAS, keep: float = KEEP, lm: "CharLM | None" = None,
          top_k: int | None = None, costs: Mapping[str, float] | None = None) -> LineResult:
    """The voted line of two readings of it (character spans are in the same line pixels); ``lm``:
    decide the disagreements with it (the beam decoder's); ``top_k``: alternatives kept per character
    (None: as read). A character neither reading chose keeps the span of the reading whose top
    class it was, with that reading's probability for it."""
    src = (r6.chars, r5.chars)
    chars = []
    picks = vote(r6.chars, r5.chars, bias, keep, lm, costs=costs)
    for k, i, ch in picks:
        c = src[k][i]
        if ch != c.char:
            c = replace(c, char=ch, confidence=_prob(c, ch))
        if top_k is not None and len(c.alternatives) > top_k:
            c = replace(c, alternatives=c.alternatives[:top_k])
        chars.append(c)
    conf = float(np.mean([c.confidence for c in chars])) if chars else 0.0
    n5 = sum(k for k, _, _ in picks)
    return replace(r6, text="".join(c.char for c in chars), confidence=conf, chars=tuple(chars),
                   engine=f"{r6.engine}+{r5.engine}", notes=(*r6.notes, f"ensemble:v5={n5}/{len(chars)}"))


class Ensemble:
    """The second model of a Reader and how its readings are combined with the first's."""

    def __init__(self, reader: "Reader", method: str, **reader_kw) -> None:
        from .engines.v5 import locate
        from .store import Store

        # missing or unverifiable: one line now, not on the first Japanese line
        locate(Store.from_env(reader_kw.get("model_dir"), reader_kw.get("mirror"), reader_kw.get("offline")))
        self.method = method
        # v5 is decoded greedy whatever the first reader's decoder (the LM comes in at the vote)
        self._kw = dict(decoder="greedy", top_k=max(reader.top_k, TOP_K), **reader_kw)
        self._second: "Reader | None" = None
        self._cost_map: dict[str, float] | None = None
        self._lock = threading.Lock()

    @property
    def second(self) -> "Reader":
        """The PP-OCRv5 reader, compiled on the first Japanese line (a Chinese-only job never pays its
        memory)."""
        if self._second is None:
            with self._lock:
                if self._second is None:
                    from .reader import Reader

                    self._second = Reader(lang="ja", engine=ENGINE_NAME, ensemble=False, **self._kw)
        return self._second

    @property
    def name(self) -> str:
        """The second model's name, without loading it (the name its results carry once loaded)."""
        return self._second.engine.name if self._second is not None else PPOCRV5_REC.name

    def refine(self, reader: "Reader", results: Sequence[LineResult], rgbs: Sequence[np.ndarray],
               batch_size: int | None = None) -> list[LineResult]:
        """``results`` (the first model's readings of ``rgbs``) with each Japanese line also read by the
        second model and merged."""
        out = list(results)
        # (a line the first reader found blank reads as nothing in both: the second neither reads it
        # nor checks the others' ink again)
        idx = [i for i, r in enumerate(results) if r.lang in LANGS and BLANK_NOTE not in r.notes]
        if idx:
            from .lm import CharLM

            lm = CharLM.for_lang("ja") if reader.decoder == "beam" else None
            costs = self._costs(lm) if lm is not None else None
            second = self.second
            # each line decoded as its posteriors arrive (a page of a thousand lines held all of them)
            for j, post in second._iter_posteriors([rgbs[i] for i in idx], batch_size, inked=True):
                out[idx[j]] = merge(results[idx[j]], second.decode(post), lm=lm, top_k=reader.top_k, costs=costs)
        return out

    def _costs(self, lm: "CharLM") -> dict[str, float]:
        """The beam decoder's traditional-form costs for Japanese (:mod:`hwocr.variants`), made once."""
        if self._cost_map is None:
            from .beam import PARAMS
            from .variants import cost_map

            self._cost_map = cost_map(lm, PARAMS["ja"].variant_weight)
        return self._cost_map

    @staticmethod
    def top_k(lang: str, top_k: int) -> int:
        """The alternatives the first model's reading of a ``lang`` line carries into the vote."""
        return max(top_k, TOP_K) if lang in LANGS else top_k

    def stream(self, reader: "Reader", results: Iterable[LineResult], kept: dict[int, np.ndarray],
               batch_size: int | None = None) -> Iterator[LineResult]:
        """:meth:`refine` over a stream of results in input order, CHUNK lines at a time; ``kept``
        holds the images of the lines not yet out (line index -> image), and loses them as they go."""
        buf: list[LineResult] = []
        done = 0
        for res in results:
            buf.append(res)
            if len(buf) >= CHUNK:
                yield from self.refine(reader, buf, [kept.pop(done + k) for k in range(len(buf))], batch_size)
                done += len(buf)
                buf = []
        if buf:
            yield from self.refine(reader, buf, [kept.pop(done + k) for k in range(len(buf))], batch_size)
