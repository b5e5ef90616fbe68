"""Whole pages: detect lines, put them in reading order, read each with the line recogniser.

>>> from hwocr import Reader
>>> page = Reader(lang="ja").read_page("page.png", direction="auto")
>>> print(page.text)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .detect import Detector, TextBox
from ..imageio import ImageSource
from ..lineshape import page_has_ink
from .layout import DIRECTIONS, Crop, LineGeom, build_lines, crop_line, reflow_column, reflow_quads
from ..results import LineResult

Polygon = tuple[tuple[float, float], ...]

#: how vertical columns are turned for the (horizontal) line recogniser. Measured on composed
#: tategaki pages (benchmarks/page_eval.py --turn): ccw (top of the column to the left) reads
#: 1-CER 0.97 (ja) / 0.73 (zh); cw with the reading reversed reads 0.04 / 0.00
DEFAULT_TURN = "ccw"

#: how vertical columns are read: "rotate" (the column turned 90 degrees, see ``turn``), "reflow"
#: (its character cells cut apart and laid upright side by side, :func:`hwocr.layout.reflow_column`)
#: or "both" (each column read both ways, the more confident reading kept)
VERTICAL_MODES = ("rotate", "reflow", "both")
DEFAULT_VERTICAL = "both"

#: a page is checked for ink (:func:`hwocr.lineshape.page_has_ink`) as seen this long on its long side
#: when its detector does not say how large it sees a page (ppocr's: 1600, the same)
PAGE_INK_SIDE = 1600


@dataclass(frozen=True)
class PageChar:
    char: str
    confidence: float
    polygon: Polygon  # 4 corners on the page, clockwise from top-left of the character cell


@dataclass(frozen=True)
class PageLine:
    text: str
    confidence: float  # mean character confidence (0 for an empty reading)
    polygon: Polygon  # 4 corners of the line's rotated rectangle on the page
    direction: str  # "horizontal" or "vertical"
    chars: tuple[PageChar, ...] = ()
    block: int = 0
    detection_score: float = 0.0
    notes: tuple[str, ...] = ()
    lang: str = ""  # the language the line was read as (lang auto: decided per block)
    lang_by: str = ""  # lang auto: "block" (its block's lines decided), "page" (the page's blocks), "hint"

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        p = np.asarray(self.polygon)
        return (int(np.floor(p[:, 0].min())), int(np.floor(p[:, 1].min())), int(np.ceil(p[:, 0].max())),
                int(np.ceil(p[:, 1].max())))


@dataclass(frozen=True)
class PageResult:
    width: int
    height: int
    lines: tuple[PageLine, ...] = ()
    source: str = ""
    page: int = 0  # index of the page in a multi-page source (PDF, TIFF)
    engine: str = ""
    detector: str = ""
    direction: str = "auto"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return "\n".join(ln.text for ln in self.lines)

    def to_dict(self) -> dict[str, Any]:
        def poly(p: Polygon) -> list[list[float]]:
            return [[round(x, 1), round(y, 1)] for x, y in p]

        return {
            "source": self.source,
            "page": self.page,
            "width": self.width,
            "height": self.height,
            "engine": self.engine,
            "detector": self.detector,
            "direction": self.direction,
            "text": self.text,
            "notes": list(self.notes),
            "lines": [
                {
                    "text": ln.text,
                    "confidence": round(ln.confidence, 4),
                    "direction": ln.direction,
                    "block": ln.block,
                    "lang": ln.lang,
                    "lang_by": ln.lang_by,
                    "detection_score": round(ln.detection_score, 4),
                    "polygon": poly(ln.polygon),
                    "notes": list(ln.notes),
                    "chars": [{"char": c.char, "confidence": round(c.confidence, 4), "polygon": poly(c.polygon)}
                              for c in ln.chars],
                }
                for ln in self.lines
            ],
        }


# ---------------------------------------------------------------------------------------------

def _poly(q: np.ndarray) -> Polygon:
    return tuple((float(x), float(y)) for x, y in np.asarray(q).reshape(-1, 2))


def _to_line(geom: LineGeom, crop: Crop, res: LineResult, notes: tuple[str, ...] = ()) -> PageLine:
    quads = reflow_quads(crop, [(c.x0, c.x1) for c in res.chars])
    chars = [PageChar(c.char, c.confidence, _poly(q)) for c, q in zip(res.chars, quads)]
    if crop.turn == "cw":  # the recogniser read the column bottom-up
        chars.reverse()
    text = "".join(c.char for c in chars)
    direction = "vertical" if crop.turn else "horizontal"
    return PageLine(text, res.confidence, _poly(geom.quad), direction, tuple(chars), geom.block, geom.score,
                    notes + res.notes, res.lang, res.lang_by)


def _better(a: LineResult, b: LineResult) -> bool:
    """Is reading ``a`` more credible than ``b``? Mean confidence, with empty readings last."""
    if not a.chars or not b.chars:
        return bool(a.chars)
    return a.confidence > b.confidence


def _char_sized(quad: np.ndarray, aspect: float = 1.5) -> bool:
    """Is the box about as wide as tall (at most ``aspect`` either way): one character, whichever the
    direction of its block?"""
    q = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    a, b = np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[1])
    return max(a, b) <= aspect * max(min(a, b), 1e-6)


def _line_crops(rgb: np.ndarray, quad: np.ndarray, vertical: bool, turn: str, mode: str) -> list[Crop]:
    """The crop(s) to read for one line: vertical columns rotated and/or reflowed (``mode``)."""
    c = crop_line(rgb, quad, vertical, turn)
    if not vertical or mode == "rotate":
        return [c]
    r = reflow_column(c)
    if r is None:  # no ink to cut into cells
        return [c]
    return [r] if mode == "reflow" else [c, r]


def read_image(reader, rgb: np.ndarray, *, detector: str | Detector = "ppocr", direction: str = "auto",
               turn: str = DEFAULT_TURN, boxes: Sequence[TextBox] | None = None, source: str = "",
               page: int = 0, vertical: str = DEFAULT_VERTICAL, hint: str | None = None) -> PageResult:
    """Read one page image (RGB array) with ``reader`` (a :class:`hwocr.Reader`). ``vertical``: how
    vertical columns are read (one of :data:`VERTICAL_MODES`). ``hint`` (zh or ja; lang auto only): the
    language of the document around this page, which a block whose own characters do not decide reads
    as (:func:`hwocr.charsets.block_languages`)."""
    if direction not in DIRECTIONS:
        from ..errors import HwocrError

        raise HwocrError(f"unknown direction {direction!r} (expected one of: {', '.join(DIRECTIONS)})")
    if vertical not in VERTICAL_MODES:
        from ..errors import HwocrError

        raise HwocrError(f"unknown vertical mode {vertical!r} (expected one of: {', '.join(VERTICAL_MODES)})")
    # a name or path is the reader's (loaded once); anything else must be a Detector, not an AttributeError below
    det = reader.detector(detector) if isinstance(detector, (str, os.PathLike)) else detector
    if not callable(getattr(det, "detect", None)):
        from ..errors import HwocrError

        raise HwocrError(f"detector: expected ppocr, omz, the path of a detection .xml or a Detector, "
                         f"got {type(detector).__name__}")
    if boxes is None:
        # a blank page (a scan's empty back, an unused form) is not sent to the detector: it took most of
        # the page's time there and found noise to read; judged at the detector's own scale and below,
        # where every faint character the detector read still counts (benchmarks/page_ink.py)
        side = getattr(det, "max_side", None)
        side = side if isinstance(side, int) and side > 0 else PAGE_INK_SIDE
        boxes = det.detect(rgb) if page_has_ink(rgb, side) else []
    geoms = build_lines(list(boxes), direction)
    crops: list[Crop] = []
    owners: list[int] = []
    # an undecided block is also read the other way, but not a lone character's box: the other way adds
    # no reading of it (turned it is no character, reflowed the same crop), and an answer sheet of a
    # thousand isolated characters was read three times each
    both = [g.ambiguous and not _char_sized(g.quad) for g in geoms]
    for k, g in enumerate(geoms):
        cs = _line_crops(rgb, g.quad, g.direction == "vertical", turn, vertical)
        if both[k]:
            cs += _line_crops(rgb, g.quad, g.direction != "vertical", turn, vertical)
        crops += cs
        owners += [k] * len(cs)
    # lang auto: one language per block, from all of its lines
    kw = {"hint": hint} if hint else {}  # (a reader without hints still reads pages)
    results = reader.read_arrays([c.image for c in crops], groups=[geoms[k].block for k in owners], **kw) if crops else []
    best: dict[int, tuple[Crop, LineResult]] = {}
    for c, r, k in zip(crops, results, owners):
        if k not in best or _better(r, best[k][1]):
            best[k] = (c, r)
    lines = []
    for k, g in enumerate(geoms):
        c, r = best[k]
        notes = ("direction:both-read",) if both[k] else ()
        lines.append(_to_line(g, c, r, notes))
    h, w = rgb.shape[:2]
    return PageResult(w, h, tuple(lines), source, page, reader.engine.name, det.name, direction)


def read_document(reader, source: ImageSource, *, detector: str | Detector = "ppocr", direction: str = "auto",
                  dpi: float = 200, pages: Sequence[int] | None = None, turn: str = DEFAULT_TURN,
                  vertical: str = DEFAULT_VERTICAL, hint: str | None = None) -> list[PageResult]:
    """Every page of ``source`` (image, multi-page TIFF or PDF), or the pages numbered in ``pages``."""
    from .inputs import iter_pages

    out = []
    for p in iter_pages(source, dpi=dpi, max_pixels=reader.max_pixels, pages=pages):
        out.append(read_image(reader, p.rgb, detector=detector, direction=direction, turn=turn, source=p.name,
                              page=p.index, vertical=vertical, hint=hint))
    return out


def read_page(reader, source: ImageSource, *, page: int = 0, detector: str | Detector = "ppocr",
              direction: str = "auto", dpi: float = 200, turn: str = DEFAULT_TURN,
              vertical: str = DEFAULT_VERTICAL, hint: str | None = None) -> PageResult:
    """One page (``page``: index in a PDF / multi-page TIFF) of ``source``."""
    return read_document(reader, source, detector=detector, direction=direction, dpi=dpi, pages=[page], turn=turn,
                         vertical=vertical, hint=hint)[0]
