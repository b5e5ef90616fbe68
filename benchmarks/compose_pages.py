"""Compose whole-page test sets from real handwriting in /work/shared/eval (measurement only).

Horizontal pages: real lines (zh-lines, ja-lines) pasted top to bottom on a blank page.
Vertical pages (tategaki): character images (ja-chars, zh-chars) stacked into columns, the
columns placed right to left. Every page gets paper tint, noise, blur and a slight rotation;
the true line quadrilaterals, texts and reading order are written next to each page.

The output folder (default build/pages/, git-ignored) holds images derived from research-only
data sets: never commit it.

    python benchmarks/compose_pages.py --eval /work/shared/eval --out build/pages
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

PAGE_W, PAGE_H = 1654, 2339  # A4 at 200 dpi


def read_labels(folder: Path) -> list[tuple[Path, str]]:
    out = []
    for line in (folder / "labels.tsv").read_text(encoding="utf-8").splitlines():
        name, sep, text = line.partition("\t")
        if sep and (folder / name).is_file():
            out.append((folder / name, text))
    return out


def ink(path: Path) -> np.ndarray:
    """Gray image with its background lifted to white (so pasting by darkening works)."""
    g = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    bg = max(np.percentile(g, 90), 1.0)
    return np.clip(g * 255.0 / bg, 0, 255).astype(np.uint8)


def paste(page: np.ndarray, img: np.ndarray, x: int, y: int) -> None:
    h, w = img.shape
    region = page[y : y + h, x : x + w]
    np.minimum(region, img[: region.shape[0], : region.shape[1]], out=region)


def resize_h(img: np.ndarray, h: int) -> np.ndarray:
    w = max(1, round(img.shape[1] * h / img.shape[0]))
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if h < img.shape[0] else cv2.INTER_CUBIC)


def trim(img: np.ndarray, thr: int = 200) -> np.ndarray:
    ys, xs = np.nonzero(img < thr)
    if len(xs) == 0:
        return img
    return img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def degrade(page: np.ndarray, rng: random.Random, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by ``angle`` degrees about the centre, tint, blur, noise. Returns (RGB page, 2x3 matrix)."""
    h, w = page.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rot = cv2.warpAffine(page, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    tint = np.array([rng.uniform(225, 250), rng.uniform(225, 248), rng.uniform(215, 240)], dtype=np.float32)
    rgb = rot[:, :, None].astype(np.float32) / 255.0 * tint[None, None, :]
    if rng.random() < 0.7:
        rgb = cv2.GaussianBlur(rgb, (3, 3), rng.uniform(0.3, 1.0))
    rgb = rgb + nrng.normal(0, rng.uniform(3, 9), rgb.shape).astype(np.float32)
    return np.clip(rgb, 0, 255).astype(np.uint8), m


def transform(quad: list[list[float]], m: np.ndarray) -> list[list[float]]:
    q = np.asarray(quad, dtype=np.float64)
    r = q @ m[:, :2].T + m[:, 2]
    return [[round(float(x), 1), round(float(y), 1)] for x, y in r]


def horizontal_page(lines: list[tuple[np.ndarray, str, str]], rng: random.Random) -> tuple[np.ndarray, list[dict]]:
    page = np.full((PAGE_H, PAGE_W), 255, np.uint8)
    y = rng.randint(120, 220)
    gt = []
    for img, text, src in lines:
        img = trim(img)
        h = rng.randint(55, 95)
        im = resize_h(img, h)
        maxw = PAGE_W - 240
        if im.shape[1] > maxw:
            im = cv2.resize(im, (maxw, max(8, round(im.shape[0] * maxw / im.shape[1]))), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.5:  # a slight per-line slant
            a = rng.uniform(-1.2, 1.2)
            hh, ww = im.shape
            big = cv2.copyMakeBorder(im, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)
            mm = cv2.getRotationMatrix2D((big.shape[1] / 2, big.shape[0] / 2), a, 1.0)
            im = trim(cv2.warpAffine(big, mm, (big.shape[1], big.shape[0]), borderValue=255))
        hh, ww = im.shape
        if y + hh > PAGE_H - 120:
            break
        x = rng.randint(100, max(101, PAGE_W - 100 - ww))
        paste(page, im, x, y)
        gt.append({"text": text, "direction": "horizontal", "sources": [src],
                   "quad": [[x, y], [x + ww, y], [x + ww, y + hh], [x, y + hh]]})
        y += hh + rng.randint(25, 80)
    return page, gt


def vertical_page(chars: list[tuple[np.ndarray, str, str]], rng: random.Random, size: tuple[int, int]) -> tuple[np.ndarray, list[dict]]:
    page = np.full((PAGE_H, PAGE_W), 255, np.uint8)
    x_right = PAGE_W - rng.randint(100, 180)
    gt = []
    pool = list(chars)
    rng.shuffle(pool)
    k = 0
    while x_right > 200 and k < len(pool):
        cw = rng.randint(*size)  # nominal character width in this column
        n = rng.randint(6, 14)
        col = []
        y = rng.randint(120, 220)
        y0 = y
        text = ""
        widths = []
        srcs = []
        for _ in range(n):
            if k >= len(pool):
                break
            img, lab, src = pool[k]
            k += 1
            im = trim(img)
            s = cw * rng.uniform(0.8, 1.05) / max(im.shape)
            im = cv2.resize(im, (max(4, round(im.shape[1] * s)), max(4, round(im.shape[0] * s))), interpolation=cv2.INTER_AREA)
            if y + im.shape[0] > PAGE_H - 120:
                break
            col.append((im, y))
            widths.append(im.shape[1])
            text += lab
            srcs.append(src)
            y += im.shape[0] + rng.randint(4, 18)
        if not col:
            break
        wmax = max(widths)
        x0 = x_right - wmax
        for im, yy in col:
            paste(page, im, x0 + (wmax - im.shape[1]) // 2, yy)
        y1 = col[-1][1] + col[-1][0].shape[0]
        gt.append({"text": text, "direction": "vertical", "sources": srcs, "quad": [[x0, y0], [x_right, y0], [x_right, y1], [x0, y1]]})
        x_right = x0 - rng.randint(35, 80)
    return page, gt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", default="/work/shared/eval", type=Path)
    ap.add_argument("--out", default="build/pages", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--horizontal", type=int, default=8, help="horizontal pages (zh/ja lines)")
    ap.add_argument("--vertical", type=int, default=6, help="vertical pages per character set (ja, zh)")
    ap.add_argument("--max-angle", type=float, default=2.0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    lines = [(ink(p), t, f"{d}/{p.name}") for d in ("zh-lines", "ja-lines") for p, t in read_labels(args.eval / d)]
    sets = {lg: [(ink(p), t, f"{lg}-chars/{p.name}") for p, t in read_labels(args.eval / f"{lg}-chars")]
            for lg in ("ja", "zh")}
    args.out.mkdir(parents=True, exist_ok=True)
    index = []

    def save(name: str, page: np.ndarray, gt: list[dict], kind: str, lang: str) -> None:
        angle = rng.uniform(-args.max_angle, args.max_angle)
        rgb, m = degrade(page, rng, angle)
        for i, g in enumerate(gt):
            g["quad"] = transform(g["quad"], m)
            g["order"] = i
        Image.fromarray(rgb).save(args.out / f"{name}.png")
        meta = {"image": f"{name}.png", "kind": kind, "lang": lang, "angle": round(angle, 2), "lines": gt}
        (args.out / f"{name}.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        index.append(meta)

    for i in range(args.horizontal):
        pick = rng.sample(lines, k=min(len(lines), rng.randint(8, 14)))
        page, gt = horizontal_page(pick, rng)
        save(f"h{i:02d}", page, gt, "horizontal", "zh")
    for lang, size in (("ja", (70, 95)), ("zh", (80, 105))):
        for i in range(args.vertical):
            page, gt = vertical_page(sets[lang], rng, size)
            save(f"v{lang}{i:02d}", page, gt, "vertical", lang)
    (args.out / "index.json").write_text(json.dumps([m["image"] for m in index]), encoding="utf-8")
    n = sum(len(m["lines"]) for m in index)
    print(f"{len(index)} pages, {n} lines -> {args.out}")


if __name__ == "__main__":
    main()
