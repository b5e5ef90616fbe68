"""Random distortions of a line image that keep its text: elastic warp, stroke thickness, scale,
slant, noise. Each is applied with some probability; the background is filled with the image's
own border colour so that no frame appears."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Augment:
    p: float = 0.5  # probability of each distortion
    elastic: float = 0.03  # displacement, as a fraction of the height
    thickness: int = 1  # max erode/dilate radius (pixels at the line's own resolution, per 48 px)
    scale: float = 0.15  # relative change of width and height
    slant: float = 0.2  # max horizontal shear
    noise: float = 8.0  # max std of added Gaussian noise (grey levels)

    def __call__(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = rgb
        bg = _background(rgb)
        if rng.random() < self.p:
            out = _thickness(out, rng, self.thickness)
        if rng.random() < self.p:
            out = _slant(out, rng.uniform(-self.slant, self.slant), bg)
        if rng.random() < self.p:
            out = _elastic(out, rng, self.elastic, bg)
        if rng.random() < self.p:
            h, w = out.shape[:2]
            sx, sy = np.exp(rng.uniform(-self.scale, self.scale, 2))
            out = cv2.resize(out, (max(4, round(w * sx)), max(4, round(h * sy))), interpolation=cv2.INTER_LINEAR)
        if rng.random() < self.p and self.noise > 0:
            n = rng.normal(0, rng.uniform(0, self.noise), out.shape[:2])[:, :, None]
            out = np.clip(out.astype(np.float32) + n, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(out)


def _background(rgb: np.ndarray) -> tuple[int, int, int]:
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    return tuple(int(v) for v in np.median(border, axis=0))


def _thickness(rgb: np.ndarray, rng: np.random.Generator, radius: int) -> np.ndarray:
    """Dark ink on light paper: erode (min filter) thickens strokes, dilate thins them."""
    r = max(1, round(radius * rgb.shape[0] / 48))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(rng.integers(1, r + 1)) - 1 + 2,) * 2)
    return cv2.erode(rgb, k) if rng.random() < 0.5 else cv2.dilate(rgb, k)


def _slant(rgb: np.ndarray, shear: float, bg) -> np.ndarray:
    h, w = rgb.shape[:2]
    extra = int(abs(shear) * h)
    m = np.float32([[1, shear, extra if shear < 0 else 0], [0, 1, 0]])
    return cv2.warpAffine(rgb, m, (w + extra, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=bg)


def _elastic(rgb: np.ndarray, rng: np.random.Generator, amount: float, bg) -> np.ndarray:
    """Smooth random displacement field (a coarse grid, upsampled), as in Simard et al. 2003."""
    h, w = rgb.shape[:2]
    gh, gw = 3, max(3, round(3 * w / h))
    amp = amount * h
    dx = cv2.resize(rng.normal(0, amp, (gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(rng.normal(0, amp, (gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(rgb, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=bg)
