"""Text detection on whole pages: page image -> text boxes (quadrilaterals in page pixels).

Two detectors:

* ``ppocr`` (default): PP-OCRv6 small DB detector shipped in the rapidocr wheel, run on OpenVINO,
  with our own DB post-processing (binarise the probability map, contours, score, unclip with
  pyclipper, minimum-area rectangle).
* ``omz``: Intel Open Model Zoo ``horizontal-text-detection-0001`` (axis-aligned boxes, horizontal
  text only), downloaded and verified on first use like the OMZ recognisers; or a path to its IR.

Both return :class:`TextBox` pieces; :mod:`hwocr.layout` merges them into lines.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelError

DETECTORS = ("ppocr", "omz")

#: the DB detector's input sides (pages are padded up to one of them; the last is the default max_side)
DETECTOR_SIDES = (320, 640, 960, 1280, 1600)

Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class TextBox:
    """A detected text region: four corners (page pixels, clockwise from top-left) and a score."""

    quad: Quad
    score: float

    @property
    def points(self) -> np.ndarray:
        return np.asarray(self.quad, dtype=np.float32)


def order_quad(pts: np.ndarray) -> Quad:
    """Four points -> clockwise from the top-left one (image coordinates, y down)."""
    pts = np.asarray(pts, dtype=np.float64).reshape(4, 2)
    c = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0])
    pts = pts[np.argsort(ang)]  # clockwise on screen (y down), starting near -pi (left)
    start = int(np.argmin(pts[:, 0] + pts[:, 1]))
    pts = np.roll(pts, -start, axis=0)
    return tuple((float(x), float(y)) for x, y in pts)  # type: ignore[return-value]


class Detector:
    name = "detector"

    def detect(self, rgb: np.ndarray) -> list[TextBox]:  # pragma: no cover - interface
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------
# PP-OCR DB detector
# ---------------------------------------------------------------------------------------------


class DBDetector(Detector):
    """PP-OCRv6 small DB detector with our own post-processing.

    Args:
        max_side: the page is scaled so that its longer side is at most this (multiple of 32).
        sides: the scaled page is padded (right and bottom, with its border colour) up to one of these
            sizes per side (the last must be ``max_side``), so that only a few input shapes are ever
            compiled: OpenVINO keeps kernels and buffers per shape, and pages come in every size.
        thresh: probability threshold for the text bitmap.
        box_thresh: minimum mean probability inside a region to keep it.
        unclip_ratio: how far a shrunk text kernel is grown back (DB's ``D = A * r / L``).
    """

    name = "PP-OCRv6_det_small"

    def __init__(self, device: str = "CPU", *, max_side: int = 1600, min_side: int = 64, thresh: float = 0.3,
                 box_thresh: float = 0.5, unclip_ratio: float = 1.6, min_size: float = 4.0,
                 max_candidates: int = 1000, sides: tuple[int, ...] = DETECTOR_SIDES,
                 precision: str | None = "f32") -> None:
        from ..engines.runtime import OVSession
        from ..registry import PPOCR_DET
        from ..store import packaged_path

        self.session = OVSession(packaged_path(PPOCR_DET), device, precision=precision)
        self.sides = tuple(s for s in sides if s < max_side) + (max_side,)
        self.max_side = max_side
        self.min_side = min_side
        self.thresh = thresh
        self.box_thresh = box_thresh
        self.unclip_ratio = unclip_ratio
        self.min_size = min_size
        self.max_candidates = max_candidates

    def _input(self, rgb: np.ndarray) -> tuple[np.ndarray, float, float]:
        """1 x 3 x H x W input (H, W from ``sides``; the page in its top-left corner) and the x, y scale."""
        h, w = rgb.shape[:2]
        r = min(1.0, self.max_side / max(h, w))
        th = min(self.max_side, max(32, int(round(h * r / 32)) * 32))
        tw = min(self.max_side, max(32, int(round(w * r / 32)) * 32))
        bgr = cv2.resize(rgb[:, :, ::-1], (tw, th), interpolation=cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR)
        ph, pw = (next(s for s in self.sides if s >= v) for v in (th, tw))
        border = np.concatenate([bgr[0], bgr[-1], bgr[:, 0], bgr[:, -1]])
        canvas = np.empty((ph, pw, 3), np.uint8)
        canvas[:] = np.median(border, axis=0).astype(np.uint8)
        canvas[:th, :tw] = bgr
        x = (canvas.astype(np.float32) / 255.0 - 0.5) / 0.5
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None]), tw / w, th / h

    def probability_map(self, rgb: np.ndarray) -> tuple[np.ndarray, float, float]:
        """The text probability map of the scaled page (the padding cut off) and the x, y scale."""
        x, sx, sy = self._input(rgb)
        out = self.session(x)
        h, w = rgb.shape[:2]
        return out[0, 0, : round(h * sy), : round(w * sx)], sx, sy

    def detect(self, rgb: np.ndarray) -> list[TextBox]:
        prob, sx, sy = self.probability_map(rgb)
        boxes = db_boxes(prob, self.thresh, self.box_thresh, self.unclip_ratio, self.min_size, self.max_candidates)
        h, w = rgb.shape[:2]
        out = []
        for quad, score in boxes:
            q = quad / np.array([sx, sy], dtype=np.float32)
            q[:, 0] = q[:, 0].clip(0, w - 1)
            q[:, 1] = q[:, 1].clip(0, h - 1)
            out.append(TextBox(order_quad(q), score))
        return out


def unclip(points: np.ndarray, ratio: float) -> np.ndarray | None:
    """Grow a polygon outward by ``area * ratio / perimeter`` (the DB paper's unclip)."""
    import pyclipper

    poly = points.reshape(-1, 2).astype(np.float64)
    area = abs(cv2.contourArea(poly.astype(np.float32)))
    length = cv2.arcLength(poly.astype(np.float32), True)
    if length <= 0:
        return None
    dist = area * ratio / length
    off = pyclipper.PyclipperOffset()
    off.AddPath([tuple(map(int, p)) for p in np.round(poly)], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    res = off.Execute(dist)
    if not res:
        return None
    best = max(res, key=lambda r: abs(cv2.contourArea(np.asarray(r, dtype=np.float32))))
    return np.asarray(best, dtype=np.float32)


def region_score(prob: np.ndarray, contour: np.ndarray) -> float:
    """Mean probability inside a polygon (evaluated on its bounding box only)."""
    h, w = prob.shape
    c = contour.reshape(-1, 2)
    x0 = int(np.clip(np.floor(c[:, 0].min()), 0, w - 1))
    x1 = int(np.clip(np.ceil(c[:, 0].max()), 0, w - 1))
    y0 = int(np.clip(np.floor(c[:, 1].min()), 0, h - 1))
    y1 = int(np.clip(np.ceil(c[:, 1].max()), 0, h - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(c - [x0, y0]).astype(np.int32)], 1)
    if not mask.any():
        return 0.0
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


def db_boxes(prob: np.ndarray, thresh: float = 0.3, box_thresh: float = 0.5, unclip_ratio: float = 1.6,
             min_size: float = 4.0, max_candidates: int = 1000) -> list[tuple[np.ndarray, float]]:
    """DB post-processing of one probability map: [(4 x 2 rotated box in map pixels, score)]."""
    bitmap = (prob > thresh).astype(np.uint8)
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    if len(contours) > max_candidates:  # the largest are kept, not the first found (the top of a page
        # with thousands of specks below its text lost every line)
        contours = sorted(contours, key=cv2.contourArea, reverse=True)[:max_candidates]
    h, w = prob.shape
    out = []
    for cnt in contours:
        if len(cnt) < 3:
            continue
        rect = cv2.minAreaRect(cnt)
        if min(rect[1]) < min_size / 2:
            continue
        score = region_score(prob, cnt.astype(np.float32))
        if score < box_thresh:
            continue
        grown = unclip(cnt.reshape(-1, 2), unclip_ratio)
        if grown is None or len(grown) < 3:
            continue
        rect = cv2.minAreaRect(grown)
        if min(rect[1]) < min_size + 2:
            continue
        box = cv2.boxPoints(rect)
        box[:, 0] = box[:, 0].clip(0, w - 1)
        box[:, 1] = box[:, 1].clip(0, h - 1)
        out.append((box.astype(np.float32), score))
    return out


# ---------------------------------------------------------------------------------------------
# OMZ horizontal-text-detection-0001
# ---------------------------------------------------------------------------------------------


class OMZHorizontalDetector(Detector):
    """Intel OMZ ``horizontal-text-detection-0001``: BGR [1,3,704,704] (no normalisation) ->
    ``boxes`` [N,5] (x1, y1, x2, y2, score in input pixels), run on square tiles of the page."""

    name = "horizontal-text-detection-0001"

    def __init__(self, xml: str | Path, device: str = "CPU", score_thresh: float = 0.3, tile: int = 800) -> None:
        from ..engines.runtime import OVSession

        self.session = OVSession(xml, device)
        names = {n for o in self.session.compiled.outputs for n in o.get_names()}
        if "boxes" not in names:
            raise ModelError(f"{xml}: not a horizontal-text-detection model (no 'boxes' output)")
        shape = self.session.input_shape
        if shape.is_dynamic or len(shape) != 4:
            raise ModelError(f"{xml}: expected a static N x 3 x H x W input, got {shape}")
        self.h, self.w = shape[2].get_length(), shape[3].get_length()
        self.score_thresh = score_thresh
        self.tile = tile
        self._lock = threading.Lock()

    def _run(self, tile: np.ndarray) -> np.ndarray:
        """One square tile (RGB, any size) -> boxes [N, 5] in tile pixels."""
        th, tw = tile.shape[:2]
        x = cv2.resize(tile[:, :, ::-1], (self.w, self.h), interpolation=cv2.INTER_AREA)
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)
        with self._lock:
            res = self.session.compiled({0: x})
            boxes = np.array(res[self.session.compiled.output("boxes")], dtype=np.float32).reshape(-1, 5)
        boxes[:, [0, 2]] *= tw / self.w
        boxes[:, [1, 3]] *= th / self.h
        return boxes

    def detect(self, rgb: np.ndarray) -> list[TextBox]:
        """The page is cut into overlapping square tiles of ``tile`` px (padded with white; a small
        page is one tile), so handwriting keeps a usable size at the model's 704 x 704 input."""
        h, w = rgb.shape[:2]
        t = min(self.tile, max(h, w))
        step = max(1, int(t * 0.75))
        ys = list(range(0, max(1, h - t) + 1, step)) or [0]
        xs = list(range(0, max(1, w - t) + 1, step)) or [0]
        if ys[-1] + t < h:
            ys.append(h - t)
        if xs[-1] + t < w:
            xs.append(w - t)
        out = []
        for y in ys:
            for x in xs:
                tile = np.full((t, t, 3), 255, np.uint8)
                part = rgb[y : y + t, x : x + t]
                tile[: part.shape[0], : part.shape[1]] = part
                for x1, y1, x2, y2, s in self._run(tile):
                    if s < self.score_thresh or x2 - x1 < 2 or y2 - y1 < 2:
                        continue
                    x1, x2 = float(np.clip(x1 + x, 0, w - 1)), float(np.clip(x2 + x, 0, w - 1))
                    y1, y2 = float(np.clip(y1 + y, 0, h - 1)), float(np.clip(y2 + y, 0, h - 1))
                    if x2 - x1 >= 2 and y2 - y1 >= 2:
                        out.append(TextBox(((x1, y1), (x2, y1), (x2, y2), (x1, y2)), float(s)))
        return _nms(out, 0.5)


def _nms(boxes: list[TextBox], thr: float) -> list[TextBox]:
    """Drop boxes overlapping a higher-scoring one by IoU >= ``thr`` (axis-aligned boxes)."""
    keep: list[TextBox] = []
    for b in sorted(boxes, key=lambda b: -b.score):
        (ax0, ay0), _, (ax1, ay1), _ = b.quad
        ok = True
        for k in keep:
            (bx0, by0), _, (bx1, by1), _ = k.quad
            iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
            ih = max(0.0, min(ay1, by1) - max(ay0, by0))
            inter = iw * ih
            union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
            if union > 0 and inter / union >= thr:
                ok = False
                break
        if ok:
            keep.append(b)
    return keep


def load_detector(name: str = "ppocr", device: str = "CPU", *, store=None, **kw) -> Detector:
    """``ppocr`` (embedded), ``omz`` (downloaded, FP16-INT8) or a path to a horizontal-text-detection IR."""
    if name == "ppocr":
        return DBDetector(device, **kw)
    if name == "omz":
        from ..registry import DETECTION_MODELS, HTD
        from ..store import Store

        st = store or Store.from_env()
        xml, bin_ = DETECTION_MODELS[HTD].files["FP16-INT8"]
        st.ensure(bin_)
        return OMZHorizontalDetector(st.ensure(xml), device, **kw)
    p = Path(name)
    if p.suffix.lower() == ".xml":
        if not p.is_file():
            raise ModelError(f"{p}: no such detection model file")
        return OMZHorizontalDetector(p, device, **kw)
    raise ModelError(f"unknown detector {name!r}: use ppocr, omz, or a path to a horizontal-text-detection .xml")


def rect_angle(quad: np.ndarray) -> float:
    """Angle (radians, in (-pi/4, pi/4]) of the quad's edge closest to the x axis."""
    q = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    best = 0.0
    best_abs = math.inf
    for i in range(4):
        dx, dy = q[(i + 1) % 4] - q[i]
        if dx < 0:
            dx, dy = -dx, -dy
        a = math.atan2(dy, dx)
        if abs(a) < best_abs:
            best, best_abs = a, abs(a)
    return best
