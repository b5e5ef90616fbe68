"""Line image -> model input windows.

A line is scaled to the model's input height keeping its aspect ratio. If it then fits the
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


def scaled_width(w: int, h: int, spec: InputSpec) -> int:
    r = spec.height * w / h
    return max(1, math.ceil(r) if spec.round_up else int(r))


def to_model_image(rgb: np.ndarray, spec: InputSpec) -> tuple[np.ndarray, float]:
    """Scale an RGB line to the input height: float32 H x W x C (C = spec.channels), and the x scale."""
    h, w = rgb.shape[:2]
    if spec.channels == 1:
        img = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    else:
        img = rgb[:, :, ::-1] if spec.bgr else rgb
    tw = scaled_width(w, h, spec)
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


def _pad(img: np.ndarray, width: int, spec: InputSpec) -> np.ndarray:
    extra = width - img.shape[1]
    if extra > 0:
        if spec.pad == "edge":
            img = np.pad(img, ((0, 0), (0, extra), (0, 0)), mode="edge")
        else:
            img = np.pad(img, ((0, 0), (0, extra), (0, 0)), mode="constant", constant_values=0.0)
    return np.ascontiguousarray(img.transpose(2, 0, 1))


def split_offsets(total: int, win: int, overlap: float = OVERLAP) -> list[int]:
    """Start offsets of windows of width ``win`` covering ``total`` columns with at least
    ``overlap * win`` columns shared between neighbours."""
    if total <= win:
        return [0]
    step = win - int(win * overlap)
    n = math.ceil((total - win) / step) + 1
    return [round(i * (total - win) / (n - 1)) for i in range(n)]


def make_windows(rgb: np.ndarray, spec: InputSpec) -> list[Window]:
    img, scale = to_model_image(rgb, spec)
    total = img.shape[1]
    win = window_width(spec)
    offs = split_offsets(total, win)
    out = []
    for i, off in enumerate(offs):
        part = img[:, off : off + win]
        valid = part.shape[1]
        lo = 0.0 if i == 0 else (off + offs[i - 1] + win) / 2  # middle of the overlap with the left window
        hi = float(total) if i == len(offs) - 1 else (offs[i + 1] + off + win) / 2
        out.append(Window(_pad(part, padded_width(valid, spec), spec), off, valid, (lo, hi), scale, total))
    return out
