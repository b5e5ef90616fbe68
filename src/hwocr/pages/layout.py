"""Page layout: detected pieces -> text lines (horizontal rows or vertical columns) in reading order,
and the geometry to cut a line out of the page upright (deskewed) for the line recogniser.

Reading order: horizontal text top to bottom, left to right within a row; vertical text
(tategaki) in columns right to left, top to bottom within a column. ``direction="auto"``
decides per block (a group of neighbouring pieces) from the shapes of its pieces and, where
they are square-ish, from how they line up; a block that stays undecided is marked ambiguous and
the page reader recognises its lines both ways.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .detect import TextBox, order_quad, rect_angle
from ..errors import HwocrError

DIRECTIONS = ("auto", "horizontal", "vertical")

#: a piece whose long side is at least this many times its short side has a clear direction
ASPECT = 1.4


@dataclass(frozen=True)
class LineGeom:
    quad: np.ndarray  # 4 x 2, clockwise from top-left, page pixels
    direction: str  # "horizontal" or "vertical"
    score: float  # mean detector score of the pieces
    block: int
    ambiguous: bool = False  # direction not decided by the layout; read both ways
    parts: int = 1


@dataclass
class _Piece:
    pts: np.ndarray  # 4 x 2 in page pixels
    score: float
    x0: float
    y0: float
    x1: float
    y1: float  # box in deskewed coordinates
    kind: str  # "h", "v" or "a"

    @property
    def w(self) -> float:
        return self.x1 - self.x0

    @property
    def h(self) -> float:
        return self.y1 - self.y0


class _DSU:
    def __init__(self, n: int) -> None:
        self.p = list(range(n))

    def find(self, i: int) -> int:
        while self.p[i] != i:
            self.p[i] = self.p[self.p[i]]
            i = self.p[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        g: dict[int, list[int]] = {}
        for i in range(len(self.p)):
            g.setdefault(self.find(i), []).append(i)
        return list(g.values())


def _rot(pts: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(-angle), math.sin(-angle)
    return pts @ np.array([[c, s], [-s, c]])


def page_skew(boxes: list[TextBox]) -> float:
    """Median angle (radians) of the pieces' near-horizontal edges, weighted toward long pieces."""
    if not boxes:
        return 0.0
    angs = []
    for b in boxes:
        p = b.points
        w, h = cv2.minAreaRect(p)[1]
        if max(w, h) >= ASPECT * max(1.0, min(w, h)):
            angs.append(rect_angle(p))
    return float(np.median(angs)) if angs else 0.0


def _pieces(boxes: list[TextBox], skew: float) -> list[_Piece]:
    out = []
    for b in boxes:
        p = b.points.astype(np.float64)
        r = _rot(p, skew)
        x0, y0 = r.min(axis=0)
        x1, y1 = r.max(axis=0)
        w, h = x1 - x0, y1 - y0
        kind = "h" if w >= ASPECT * h else "v" if h >= ASPECT * w else "a"
        out.append(_Piece(p, b.score, x0, y0, x1, y1, kind))
    return out


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _same_line(a: _Piece, b: _Piece, vertical: bool, gap: float) -> bool:
    """Pieces that continue each other along the reading direction."""
    if vertical:
        a = _Piece(a.pts, a.score, a.y0, a.x0, a.y1, a.x1, a.kind)
        b = _Piece(b.pts, b.score, b.y0, b.x0, b.y1, b.x1, b.kind)
    # now "horizontal": thickness is h
    ta, tb = a.h, b.h
    if _overlap(a.y0, a.y1, b.y0, b.y1) < 0.5 * min(ta, tb):
        return False
    if max(ta, tb) > 2.5 * max(1.0, min(ta, tb)):
        return False
    d = max(a.x0, b.x0) - min(a.x1, b.x1)  # negative when they overlap
    return d <= gap * max(ta, tb)


def _blocks(ps: list[_Piece]) -> list[list[int]]:
    d = _DSU(len(ps))
    for i, a in enumerate(ps):
        ea = 1.25 * min(a.w, a.h)
        for j in range(i + 1, len(ps)):
            b = ps[j]
            eb = 1.25 * min(b.w, b.h)
            e = max(ea, eb)
            if (_overlap(a.x0 - e, a.x1 + e, b.x0, b.x1) > 0) and (_overlap(a.y0 - e, a.y1 + e, b.y0, b.y1) > 0):
                d.union(i, j)
    return d.groups()


def block_direction(ps: list[_Piece], idx: list[int]) -> str | None:
    """"horizontal", "vertical" or None (undecided) for the pieces ``idx``."""
    vh = sum(math.log(ps[i].w / max(1.0, ps[i].h)) for i in idx if ps[i].kind == "h")
    vv = sum(math.log(ps[i].h / max(1.0, ps[i].w)) for i in idx if ps[i].kind == "v")
    if vh > 1.5 * vv and vh > 0:
        return "horizontal"
    if vv > 1.5 * vh and vv > 0:
        return "vertical"
    # square-ish pieces: how do they line up?
    nh = nv = 0
    for k, i in enumerate(idx):
        for j in idx[k + 1 :]:
            nh += _same_line(ps[i], ps[j], False, 0.8)
            nv += _same_line(ps[i], ps[j], True, 0.8)
    if nh > nv:
        return "horizontal"
    if nv > nh:
        return "vertical"
    return None


def _merge(ps: list[_Piece], idx: list[int], vertical: bool, gap: float = 1.2) -> list[list[int]]:
    d = _DSU(len(idx))
    for a in range(len(idx)):
        for b in range(a + 1, len(idx)):
            if _same_line(ps[idx[a]], ps[idx[b]], vertical, gap):
                d.union(a, b)
    return [[idx[k] for k in g] for g in d.groups()]


def _order(items: list[tuple[float, float, float, float]], vertical: bool) -> list[int]:
    """Reading order of boxes (x0, y0, x1, y1): rows top-down then left-right (horizontal), or
    columns right-left then top-down (vertical). Boxes overlapping by half their thickness
    across the reading direction share a row/column."""
    if vertical:
        items = [(y0, -x1, y1, -x0) for x0, y0, x1, y1 in items]
    order = sorted(range(len(items)), key=lambda i: (items[i][1] + items[i][3]) / 2)
    rows: list[list[int]] = []
    span: list[tuple[float, float]] = []
    for i in order:
        _, y0, _, y1 = items[i]
        c = (y0 + y1) / 2
        for r, (a, b) in enumerate(span):
            if a <= c <= b and _overlap(a, b, y0, y1) >= 0.5 * min(b - a, y1 - y0):
                rows[r].append(i)
                span[r] = (min(a, y0), max(b, y1))
                break
        else:
            rows.append([i])
            span.append((y0, y1))
    ranked = sorted(range(len(rows)), key=lambda r: span[r][0])
    return [i for r in ranked for i in sorted(rows[r], key=lambda i: items[i][0])]


def build_lines(boxes: list[TextBox], direction: str = "auto") -> list[LineGeom]:
    """Merge detected pieces into lines and put the lines in reading order."""
    if direction not in DIRECTIONS:
        raise HwocrError(f"unknown direction {direction!r} (expected one of: {', '.join(DIRECTIONS)})")
    if not boxes:
        return []
    skew = page_skew(boxes)
    ps = _pieces(boxes, skew)
    blocks = _blocks(ps)
    decided = []
    for bi in blocks:
        d = direction if direction != "auto" else block_direction(ps, bi)
        decided.append(d)
    votes = [len(b) for b, d in zip(blocks, decided) if d == "vertical"]
    page_vertical = sum(votes) > sum(len(b) for b, d in zip(blocks, decided) if d == "horizontal")
    # blocks in reading order (by their extents), then lines inside each block
    extents = [(min(ps[i].x0 for i in b), min(ps[i].y0 for i in b), max(ps[i].x1 for i in b),
                max(ps[i].y1 for i in b)) for b in blocks]
    out: list[LineGeom] = []
    for bno, k in enumerate(_order(extents, page_vertical)):
        idx, d = blocks[k], decided[k]
        vertical = d == "vertical"
        groups = _merge(ps, idx, vertical)
        ext = [(min(ps[i].x0 for i in g), min(ps[i].y0 for i in g), max(ps[i].x1 for i in g),
                max(ps[i].y1 for i in g)) for g in groups]
        for gi in _order(ext, vertical):
            g = groups[gi]
            pts = np.concatenate([ps[i].pts for i in g]).astype(np.float32)
            quad = np.asarray(order_quad(cv2.boxPoints(cv2.minAreaRect(pts))), dtype=np.float32)
            score = float(np.mean([ps[i].score for i in g]))
            out.append(LineGeom(quad, "vertical" if vertical else "horizontal", score, bno, d is None, len(g)))
    return out


# ---------------------------------------------------------------------------------------------
# cutting lines out of the page
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Crop:
    image: np.ndarray  # RGB, upright for the recogniser (text runs left to right)
    inverse: np.ndarray  # 2 x 3: crop (deskewed, before any 90-degree turn) -> page
    size: tuple[int, int]  # (w, h) of the deskewed crop
    turn: str  # "", "ccw" or "cw"
    #: reflowed columns (see :func:`reflow_column`): per character cell (row0, row1, x0, x1): its rows
    #: in the upright column crop and its slot along the x axis of ``image``; empty for plain crops
    cells: tuple[tuple[float, float, float, float], ...] = ()


def ink_bounds(img: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of the ink (dark pixels, Otsu) in an RGB crop, ignoring specks."""
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    t, _ = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if float(g.max()) - float(g.min()) < 40:  # flat: no ink to speak of
        return None
    mask = cv2.medianBlur((g < t).astype(np.uint8) * 255, 3)
    ys, xs = np.nonzero(mask)
    if len(xs) < 4:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def crop_line(rgb: np.ndarray, quad: np.ndarray, vertical: bool, turn: str = "ccw", margin: float = 0.06,
              tight: bool = True, pad: float = 0.04) -> Crop:
    """Cut the rotated rectangle ``quad`` out of the page, deskewed, with a margin of ``margin`` x
    its thickness on every side; with ``tight``, the crop is then shrunk to the ink inside it plus
    ``pad`` x thickness (+ 2 px): the recogniser reads tightly cropped lines best. Vertical lines are
    then turned 90 degrees (``ccw``: top of the column to the left, ``cw``: top to the right)."""
    q = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    ang = rect_angle(q)
    c = q.mean(axis=0)
    r = _rot(q - c, ang)
    w = float(r[:, 0].max() - r[:, 0].min())
    h = float(r[:, 1].max() - r[:, 1].min())
    thick = w if vertical else h
    m = margin * thick + 2
    W, H = max(4, int(round(w + 2 * m))), max(4, int(round(h + 2 * m)))
    M = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), math.degrees(ang), 1.0)
    M[:, 2] += (W / 2 - c[0], H / 2 - c[1])
    img = cv2.warpAffine(rgb, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if tight:
        b = ink_bounds(img)
        if b is not None:
            p = int(round(pad * thick)) + 2
            x0, y0 = max(0, b[0] - p), max(0, b[1] - p)
            x1, y1 = min(W, b[2] + p), min(H, b[3] + p)
            if x1 - x0 >= 4 and y1 - y0 >= 4:
                M[:, 2] -= (x0, y0)
                W, H = x1 - x0, y1 - y0
                img = np.ascontiguousarray(img[y0:y1, x0:x1])
    inv = cv2.invertAffineTransform(M)
    t = ""
    if vertical:
        t = turn
        img = np.ascontiguousarray(np.rot90(img, 1 if turn == "ccw" else -1))
    return Crop(img, inv, (W, H), t)


def span_to_quad(crop: Crop, x0: float, x1: float) -> np.ndarray:
    """A character's span along the recogniser's x axis -> its quadrilateral on the page."""
    W, H = crop.size
    if crop.cells:  # reflowed column: line x -> rows of the column, linearly inside each cell's slot
        x0, x1 = _reflow_row(crop.cells, x0), _reflow_row(crop.cells, x1)
        pts = [(0, x0), (W, x0), (W, x1), (0, x1)]
    elif crop.turn == "ccw":  # recogniser x = crop row
        pts = [(0, x0), (W, x0), (W, x1), (0, x1)]
    elif crop.turn == "cw":  # recogniser x = H - crop row
        pts = [(0, H - x1), (W, H - x1), (W, H - x0), (0, H - x0)]
    else:
        pts = [(x0, 0), (x1, 0), (x1, H), (x0, H)]
    p = np.asarray(pts, dtype=np.float64)
    return p @ crop.inverse[:, :2].T + crop.inverse[:, 2]


# ---------------------------------------------------------------------------------------------
# reflowing vertical columns: character cells laid out side by side
# ---------------------------------------------------------------------------------------------

#: reflow: cells shorter than this x the column's ink width are merged with a neighbour, longer
#: than ``REFLOW_SPLIT`` x are split at their weakest row (CJK characters are roughly square)
REFLOW_MERGE = 0.4
REFLOW_SPLIT = 1.6
#: ... and two neighbours each shorter than ``REFLOW_HALF`` x are merged when together they span
#: at most ``REFLOW_PAIR`` x
REFLOW_HALF = 0.7
REFLOW_PAIR = 1.25
#: space between reflowed cells (and at both ends), x the column width
REFLOW_GAP = 0.12


def _ink_mask(g: np.ndarray) -> np.ndarray:
    t, _ = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return cv2.medianBlur((g <= t).astype(np.uint8) * 255, 3) > 0


def column_cells(upright: np.ndarray) -> tuple[list[tuple[int, int]], float]:
    """Character cells of an upright (top-down) column image: (row0, row1) of each, top to bottom,
    from the ink's row profile, and the column's ink width (the nominal character size)."""
    g = cv2.cvtColor(upright, cv2.COLOR_RGB2GRAY) if upright.ndim == 3 else upright
    if float(g.max()) - float(g.min()) < 40:
        return [], 0.0
    mask = _ink_mask(g)
    cols = np.nonzero(mask.sum(axis=0) > 0)[0]
    if len(cols) == 0:
        return [], 0.0
    ref = float(max(4, cols.max() - cols.min() + 1))
    prof = mask.sum(axis=1).astype(np.float64)
    inked = prof > max(0.0, 0.01 * ref)
    runs: list[list[int]] = []
    for y in np.nonzero(inked)[0]:
        if runs and y == runs[-1][1]:
            runs[-1][1] = y + 1
        else:
            runs.append([int(y), int(y) + 1])
    # merge pieces much shorter than a character with the neighbour that gives the shorter cell
    while len(runs) > 1:
        sizes = [b - a for a, b in runs]
        k = int(np.argmin(sizes))
        if sizes[k] >= REFLOW_MERGE * ref:
            break
        up = runs[k][1] - runs[k - 1][0] if k > 0 else math.inf
        down = runs[k + 1][1] - runs[k][0] if k + 1 < len(runs) else math.inf
        j = k - 1 if up <= down else k + 1
        a, b = min(k, j), max(k, j)
        runs[a:b + 1] = [[runs[a][0], runs[b][1]]]
    # two neighbours both well short of a character that together make about one: halves of one
    # character (a radical above its body), not two small characters next to full-size ones
    k = 0
    while k + 1 < len(runs):
        a, b = runs[k], runs[k + 1]
        if (max(a[1] - a[0], b[1] - b[0]) < REFLOW_HALF * ref and b[1] - a[0] <= REFLOW_PAIR * ref):
            runs[k:k + 2] = [[a[0], b[1]]]
        else:
            k += 1
    # split cells much longer than a character at their weakest row
    sm = np.convolve(prof, np.ones(3) / 3, mode="same")
    out: list[tuple[int, int]] = []
    todo = [tuple(r) for r in runs]
    while todo:
        a, b = todo.pop(0)
        if b - a <= REFLOW_SPLIT * ref:
            out.append((a, b))
            continue
        n = max(2, int(round((b - a) / ref)))
        lo, hi = a + int(0.5 * (b - a) / n), b - int(0.5 * (b - a) / n)
        # the weakest row, preferring the middle of the cell on ties / near-ties
        seg = sm[lo:hi] + 1e-3 * np.abs(np.arange(lo, hi) - (a + b) / 2)
        c = lo + int(np.argmin(seg)) if hi > lo else (a + b) // 2
        todo[:0] = [(a, c), (c, b)]
    return out, ref


def reflow_column(crop: Crop, gap: float = REFLOW_GAP) -> Crop | None:
    """A vertical column's crop (from :func:`crop_line`, turned ``ccw`` or ``cw``) reflowed: its
    character cells cut out and laid upright left to right in one line image, each centred in a
    box as wide as the column, with ``gap`` x width between them. ``None`` when no ink is found."""
    if crop.turn not in ("ccw", "cw") or crop.cells:
        return None
    col = np.ascontiguousarray(np.rot90(crop.image, -1 if crop.turn == "ccw" else 1))
    cells, ref = column_cells(col)
    if not cells:
        return None
    H, W = col.shape[:2]
    g = cv2.cvtColor(col, cv2.COLOR_RGB2GRAY)
    bg_mask = ~_ink_mask(g)
    bg = np.median(col[bg_mask], axis=0) if bg_mask.any() else np.array([255, 255, 255])
    lh = max(W, max(b - a for a, b in cells))
    sp = max(2, int(round(gap * W)))
    width = len(cells) * W + (len(cells) + 1) * sp
    img = np.empty((lh, width, 3), np.uint8)
    img[:] = bg.astype(np.uint8)
    slots = []
    x = sp
    for a, b in cells:
        y = (lh - (b - a)) // 2
        img[y:y + b - a, x:x + W] = col[a:b]
        slots.append((float(a), float(b), float(x - sp / 2), float(x + W + sp / 2)))
        x += W + sp
    return Crop(img, crop.inverse, crop.size, "ccw", tuple(slots))


def _reflow_row(cells, x: float) -> float:
    """Line x of a reflowed column -> row of the upright column (linear inside each cell's slot)."""
    for k, (a, b, s0, s1) in enumerate(cells):
        if x < s1 or k == len(cells) - 1:
            t = min(1.0, max(0.0, (x - s0) / max(1e-6, s1 - s0)))
            return a + t * (b - a)
    return 0.0


def reflow_quads(crop: Crop, spans: list[tuple[float, float]]) -> list[np.ndarray]:
    """Page quadrilaterals of characters read from a reflowed column (``spans``: their x0, x1 on the
    line, in reading order): each character gets the cell its centre falls in (cells holding more
    than one character are shared out top to bottom); plain crops go through :func:`span_to_quad`."""
    if not crop.cells:
        return [span_to_quad(crop, x0, x1) for x0, x1 in spans]
    owner = []
    for x0, x1 in spans:
        c = (x0 + x1) / 2
        owner.append(next((k for k, cell in enumerate(crop.cells) if c < cell[3]), len(crop.cells) - 1))
    W = crop.size[0]
    out = []
    for i, k in enumerate(owner):
        same = [j for j, o in enumerate(owner) if o == k]
        n, r = len(same), same.index(i)
        a, b = crop.cells[k][:2]
        y0, y1 = a + (b - a) * r / n, a + (b - a) * (r + 1) / n
        p = np.asarray([(0, y0), (W, y0), (W, y1), (0, y1)], dtype=np.float64)
        out.append(p @ crop.inverse[:, :2].T + crop.inverse[:, 2])
    return out
