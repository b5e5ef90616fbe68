"""Random-order lines of *real* handwriting: isolated characters of ../shared/eval's zh-chars
(CASIA-HWDB1.1) and ja-chars (ETL8B2) pasted side by side into lines (measurement only).

The validation suite's random-order lines are synthetic strokes; this is the same kind of line
(no context for a language model to use) in real hands, the kind on which the issue's first
unseen measurement found the beam below greedy. Each line takes 2-5 or 8-16 characters drawn
at random (several writers mixed, as a form's boxes are), each scaled to a common height with
+-10% jitter, 0-12% of that height apart, dark ink on white.

The output (default build/real-rand/, git-ignored) holds images derived from research-only data
sets: never commit it, never tune on it.

    python benchmarks/real_rand_lines.py [--eval ../shared/eval] [--out build/real-rand] [--n 300] [--seed 21]
    hwocr eval build/real-rand/zh-rand ; hwocr eval build/real-rand/zh-rand --decoder greedy
    python benchmarks/peer_eval.py build/real-rand/zh-rand
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
H = 64


def read_labels(folder: Path) -> list[tuple[Path, str]]:
    rows = (folder / "labels.tsv").read_text(encoding="utf-8").splitlines()
    return [(folder / f, t) for f, t in (r.split("\t", 1) for r in rows if "\t" in r)]


def glyph(path: Path, h: int) -> np.ndarray:
    """The character's ink box, grey, scaled to height ``h`` (white 255, ink dark)."""
    a = np.asarray(Image.open(path).convert("L"), dtype=np.uint8)
    ink = a < 128
    if ink.any():
        ys, xs = np.nonzero(ink)
        a = a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    s = h / a.shape[0]
    w = max(1, round(a.shape[1] * min(s, 1.6 * h / max(1, a.shape[1]))))
    return np.asarray(Image.fromarray(a).resize((w, h), Image.BILINEAR), dtype=np.uint8)


def line(items: list[tuple[Path, str]], rng: random.Random) -> np.ndarray:
    parts = []
    for p, _ in items:
        g = glyph(p, round(H * rng.uniform(0.8, 1.0)))
        top = rng.randint(0, H + 8 - g.shape[0])
        col = np.full((H + 8, g.shape[1]), 255, np.uint8)
        col[top : top + g.shape[0]] = g
        parts += [col, np.full((H + 8, max(1, round(H * rng.uniform(0, 0.12)))), 255, np.uint8)]
    body = np.concatenate(parts[:-1], axis=1)
    return np.pad(body, ((4, 4), (8, 8)), constant_values=255)


def build(eval_dir: Path, out: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    for src, name in (("zh-chars", "zh-rand"), ("ja-chars", "ja-rand")):
        pool = read_labels(eval_dir / src)
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(n):
            k = rng.randint(2, 5) if i % 2 == 0 else rng.randint(8, 16)
            items = rng.sample(pool, k)
            f = f"{name}_{i:04d}.png"
            Image.fromarray(line(items, rng)).save(folder / f)
            rows.append(f"{f}\t{''.join(t for _, t in items)}\n")
        (folder / "labels.tsv").write_text("".join(rows), encoding="utf-8")
        print(f"{folder}: {n} lines")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "real-rand")
    ap.add_argument("--n", type=int, default=300, help="lines per language (the README's draw: 300)")
    ap.add_argument("--seed", type=int, default=21)
    a = ap.parse_args(argv)
    build(a.eval, a.out, a.n, a.seed)


if __name__ == "__main__":
    main()
