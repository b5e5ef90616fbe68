"""``--ensemble``: Japanese lines read by PP-OCRv6 small and PP-OCRv5 mobile, merged by character voting.

Each Japanese line (``--lang ja``, or a line ``--lang auto`` reads as Japanese) is read and decoded
(beam by default) by both models; the two readings are aligned by edit distance and merged (a
two-system ROVER, :func:`vote`): where they differ the more confident character wins, v6 by a margin
of ``BIAS``; a character only one of them read is kept when its confidence is at least ``KEEP`` (v5's:
``KEEP + BIAS``). Chinese lines are read by v6 alone (v5 reads Chinese worse, and voting lost there).
``LineResult.engine`` names the models that read the line; a note ``ensemble:v5=N/M`` says how
many of its M characters came from v5.

Chosen by ``benchmarks/ensemble_eval.py`` on the validation suite (worst-case gain over v6 across
its three Japanese sets with the right ``--lang``, and no loss on any set with ``--lang auto``);
README "A second model for Japanese" has the numbers.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import numpy as np

from .engines.v5 import ENGINE_NAME
from .registry import PPOCRV5_REC
from .errors import ModelError
from .results import LineResult

if TYPE_CHECKING:
    from .reader import Reader

METHODS = ("rover",)
#: v6's margin: v5's character replaces v6's only when more confident by more than this
BIAS = 0.1
#: a character only one model read is kept when at least this confident (v5's: KEEP + BIAS)
KEEP = 0.7
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


def vote(a: Sequence[tuple[str, float]], b: Sequence[tuple[str, float]], bias: float = BIAS,
         keep: float = KEEP) -> list[tuple[int, int]]:
    """Two-system ROVER over (character, confidence) sequences, ``a`` the preferred one: the merged
    reading as a list of (0, i) = a's i-th character or (1, j) = b's j-th."""
    out: list[tuple[int, int]] = []
    for i, j in align([c for c, _ in a], [c for c, _ in b]):
        if i >= 0 and j >= 0:
            out.append((0, i) if a[i][0] == b[j][0] or a[i][1] + bias >= b[j][1] else (1, j))
        elif i >= 0:
            if a[i][1] >= keep:
                out.append((0, i))
        elif b[j][1] >= keep + bias:
            out.append((1, j))
    return out


def merge(r6: LineResult, r5: LineResult, bias: float = BIAS, keep: float = KEEP) -> LineResult:
    """The voted line of two readings of it (character spans are in the same line pixels)."""
    src = (r6.chars, r5.chars)
    picks = vote([(c.char, c.confidence) for c in r6.chars], [(c.char, c.confidence) for c in r5.chars], bias, keep)
    chars = tuple(src[k][i] for k, i in picks)
    conf = float(np.mean([c.confidence for c in chars])) if chars else 0.0
    n5 = sum(k for k, _ in picks)
    return replace(r6, text="".join(c.char for c in chars), confidence=conf, chars=chars,
                   engine=f"{r6.engine}+{r5.engine}", notes=(*r6.notes, f"ensemble:v5={n5}/{len(chars)}"))


class Ensemble:
    """The second model of a Reader and how its readings are combined with the first's."""

    def __init__(self, reader: "Reader", method: str, **reader_kw) -> None:
        from .engines.v5 import locate
        from .store import Store

        # missing or unverifiable: one line now, not on the first Japanese line
        locate(Store.from_env(reader_kw.get("model_dir"), reader_kw.get("mirror"), reader_kw.get("offline")))
        self.method = method
        self._kw = dict(decoder=reader.decoder, top_k=reader.top_k, **reader_kw)
        self._second: "Reader | None" = None
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
        idx = [i for i, r in enumerate(results) if r.lang in LANGS]
        if idx:
            second = self.second.with_decoder(reader.decoder)
            for i, post in zip(idx, second.posteriors([rgbs[i] for i in idx], batch_size)):
                out[i] = merge(results[i], second.decode(post))
        return out

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
