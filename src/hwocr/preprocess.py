"""Line image -> model input windows.

A line gets its quiet zone (background left and right, if the model wants one) and is scaled to
the model's input height keeping its aspect ratio. If it then fits the
model's width it becomes one window, padded as the model expects; if not, it is cut into
overlapping windows (never cropped, never crashes) that the reader merges by position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .registry import InputSpec

#: overlap between neighbouring windows of a split line, as a fraction of the window width
OVERLAP = 0.2

_INTERP = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR}


@dataclass(frozen=True)
class Window:
    tensor: np.ndarray  # C x H x W float32, ready for the model
    offset: int  # where this window starts in the scaled line (pixels)
    valid: int  # how many columns of the window hold the line (the rest is padding)
    own: tuple[float, float]  # the part of the scaled line this window is trusted for
    scale: float  # scaled width / original width
    line_width: int  # scaled line width
    origin: float = 0.0  # where the original line starts in the scaled line (after the quiet zone)

    def to_line_x(self, x: float) -> float:
        """A position in the scaled line -> the same position in the original image (clamped to it)."""
        w = (self.line_width - 2 * self.origin) / self.scale
        return min(max((x - self.origin) / self.scale, 0.0), w)


def scaled_width(w: int, h: int, spec: InputSpec, squeeze: float = 1.0) -> int:
    r = spec.height * w * squeeze / h
    return max(1, math.ceil(r) if spec.round_up else int(r))


def border_colour(img: np.ndarray) -> np.ndarray:
    """The median colour (or grey level) of an image's outermost rows and columns: its background."""
    return np.median(np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]), axis=0).astype(img.dtype)


def pad_background(img: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """``img`` with that many rows / columns of its background (:func:`border_colour`) added."""
    h, w = img.shape[:2]
    out = np.empty((h + top + bottom, w + left + right, *img.shape[2:]), dtype=img.dtype)
    out[:] = border_colour(img)
    out[top : top + h, left : left + w] = img
    return out


def add_side_margin(rgb: np.ndarray, fraction: float) -> tuple[np.ndarray, int]:
    """``rgb`` with ``fraction`` x its height of background added on the left and right, and the
    width added on each side. The background is the median colour of the image's border pixels."""
    m = int(round(fraction * rgb.shape[0]))
    if m <= 0:
        return rgb, 0
    return pad_background(rgb, 0, 0, m, m), m


def to_model_image(rgb: np.ndarray, spec: InputSpec, squeeze: float = 1.0) -> tuple[np.ndarray, float]:
    """Scale an RGB line to the input height (and its width by ``squeeze`` more): float32 H x W x C
    (C = spec.channels), and the x scale."""
    h, w = rgb.shape[:2]
    if spec.channels == 1:
        img = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    else:
        img = rgb[:, :, ::-1] if spec.bgr else rgb
    tw = scaled_width(w, h, spec, squeeze)
    out = condition(cv2.resize(img, (tw, spec.height), interpolation=_INTERP[spec.interpolation]), spec)
    if out.ndim == 2:
        out = out[:, :, None]
    out = out.astype(np.float32)
    if spec.mean or spec.scale != 1.0:
        out = (out - spec.mean) * spec.scale
    return out, tw / w


def condition(img: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The scaled 8-bit line with thin strokes thickened (``spec.stroke_width``) and smoothed (``spec.blur``)."""
    if spec.stroke_width > 0:
        img = thicken(img, spec.stroke_width)
    if spec.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), spec.blur)
    return img


def stroke_width(ink: np.ndarray) -> float:
    """Median stroke width (pixels) of a boolean ink mask: per ink pixel the shorter of its horizontal
    and vertical ink runs. 0 without ink."""
    if not ink.any():
        return 0.0
    runs = np.minimum(_run_lengths(ink), _run_lengths(ink.T).T)
    return float(np.median(runs[ink]))


def _run_lengths(ink: np.ndarray) -> np.ndarray:
    """Length of the horizontal ink run each pixel lies in (0 off the ink)."""
    h, w = ink.shape
    flat = np.pad(ink, ((0, 0), (1, 1))).ravel()
    d = np.diff(flat.astype(np.int8))
    lens = np.flatnonzero(d == -1) - np.flatnonzero(d == 1)
    out = np.zeros(flat.size, np.int32)
    out[flat] = np.repeat(lens, lens)
    return out.reshape(h, w + 2)[:, 1:-1]


def ink_mask(gray: np.ndarray) -> np.ndarray:
    """Ink pixels by Otsu's threshold, ink being the side the border (the background) is not on."""
    t, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return binary == 0 if np.median(border) > t else binary > 0


def thicken(img: np.ndarray, target: float) -> np.ndarray:
    """Grow the ink of a line whose strokes are thinner than ``target`` pixels by the difference."""
    gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    ink = ink_mask(gray)
    if not 0 < ink.mean() < 0.5:
        return img  # blank, or no clear ink / background
    grow = int(round(target - stroke_width(ink)))
    if grow <= 0:
        return img
    kernel = np.ones((grow + 1, grow + 1), np.uint8)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    dark_ink = np.median(border) > gray[ink].mean()
    return cv2.erode(img, kernel) if dark_ink else cv2.dilate(img, kernel)


def window_width(spec: InputSpec) -> int:
    return spec.fixed_width or spec.max_width


def padded_width(valid: int, spec: InputSpec) -> int:
    if spec.fixed_width:
        return spec.fixed_width
    m = max(1, spec.width_multiple)
    return max(m, spec.min_width, -(-valid // m) * m)


def bucket_width(width: int, spec: InputSpec) -> int:
    """``width`` rounded up to the spec's first width bucket that holds it (itself without buckets)."""
    return next((b for b in spec.width_buckets if b >= width), width)


def _fill(img: np.ndarray, extra: int, how: str, background: np.ndarray | None) -> np.ndarray:
    if how == "edge":
        return np.repeat(img[:, -1:], extra, axis=1)
    if how == "background" and background is not None:
        return np.broadcast_to(background, (img.shape[0], extra, img.shape[2]))
    return np.zeros((img.shape[0], extra, img.shape[2]), dtype=img.dtype)


def _pad(img: np.ndarray, width: int, spec: InputSpec, bucket: int = 0,
         background: np.ndarray | None = None) -> np.ndarray:
    """C x H x W tensor: ``img`` padded to ``width`` as the model expects, then to ``bucket``."""
    parts = [img]
    if width > img.shape[1]:
        parts.append(_fill(img, width - img.shape[1], spec.pad, background))
    if bucket > width:
        parts.append(_fill(img, bucket - width, spec.bucket_pad, background))
    out = np.concatenate(parts, axis=1) if len(parts) > 1 else img
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def split_offsets(total: int, win: int, overlap: float = OVERLAP) -> list[int]:
    """Start offsets of windows of width ``win`` covering ``total`` columns with at least
    ``overlap * win`` columns shared between neighbours."""
    if total <= win:
        return [0]
    step = win - int(win * overlap)
    n = math.ceil((total - win) / step) + 1
    return [round(i * (total - win) / (n - 1)) for i in range(n)]


def add_head_room(rgb: np.ndarray, spec: InputSpec) -> np.ndarray:
    """A character crop (at most ``spec.char_aspect`` wide per height) whose ink fills more than
    ``spec.char_fill`` of its height, with background (the border's median colour) added above and
    below until the ink fills that share; any other image as it is."""
    h, w = rgb.shape[:2]
    if spec.char_fill >= 1 or w > spec.char_aspect * h:
        return rgb
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    if h > 2 * _ROOM_PROBE:  # measure on a small copy: the work stays bounded for a huge crop
        gray = cv2.resize(gray, (max(1, round(w * _ROOM_PROBE / h)), _ROOM_PROBE), interpolation=cv2.INTER_AREA)
    ink = ink_mask(gray)
    if not 0 < ink.mean() < 0.5:
        return rgb  # blank, or no clear ink / background
    rows = np.flatnonzero(ink.any(axis=1))
    need = math.ceil((rows[-1] - rows[0] + 1) * h / gray.shape[0] / spec.char_fill) - h
    if need <= 0:
        return rgb
    return pad_background(rgb, need // 2, need - need // 2, 0, 0)


#: height at which add_head_room measures the ink of a taller crop
_ROOM_PROBE = 96


#: an isolated character's views are built from a copy at most this many times the model's height
VIEW_HEIGHTS = 4


def char_views(rgb: np.ndarray, spec: InputSpec) -> list[np.ndarray]:
    """The extra views of an isolated character (a crop at most ``spec.char_aspect`` x as wide as it
    is tall): for each ``spec.char_views`` fraction, the crop with that share of its height of
    background (the border's median colour) added all round. Any other image: none. A crop taller than
    ``VIEW_HEIGHTS`` x the model's height is first scaled down to it (the model reads it at its own
    height anyway), so a view never costs more memory than a small image."""
    h, w = rgb.shape[:2]
    if not spec.char_views or w > spec.char_aspect * h:
        return []
    if h > VIEW_HEIGHTS * spec.height:
        h, w = VIEW_HEIGHTS * spec.height, max(1, round(w * VIEW_HEIGHTS * spec.height / h))
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    return [pad_background(rgb, m, m, m, m) for m in (max(1, round(f * h)) for f in spec.char_views)]


def make_windows(rgb: np.ndarray, spec: InputSpec) -> list[Window]:
    h, w = rgb.shape[:2]
    squeeze = spec.line_squeeze if w > spec.squeeze_above * h else 1.0
    rgb = add_head_room(rgb, spec)
    rgb, margin = add_side_margin(rgb, spec.side_margin)
    img, scale = to_model_image(rgb, spec, squeeze)
    # the quiet zone's colour in model units (its outermost column is untouched by the ink)
    background = np.median(img[:, :1], axis=0, keepdims=True) if margin else None
    total = img.shape[1]
    win = window_width(spec)
    offs = split_offsets(total, win)
    out = []
    for i, off in enumerate(offs):
        part = img[:, off : off + win]
        valid = part.shape[1]
        lo = 0.0 if i == 0 else (off + offs[i - 1] + win) / 2  # middle of the overlap with the left window
        hi = float(total) if i == len(offs) - 1 else (offs[i + 1] + off + win) / 2
        width = padded_width(valid, spec)
        bucket = bucket_width(width, spec)
        out.append(Window(_pad(part, width, spec, bucket, background), off, valid, (lo, hi), scale, total,
                          margin * scale))
    return out


def count_windows(w: int, h: int, spec: InputSpec) -> int:
    """How many windows :func:`make_windows` cuts a ``w`` x ``h`` line into, from its size alone (no
    pixels scaled): what reading the line costs, for refusing inputs that cost too much."""
    squeeze = spec.line_squeeze if w > spec.squeeze_above * h else 1.0
    m = max(0, int(round(spec.side_margin * h)))
    return len(split_offsets(scaled_width(w + 2 * m, h, spec, squeeze), window_width(spec)))
