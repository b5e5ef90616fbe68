"""The line reader: image -> windows -> engine -> decoder -> LineResult.

>>> from hwocr import Reader
>>> Reader(lang="ja").read("line.png").text
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from . import decode as dec
from .charsets import LANGS, language_filter, read_charlist
from .engines import Engine, load_engine
from .errors import HwocrError, ModelError
from .imageio import DEFAULT_MAX_PIXELS, ImageSource, load_image
from .preprocess import Window, make_windows
from .results import Alternative, CharResult, LineResult
from .store import Store

DECODERS = ("greedy", "beam")


@dataclass(frozen=True)
class LinePosteriors:
    """Per-window probabilities of one line, with the geometry to map frames to pixels."""

    windows: tuple[Window, ...]
    probs: tuple[np.ndarray, ...]  # each T x C, already restricted to the language


class Reader:
    """Reads handwritten text lines.

    Args:
        lang: "zh" (simplified Chinese) or "ja" (Japanese).
        engine: "ppocr" (embedded PP-OCRv6-small, default), "omz" (Intel Open Model Zoo model for
            ``lang``, downloaded and verified on first use) or a path to an OpenVINO IR / ONNX CTC model.
        device: OpenVINO device ("CPU", "GPU", "AUTO", ...).
        decoder: "greedy" or "beam" (CTC prefix beam search with a character language model).
        top_k: number of alternatives to report per character (0 = none).
        allow: designated characters (a file with one per line, or an iterable of characters):
            an emitted character outside the set is replaced by the best allowed one among its top 20.
        restrict: limit the output to the characters of ``lang`` (default: on for the multilingual
            ppocr model, off for models whose charlist already is one language).
    """

    def __init__(self, lang: str = "zh", engine: str = "ppocr", *, device: str = "CPU", decoder: str = "greedy",
                 top_k: int = 0, allow: str | Path | Iterable[str] | None = None, restrict: bool | None = None,
                 precision: str = "FP16", charlist: str | Path | None = None, model_dir: str | Path | None = None,
                 mirror: str | None = None, offline: bool | None = None, batch_size: int = 8,
                 max_pixels: int = DEFAULT_MAX_PIXELS, hint: str = "LATENCY") -> None:
        if lang not in LANGS:
            raise ModelError(f"unknown language {lang!r} (expected one of: {', '.join(LANGS)})")
        if decoder not in DECODERS:
            raise ModelError(f"unknown decoder {decoder!r} (expected one of: {', '.join(DECODERS)})")
        if top_k < 0:
            raise ModelError("top_k must be >= 0")
        self.lang = lang
        self.decoder = decoder
        self.top_k = top_k
        self.batch_size = max(1, batch_size)
        self.max_pixels = max_pixels
        store = Store.from_env(model_dir, mirror, offline)
        self.engine: Engine = load_engine(engine, lang, device, store=store, precision=precision,
                                          charlist=charlist, hint=hint)
        charset = self.engine.info.charset
        if restrict is None:
            restrict = engine == "ppocr"
        self.mask = dec.class_mask(charset, language_filter(lang)) if restrict else None
        self.allowed = _allowed_mask(allow, charset) if allow is not None else None
        self._lm = None
        self._beam = None
        if decoder == "beam":
            self._init_beam()

    # -- public API --------------------------------------------------------------------------
    @property
    def charset(self) -> tuple[str, ...]:
        return self.engine.info.charset

    def read(self, image: ImageSource) -> LineResult:
        return self.read_batch([image])[0]

    def read_batch(self, images: Sequence[ImageSource], batch_size: int | None = None) -> list[LineResult]:
        """Read many lines; results are in input order and identical to reading one at a time."""
        arrays = [load_image(im, self.max_pixels).rgb for im in images]
        return self.read_arrays(arrays, batch_size)

    def read_arrays(self, rgbs: Sequence[np.ndarray], batch_size: int | None = None) -> list[LineResult]:
        """Read already loaded 8-bit RGB line images (H x W x 3)."""
        posts = self.posteriors(rgbs, batch_size)
        return [self.decode(p) for p in posts]

    def posteriors(self, rgbs: Sequence[np.ndarray], batch_size: int | None = None) -> list[LinePosteriors]:
        spec = self.engine.info.input
        wins = [make_windows(rgb, spec) for rgb in rgbs]
        flat = [(i, j, w) for i, ws in enumerate(wins) for j, w in enumerate(ws)]
        probs: dict[tuple[int, int], np.ndarray] = {}
        groups: dict[tuple[int, ...], list[tuple[int, int, Window]]] = defaultdict(list)
        for item in flat:
            groups[item[2].tensor.shape].append(item)
        bs = self._batch_limit(batch_size)
        for items in groups.values():
            for k in range(0, len(items), bs):
                chunk = items[k : k + bs]
                batch = np.stack([w.tensor for _, _, w in chunk])
                out = self.engine(batch)
                for (i, j, _), p in zip(chunk, out):
                    probs[(i, j)] = dec.restrict(p, self.mask)
        return [LinePosteriors(tuple(ws), tuple(probs[(i, j)] for j in range(len(ws)))) for i, ws in enumerate(wins)]

    def decode(self, post: LinePosteriors) -> LineResult:
        chars: list[CharResult] = []
        for w, p in zip(post.windows, post.probs):
            ems = self._emissions(p)
            if self.allowed is not None:
                ems = dec.designate(ems, p, self.allowed)
            stride = w.tensor.shape[-1] / p.shape[0]
            for ci in dec.describe(ems, p, self.top_k):
                x0 = w.offset + ci.f0 * stride
                x1 = w.offset + min(ci.f1 * stride, w.valid)
                centre = (x0 + x1) / 2
                if not (w.own[0] <= centre < w.own[1]):
                    continue
                chars.append(CharResult(
                    char=self.charset[ci.cls],
                    confidence=ci.confidence,
                    x0=x0 / w.scale,
                    x1=max(x0, x1) / w.scale,
                    alternatives=tuple(Alternative(self.charset[c], pr) for c, pr in ci.alternatives),
                ))
        text = "".join(c.char for c in chars)
        conf = float(np.mean([c.confidence for c in chars])) if chars else 0.0
        n = len(post.windows)
        policy = f"split:{n}" if n > 1 else ""
        return LineResult(text=text, confidence=conf, chars=tuple(chars), engine=self.engine.name, policy=policy)

    # -- internals ---------------------------------------------------------------------------
    def _batch_limit(self, batch_size: int | None) -> int:
        shape = self.engine.session.input_shape if hasattr(self.engine.session, "input_shape") else None
        if shape is not None and shape[0].is_static:
            return shape[0].get_length()
        return max(1, batch_size or self.batch_size)

    def _emissions(self, p: np.ndarray) -> list[dec.Emission]:
        if self.decoder == "beam":
            return dec.fix_peaks(self._beam(p), p)
        return dec.greedy(p)

    def _init_beam(self) -> None:
        try:
            from .beam import DEFAULTS, beam_decode
            from .lm import CharLM
        except ImportError:
            raise ModelError("the beam decoder is not available in this build") from None
        lm = CharLM.for_lang(self.lang)
        alpha, beta = DEFAULTS[self.lang]
        charset = self.charset

        def run(p: np.ndarray):
            return beam_decode(p, charset, lm, lm_weight=alpha, insertion_bonus=beta, allowed=self.mask)

        self._lm = lm
        self._beam = run


def _allowed_mask(allow: str | Path | Iterable[str], charset: Sequence[str]) -> np.ndarray:
    if isinstance(allow, (str, Path)):
        chars = set(read_charlist(allow))
    else:
        chars = set(allow)
    if not chars:
        raise HwocrError("the allowed-characters set is empty")
    m = np.fromiter((c in chars for c in charset), dtype=bool, count=len(charset))
    m[0] = True
    if m.sum() <= 1:
        raise HwocrError("none of the allowed characters is in the model's charlist")
    return m
