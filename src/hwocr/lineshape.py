"""A cheap check that an image is one text line (what ``read`` expects) and not a page, several lines
or a vertical column, which a line recogniser reads as junk.

It looks at the ink's row profile only (a few milliseconds on a downscaled copy): several separated
bands of ink that each look like a line of characters, a tall shape with several character-sized
groups stacked vertically, or a page-sized picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the check runs on a copy at most this many pixels on its long side, unless that would make its short
#: side less than WORK_SHORT pixels: a 16 308 x 88 line (three recognition windows) shrunk to 800 x 4 lost
#: its strokes, was taken for a blank and read as nothing
WORK_SIDE = 800
WORK_SHORT = 32
#: an image whose short side is at least this many pixels is a page or a photo, not a line crop
PAGE_SIDE = 2000
#: ink must be this much darker than the background (grey levels) to count
MIN_CONTRAST = 40
#: :func:`has_ink`: a mark is at least this many connected pixels (of the grey copy at most
#: :data:`WORK_SIDE` long) that stand out of their neighbourhood by this many grey levels and by this
#: many times the image's pixel noise. A one-pixel stroke counts (a thin pen, a tablet's aliased
#: line: an earlier 3 x 3 median took "一" drawn one pixel wide for a blank); a speck of up to 5
#: pixels does not. Measured (``benchmarks/blank_check.py``) on the 12 873 images of the dev sets and
#: every validation draw (photo draw included), the faintest mark stands out by 39 levels and 26
#: times its noise; of 8 400 synthetic blanks (sensor noise up to sigma 30, JPEG down to quality 30,
#: uneven light) 2 are taken for ink, both sigma 30 at quality 30, standing out by 24-25 levels
INK_MIN_MARK = 6
INK_MIN_PEAK = 24
INK_NOISE_RATIO = 16
#: :func:`has_ink` looks for a mark in this many columns of the work copy first
SLAB_COLUMNS = 32


@dataclass(frozen=True)
class LineShape:
    """What the check found. ``kind``: "line", "blank", "multiline", "vertical" or "page"."""

    kind: str
    bands: int = 0  # ink bands that look like lines of characters
    groups: int = 0  # character-sized ink groups stacked vertically (tall images)

    @property
    def ok(self) -> bool:
        return self.kind in ("line", "blank")

    @property
    def has_ink(self) -> bool:
        return self.kind != "blank"

    def seen(self, ink: bool) -> "LineShape":
        """This verdict once the image is known to hold a mark (``ink``) or not."""
        return self if ink else LineShape("blank")

    def advice(self) -> str:
        """One line for the user (empty for a line)."""
        if self.kind == "multiline":
            return (f"looks like {self.bands} lines of text, not one; read it with 'hwocr page' "
                    f"(or crop it into lines)")
        if self.kind == "vertical":
            return "looks like a vertical column of text; read it with 'hwocr page --direction vertical'"
        if self.kind == "page":
            return "is page-sized, not a text line; read it with 'hwocr page'"
        return ""


def ink_mask(rgb: np.ndarray) -> np.ndarray | None:
    """Ink pixels of a downscaled grey copy (None when there is no ink to speak of)."""
    return _ink_mask(_work_grey(rgb))


def _ink_mask(grey: np.ndarray) -> np.ndarray | None:
    import cv2

    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    bg = float(np.median(border))
    if bg < 128:  # light ink on a dark ground
        grey, bg = 255 - grey, 255 - bg
    dark = _percentile(grey, 0.5) if grey.dtype == np.uint8 else float(np.percentile(grey, 0.5))
    if bg - dark < MIN_CONTRAST:
        return None
    otsu, _ = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = grey <= min(otsu, bg - MIN_CONTRAST / 2)
    return mask if mask.sum() >= 4 else None


def _percentile(grey: np.ndarray, q: float) -> float:
    """``np.percentile(grey, q)`` (linear between the order statistics) of an 8-bit image, from its
    levels' histogram: the same value without sorting the pixels."""
    cum = np.cumsum(np.bincount(grey.ravel(), minlength=256))
    pos = (grey.size - 1) * q / 100.0
    lo = int(np.floor(pos))
    a, b = np.searchsorted(cum, [lo + 1, min(lo + 2, grey.size)])
    return float(a + (pos - lo) * (int(b) - int(a)))


def _work_grey(rgb: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """A grey copy at most ``side`` pixels on its long side, or :data:`WORK_SHORT` on its short side when
    that is larger (a long line keeps its strokes)."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    h, w = grey.shape
    s = min(1.0, max(side / max(h, w), WORK_SHORT / min(h, w)))
    if s < 1:
        grey = cv2.resize(grey, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return grey


def has_ink(rgb: np.ndarray, work_side: int = WORK_SIDE, peak: float = INK_MIN_PEAK,
            noise_ratio: float = INK_NOISE_RATIO) -> bool:
    """Whether the image holds any mark at all, whatever its colours: a blank (a uniform image, blank
    paper with noise, grain, JPEG artefacts or uneven light) reads as nothing rather than as what the
    recogniser imagines in it (:data:`INK_MIN_MARK`, :func:`ink_contrast`). ``work_side``: the long
    side of the copy it is judged on; ``peak``, ``noise_ratio``: how far a mark must stand out
    (:data:`INK_MIN_PEAK`, :data:`INK_NOISE_RATIO`; a page's check asks less, :func:`page_has_ink`).

    The answer is the same as judging the whole image, but a line with ink is usually settled on a
    slab of :data:`SLAB_COLUMNS` columns around its most contrasted column (a mark found there is a
    part of one in the whole image); only an image without one is judged whole. On the labelled sets
    (``blank_check.py``) that is 0.5 ms an image instead of the whole image's 1.4 ms, which was about
    as long as a line's beam decoding."""
    return _grey_has_ink(_work_grey(rgb, work_side), peak, noise_ratio)


def _grey_has_ink(grey: np.ndarray, peak: float = INK_MIN_PEAK, noise_ratio: float = INK_NOISE_RATIO) -> bool:
    if grey.dtype != np.uint8:
        return True
    level = max(peak, noise_ratio * _noise(grey))
    k = _median_size(grey)
    if grey.shape[1] > SLAB_COLUMNS + k:
        c = int(np.argmax(grey.max(axis=0).astype(np.int16) - grey.min(axis=0)))
        if _largest_mark(_slab_deviation(grey, k, c)[0], level) >= INK_MIN_MARK:
            return True
    return _largest_mark(_deviation_of(grey, k), level) >= INK_MIN_MARK


#: :func:`page_has_ink` asks a mark to stand out by less than a line's check does: a page taken for
#: blank loses its text, one taken for ink only runs the detector as before. On the pages of
#: ``benchmarks/page_ink.py`` no faint character that the detector reads is lost at 16 / 8, and no blank
#: (noise up to sigma 24, JPEG down to 30) is taken for ink; at 12 / 6 blanks begin to be
PAGE_INK_MIN_PEAK = 16
PAGE_INK_NOISE_RATIO = 8


def page_has_ink(rgb: np.ndarray, side: int) -> bool:
    """:func:`has_ink` for a page seen at ``side`` pixels on its long side (its detector's scale): also
    judged at a half and a quarter of that, where the pixel noise of a dim photo averages out and a
    faint pencil character still stands out of it; smallest first, so that a page with ink is usually
    settled on its smallest copy."""
    return any(has_ink(rgb, max(WORK_SHORT, side // d), PAGE_INK_MIN_PEAK, PAGE_INK_NOISE_RATIO) for d in (4, 2, 1))


def ink_contrast(rgb: np.ndarray) -> tuple[float, float]:
    """(peak, noise) in grey levels: the most a mark of :data:`INK_MIN_MARK` connected pixels stands
    out of its neighbourhood's median (a window of about a quarter of the image's short side, so that
    gradients of light do not count), and the pixel noise (the robust spread of what a 3 x 3 median
    removes). ``has_ink`` is ``peak >= max(INK_MIN_PEAK, INK_NOISE_RATIO * noise)``. An image that is
    not 8-bit is not judged (infinite peak)."""
    dev, noise = _deviation(rgb)
    if dev is None:
        return float("inf"), 0.0
    lo, hi = 0, 256  # the largest level at which a mark is still there (marks only shrink as it rises)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _largest_mark(dev, mid) >= INK_MIN_MARK else (lo, mid)
    return float(lo), noise


def _deviation(rgb: np.ndarray) -> tuple[np.ndarray | None, float]:
    """|grey - its neighbourhood's median| of the work copy, and the pixel noise."""
    grey = _work_grey(rgb)
    if grey.dtype != np.uint8:
        return None, 0.0
    return _deviation_of(grey, _median_size(grey)), _noise(grey)


def _slab_deviation(grey: np.ndarray, k: int, c: int) -> tuple[np.ndarray, int]:
    """:func:`_deviation_of` for :data:`SLAB_COLUMNS` columns about column ``c`` only, and the first
    of them: the slab is cut with k // 2 more columns on each side (where the image has them), so each
    of its pixels sees the neighbourhood it has in the whole image."""
    w = grey.shape[1]
    r = k // 2
    x0 = min(max(0, c - SLAB_COLUMNS // 2), w - SLAB_COLUMNS)
    e0, e1 = max(0, x0 - r), min(w, x0 + SLAB_COLUMNS + r)
    dev = _deviation_of(grey[:, e0:e1], k)
    return dev[:, x0 - e0 : x0 - e0 + SLAB_COLUMNS], x0


def _median_size(grey: np.ndarray) -> int:
    """The neighbourhood median's window: about a quarter of the short side, 5 to 31 pixels."""
    return 2 * int(np.clip(min(grey.shape) // 4, 2, 15)) + 1


def _deviation_of(grey: np.ndarray, k: int) -> np.ndarray:
    import cv2

    return np.abs(grey.astype(np.int16) - cv2.medianBlur(grey, k))


def _noise(grey: np.ndarray) -> float:
    """The robust spread (1.4826 x median) of what a 3 x 3 median removes, the median counted from
    the levels' histogram (the same value as ``np.median``, in a tenth of the time)."""
    import cv2

    d = np.abs(grey.astype(np.int16) - cv2.medianBlur(grey, 3)).ravel()
    cum = np.cumsum(np.bincount(d, minlength=256))
    n = d.size
    lo, hi = np.searchsorted(cum, [(n - 1) // 2 + 1, n // 2 + 1])  # the middle order statistic(s)
    return 1.4826 * ((float(lo) + float(hi)) / 2)


def _largest_mark(dev: np.ndarray, level: float) -> int:
    """Pixels of the largest 8-connected set standing out by at least ``level``."""
    import cv2

    mask = (dev >= level).astype(np.uint8)
    if not mask.any():
        return 0
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return int(stats[1:, cv2.CC_STAT_AREA].max())


def _runs(active: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of the runs of True."""
    d = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _close(runs: list[tuple[int, int]], gap: float) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in runs:
        if out and a - out[-1][1] < gap:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def stroke_width(mask: np.ndarray) -> float:
    """About the pen's width in pixels: four times the mean distance of ink pixels to the background."""
    import cv2

    dist = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 3)
    return max(1.0, 4.0 * float(dist[dist > 0].mean()))


def line_shape(rgb: np.ndarray, ink: bool | None = None) -> LineShape:
    """What the image looks like. ``ink``: whether it holds a mark (:func:`has_ink`), where the
    caller knows; None: judged here. (``hwocr read`` passes True and, once the reader has said which
    images it found blank, takes :meth:`LineShape.seen` of its answer: the check is not run twice.)"""
    h, w = rgb.shape[:2]
    grey = _work_grey(rgb)
    mask = _ink_mask(grey)
    # (the reader reads no mark as nothing: lineshape.has_ink)
    if mask is None or not (_grey_has_ink(grey) if ink is None else ink):
        return LineShape("blank")
    if min(h, w) >= PAGE_SIDE:
        return LineShape("page")
    ys, xs = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    mask = mask[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1]
    ih, iw = mask.shape
    sw = stroke_width(mask)
    rows = _close(_runs(mask.sum(axis=1) >= max(1, 0.01 * iw)), sw / 2)
    bands = sum(_is_text_band(mask[a:b], sw) for a, b in rows)
    if bands >= 2:
        return LineShape("multiline", bands=bands)
    if ih >= 2 * iw and h >= 2 * w:
        groups = sum(b - a >= 0.4 * iw for a, b in rows)
        # (or too tall for any one character: the characters of a column may touch)
        if groups >= 3 or groups == 2 and h >= 3 * w or ih >= 4 * iw and h >= 4 * w:
            return LineShape("vertical", groups=groups)
    return LineShape("line", bands=bands)


def _is_text_band(band: np.ndarray, sw: float) -> bool:
    """A row band that looks like a line of characters (not one stroke, not one character's part):
    several strokes tall, and either wide or made of three or more separate groups of columns."""
    bh, bw = band.shape
    if bh < 2.5 * sw:
        return False
    cols = _close(_runs(band.any(axis=0)), sw)
    span = cols[-1][1] - cols[0][0] if cols else 0
    return span >= 2.5 * bh or len(cols) >= 3
