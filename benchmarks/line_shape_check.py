"""How often ``hwocr read``'s line-shape check (src/hwocr/lineshape.py) fires, on real lines and on
compositions of them. Reads ../shared/eval in place (nothing is copied or written).

    python benchmarks/line_shape_check.py [--n 40] [--seed 0]

Rows: the eval sets as they are (must never be flagged), the same tightly cropped to their ink, and
composed blocks of 2-6 zh-lines (60 px high, 4-30 px apart) and columns of 3-8 characters (64 px
wide, 0-16 px apart) drawn at random from zh-chars / ja-chars.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from hwocr.imageio import load_image
from hwocr.lineshape import ink_mask, line_shape

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


def images(name: str) -> list[np.ndarray]:
    return [load_image(p).rgb for p in sorted((EVAL / name).iterdir()) if p.suffix in (".png", ".jpg")]


def scaled(a: np.ndarray, h: int | None = None, w: int | None = None) -> np.ndarray:
    s = h / a.shape[0] if h else w / a.shape[1]
    return cv2.resize(a, (max(1, round(a.shape[1] * s)), max(1, round(a.shape[0] * s))))


def vstack(parts: list[np.ndarray], gap: int, bg: int = 250) -> np.ndarray:
    w = max(p.shape[1] for p in parts)
    rows = [np.pad(p, ((0, gap), (0, w - p.shape[1]), (0, 0)), constant_values=bg) for p in parts]
    return np.concatenate(rows)[: -gap or None]


def tight(a: np.ndarray) -> np.ndarray:
    m = ink_mask(a)
    if m is None:
        return a
    s = a.shape[0] / m.shape[0]
    ys, xs = np.nonzero(m)
    y0, y1, x0, x1 = (int(v * s) for v in (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1))
    return a[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    sets = {d: images(d) for d in ("zh-lines", "ja-lines", "zh-chars", "ja-chars")}
    rows: dict[str, Counter] = {}
    t0, n = time.perf_counter(), 0
    for d, ims in sets.items():
        rows[f"{d} as they are"] = Counter(line_shape(a).kind for a in ims)
        rows[f"{d} cropped to the ink"] = Counter(line_shape(tight(a)).kind for a in ims)
        n += len(ims)
    ms = (time.perf_counter() - t0) * 1000 / (2 * n)
    blocks, cols = Counter(), Counter()
    for k in range(args.n):
        parts = [scaled(x, h=60) for x in rng.sample(sets["zh-lines"], rng.randint(2, 6))]
        blocks[line_shape(vstack(parts, rng.randint(4, 30))).kind] += 1
        src = sets["zh-chars"] if k % 2 else sets["ja-chars"]
        parts = [scaled(x, w=64) for x in rng.sample(src, rng.randint(3, 8))]
        cols[line_shape(vstack(parts, rng.randint(0, 16))).kind] += 1
    rows["blocks of 2-6 zh-lines"] = blocks
    rows["columns of 3-8 characters"] = cols
    print("| input | n | line | blank | multiline | vertical | page |\n|---|---|---|---|---|---|---|")
    for name, c in rows.items():
        print(f"| {name} | {sum(c.values())} | " + " | ".join(str(c[k]) for k in
                                                              ("line", "blank", "multiline", "vertical", "page")) + " |")
    print(f"\n{ms:.2f} ms per image (eval sets, mean)")


if __name__ == "__main__":
    main()
