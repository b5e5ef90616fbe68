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


def add_side_margin(rgb: np.ndarray, fraction: float) -> tuple[np.ndarray, int]:
    """``rgb`` with ``fraction`` x its height of background added on the left and right, and the
    width added on each side. The background is the median colour of the image's border pixels."""
    h, w = rgb.shape[:2]
    m = int(round(fraction * h))
    if m <= 0:
        return rgb, 0
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    out = np.empty((h, w + 2 * m, rgb.shape[2]), dtype=rgb.dtype)
    out[:] = np.median(border, axis=0).astype(rgb.dtype)
    out[:, m : m + w] = rgb
    return out, m


def to_model_image(rgb: np.ndarray, spec: InputSpec, squeeze: float = 1.0) -> tuple[np.ndarray, float]:
    """Scale an RGB line to the input height (and its width by ``squeeze`` more): float32 H x W x C
    (C = spec.channels), and the x scale."""
    h, w = rgb.shape[:2]
    if spec.channels == 1:
        img = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    else:
        img = rgb[:, :, ::-1] if spec.bgr else rgb
    tw = scaled_width(w, h, spec, squeeze)
    out = cv2.resize(img, (tw, spec.height), interpolation=_INTERP[spec.interpolation])
    if out.ndim == 2:
        out = out[:, :, None]
    out = out.astype(np.float32)
    if spec.mean or spec.scale != 1.0:
        out = (out - spec.mean) * spec.scale
    return out, tw / w


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


def make_windows(rgb: np.ndarray, spec: InputSpec) -> list[Window]:
    h, w = rgb.shape[:2]
    squeeze = spec.line_squeeze if w > spec.squeeze_above * h else 1.0
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
