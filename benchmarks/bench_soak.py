"""Memory soak: many lines of distinct widths, then many pages of distinct sizes, in one process;
RSS sampled as it goes (OpenVINO compiles kernels and keeps buffers per input shape, so without
bounded shapes RSS grows with every new size).

Lines: the sample lines and the 32 zh-lines, each resized to a width no earlier line had (and a
random height, 24-160 px), read in calls of 50 with ``Reader(parallel=True)`` as ``hwocr read`` does
(``--lang auto``, the default, with the Japanese vote where PP-OCRv5 is installed).
Pages: the pages of benchmarks/compose_pages.py, each scaled to a size no earlier page had
(0.35-1.25x, aspect changed by up to 20%), read with ``Reader.read_page``.

    python benchmarks/bench_soak.py [--lines 2000] [--pages 200] [--pages-dir build/pages] [--precision auto]
                                    [--lang auto|zh|ja] [--no-ensemble] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import islice
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def distinct_lines(n: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """``n`` lines, made as they are consumed (so the inputs themselves do not fill memory)."""
    from hwocr.imageio import load_image

    srcs = [load_image(ROOT / "samples" / n_).rgb for n_ in ("zh-line.png", "ja-line.png")]
    if bc.LINES.exists():
        srcs += [load_image(p).rgb for p, _ in bc.labels(bc.LINES)]
    used: set[int] = set()
    while len(used) < n:
        src = srcs[len(used) % len(srcs)]
        h = int(rng.integers(24, 161))
        w = int(round(src.shape[1] * h / src.shape[0] * rng.uniform(0.5, 1.6)))
        if w in used or w < 8 or w > 400 * h:
            continue
        used.add(w)
        yield cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA)


def distinct_pages(folder: Path, n: int, rng: np.random.Generator):
    from hwocr.imageio import load_image

    paths = sorted(p for p in folder.glob("*.png")) or sorted(folder.glob("*.jpg"))
    if not paths:
        raise SystemExit(f"no pages in {folder}: run python benchmarks/compose_pages.py --out {folder}")
    used = set()
    k = 0
    while k < n:
        src = load_image(paths[k % len(paths)]).rgb
        s = rng.uniform(0.35, 1.25)
        a = rng.uniform(0.8, 1.2)
        size = (int(src.shape[1] * s * a), int(src.shape[0] * s))
        if size in used:
            continue
        used.add(size)
        k += 1
        yield cv2.resize(src, size, interpolation=cv2.INTER_AREA)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=2000)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--pages-dir", type=Path, default=ROOT / "build" / "pages")
    ap.add_argument("--precision", default=None)
    ap.add_argument("--lang", default="auto", choices=["auto", "zh", "ja"])
    ap.add_argument("--no-ensemble", action="store_true", help="without the Japanese vote (PP-OCRv5)")
    ap.add_argument("--input-spec", default=None, help="InputSpec overrides, as hwocr's --input-spec "
                    "(e.g. 'char_views=[]': isolated characters read once)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    from hwocr import Reader

    rng = np.random.default_rng(a.seed)
    reader = Reader(lang=a.lang, precision=a.precision, parallel=True, ensemble=False if a.no_ensemble else None,
                    input_spec=a.input_spec)
    samples: list[dict] = [{"phase": "loaded", "n": 0, "rss_mb": round(rss_mb(), 1)}]
    t0 = time.perf_counter()
    lines = distinct_lines(a.lines, rng)
    for k in range(0, a.lines, 50):
        reader.read_arrays(list(islice(lines, 50)))
        samples.append({"phase": "lines", "n": k + 50, "rss_mb": round(rss_mb(), 1)})
    t_lines = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k, page in enumerate(distinct_pages(a.pages_dir, a.pages, rng), 1):
        reader.read_page(page)
        if k % 10 == 0:
            samples.append({"phase": "pages", "n": k, "rss_mb": round(rss_mb(), 1)})
    t_pages = time.perf_counter() - t0
    report = {"machine": bc.machine(), "precision": reader.engine.precision, "lang": a.lang,
              "ensemble": not a.no_ensemble, "lines": a.lines, "pages": a.pages,
              "lines_s": round(t_lines, 1), "pages_s": round(t_pages, 1), "peak_rss_mb": round(bc.peak_rss_mb(), 1),
              "samples": samples}
    if a.json:
        print(json.dumps(report))
        return
    print(f"{bc.machine()}  precision={reader.engine.precision} lang={a.lang} ensemble={not a.no_ensemble}")
    for phase in ("lines", "pages"):
        xs = [s["rss_mb"] for s in samples if s["phase"] == phase]
        if xs:
            q = [xs[min(len(xs) - 1, i * len(xs) // 4)] for i in range(4)] + [xs[-1]]
            print(f"{phase}: RSS at 0/4..4/4 of the phase {' -> '.join(f'{x:.0f}' for x in q)} MB (max {max(xs):.0f})")
    print(f"peak RSS {report['peak_rss_mb']:.0f} MB; lines {t_lines:.0f} s, pages {t_pages:.0f} s")


if __name__ == "__main__":
    main()
