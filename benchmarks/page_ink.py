"""The blank-page check of ``hwocr page``: how often it would lose a page with ink, how often it takes a
blank for ink, and what it costs and saves.

* recall on the composed pages (``compose_pages.py``) and on A4 pages at 300 dpi that hold **one**
  real handwritten character (``../shared/eval`` zh-chars / ja-chars, read in place, nothing copied),
  scaled to 24-80 pixels high, faded to 100/60/40%, on white or tinted paper with sensor noise;
* faint: A5 pages holding one character faded to 40/25/15/10% under sensor noise of sigma 4-16, each
  also read with the detector run anyway: how many of the characters that path reads the check
  would lose (judged blank);
* blanks taken for ink: A4 pages of paper tint, uneven light, sensor noise (sigma 1-24) and JPEG (30-85);
* time: the check on each kind of page, and a blank page read whole by the page reader with the
  check and with the detector run anyway (``boxes`` left to the detector).

    python benchmarks/compose_pages.py --out build/pages
    python benchmarks/page_ink.py [--pages build/pages] [--eval ../shared/eval] [--n 300] [--seed 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402

A4 = (3508, 2480)


def _timed(f, *a):
    t = time.perf_counter()
    out = f(*a)
    return out, (time.perf_counter() - t) * 1000


def _one_character_page(chars: list[Path], rng: np.random.Generator, pick: random.Random, size=A4,
                        heights=(24, 32, 48, 80), fades=(1.0, 0.6, 0.4), papers=(255, 240, 225), noises=(0, 2, 5)):
    import cv2

    from hwocr.imageio import load_image

    c = load_image(str(pick.choice(chars))).rgb
    h = pick.choice(heights)
    c = cv2.resize(c, (max(1, round(c.shape[1] * h / c.shape[0])), h), interpolation=cv2.INTER_AREA).astype(np.float32)
    fade, paper, noise = pick.choice(fades), pick.choice(papers), pick.choice(noises)
    page = np.full((*size, 3), paper, np.float32)
    page += rng.normal(0, noise, (*size, 1)).astype(np.float32)
    y, x = int(rng.integers(0, size[0] - h)), int(rng.integers(0, size[1] - c.shape[1]))
    page[y : y + h, x : x + c.shape[1]] -= (255 - c) * fade * (paper / 255)
    return np.clip(page, 0, 255).astype(np.uint8), {"height": h, "fade": fade, "paper": paper, "noise": noise}


def _blank_page(rng: np.random.Generator, pick: random.Random) -> np.ndarray:
    import cv2

    page = np.full(A4, pick.choice([250, 235, 210, 180]), np.float32)
    yy, xx = np.mgrid[0 : A4[0], 0 : A4[1]].astype(np.float32)
    page -= pick.choice([0, 20, 40]) * (xx / A4[1]) * (yy / A4[0])  # light falling off towards a corner
    page += rng.normal(0, pick.choice([1, 4, 8, 12, 16, 24]), page.shape).astype(np.float32)
    page = np.repeat(np.clip(page, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    q = pick.choice([None, 30, 40, 60, 85])
    if q:
        page = cv2.imdecode(cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, q])[1], cv2.IMREAD_COLOR)
    return page


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=Path, default=Path("build/pages"))
    ap.add_argument("--eval", type=Path, default=bc.LINES.parent)
    ap.add_argument("--n", type=int, default=300, help="one-character pages")
    ap.add_argument("--blanks", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)

    from hwocr import Reader
    from hwocr.imageio import load_image
    from hwocr.lineshape import page_has_ink
    from hwocr.metrics import normalize, read_labels
    from hwocr.pages.document import PAGE_INK_SIDE, read_image

    def has_ink(rgb, side):
        return page_has_ink(rgb, side)

    rng, pick = np.random.default_rng(a.seed), random.Random(a.seed)
    out: dict = {"machine": bc.machine(), "side": PAGE_INK_SIDE}
    composed = sorted(a.pages.glob("*.png"))
    res = [_timed(has_ink, load_image(str(f)).rgb, PAGE_INK_SIDE) for f in composed]
    out["composed"] = {"n": len(res), "missed": sum(not ok for ok, _ in res),
                       "median_ms": round(statistics.median(ms for _, ms in res), 1) if res else None}
    chars = [p for d in ("zh-chars", "ja-chars") for p, _ in read_labels(a.eval / d)]
    missed, times = [], []
    for _ in range(a.n):
        page, how = _one_character_page(chars, rng, pick)
        ok, ms = _timed(has_ink, page, PAGE_INK_SIDE)
        times.append(ms)
        if not ok:
            missed.append(how)
    out["one_character"] = {"n": a.n, "missed": len(missed), "missed_how": missed,
                            "median_ms": round(statistics.median(times), 1)}
    reader = Reader()
    det = reader.detector("ppocr")
    rows = [r for d in ("zh-chars", "ja-chars") for r in read_labels(a.eval / d)]
    faint = {"n": 0, "read_by_detector": 0, "of_those_judged_blank": 0}
    for fade in (0.4, 0.25, 0.15, 0.1):
        for noise in (4, 8, 12, 16):
            for _ in range(8):
                k = pick.randrange(len(rows))
                page, _how = _one_character_page([rows[k][0]], rng, pick, (1754, 1240), (32, 48, 80), (fade,), (235,),
                                                 (noise,))
                read = normalize(rows[k][1]) in normalize(read_image(reader, page, boxes=det.detect(page)).text)
                faint["n"] += 1
                faint["read_by_detector"] += read
                faint["of_those_judged_blank"] += read and not has_ink(page, PAGE_INK_SIDE)
    out["faint"] = faint
    blanks = [_blank_page(rng, pick) for _ in range(a.blanks)]
    res = [_timed(has_ink, b, PAGE_INK_SIDE) for b in blanks]
    out["blank"] = {"n": len(res), "taken_for_ink": sum(ok for ok, _ in res),
                    "median_ms": round(statistics.median(ms for _, ms in res), 1)}
    read_image(reader, blanks[0])  # warm-up
    with_check, detected = [], []
    for b in blanks[:10]:  # interleaved: the page reader with its check, then the detector on the same page
        with_check.append(_timed(read_image, reader, b)[1])
        detected.append(_timed(det.detect, b)[1])
    out["blank_page_read_ms"] = {"with_check": round(statistics.median(with_check), 1),
                                 "detector_alone": round(statistics.median(detected), 1)}
    if a.json:
        print(json.dumps(out, ensure_ascii=False))
        return
    m = out["machine"]
    print(f"{m['cpu']} ({m['cpus']} cores), check at {PAGE_INK_SIDE} px and a half and a quarter of it")
    print(f"composed pages: {out['composed']['missed']} of {out['composed']['n']} missed, "
          f"{out['composed']['median_ms']} ms each")
    print(f"one character on A4: {len(missed)} of {a.n} missed, {out['one_character']['median_ms']} ms each")
    print(f"faint one-character pages: {faint['n']}, of which the detector path read {faint['read_by_detector']}; "
          f"of those, judged blank: {faint['of_those_judged_blank']}")
    print(f"blank A4 pages: {out['blank']['taken_for_ink']} of {a.blanks} taken for ink, {out['blank']['median_ms']} ms each")
    print(f"a blank page read whole: {out['blank_page_read_ms']['with_check']} ms "
          f"(the detector alone on it: {out['blank_page_read_ms']['detector_alone']} ms)")


if __name__ == "__main__":
    main()
