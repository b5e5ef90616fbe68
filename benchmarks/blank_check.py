"""The blank check (``hwocr.lineshape.has_ink``): how many real and validation images it takes for a
blank (should be none), how many synthetic blanks it takes for ink (should be none but the most
extreme), the margins on both sides, and its time per image.

    python benchmarks/blank_check.py            # every dev set and every labelled folder under build/
    python benchmarks/blank_check.py DIR ...    # those folders only
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402


def blanks(seed: int = 11):
    """(description, image): uniform grounds, noise, JPEG, light falling off across or down."""
    rng = np.random.default_rng(seed)
    for h, w in [(48, 300), (64, 64), (100, 800), (20, 40), (150, 1200), (400, 400), (96, 2000)]:
        for v in (0, 10, 60, 128, 200, 245, 250, 255):
            for sd in (0, 1, 2, 3, 5, 8, 10, 15, 20, 30):
                for q in (30, 50, 70, 90, 0):
                    a = np.clip(v + rng.normal(0, sd, (h, w, 3)), 0, 255).astype(np.uint8)
                    if q:
                        buf = io.BytesIO()
                        Image.fromarray(a).save(buf, "JPEG", quality=q)
                        a = np.asarray(Image.open(buf).convert("RGB"))
                    name = f"{w}x{h} grey {v} sigma {sd} jpeg {q or '-'}"
                    yield name, a
                    yield name + " light across", (a * np.linspace(0.6, 1, w)[None, :, None]).astype(np.uint8)
                    yield name + " light down", (a * np.linspace(0.6, 1, h)[:, None, None]).astype(np.uint8)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", type=Path)
    a = ap.parse_args(argv)
    from hwocr.imageio import load_image
    from hwocr.lineshape import INK_MIN_MARK, INK_MIN_PEAK, INK_NOISE_RATIO, has_ink, ink_contrast

    dirs = a.dirs or [p for p in sorted((bc.SHARED / "eval").iterdir()) if (p / "labels.tsv").is_file()] + sorted(
        {p.parent for p in (bc.ROOT / "build").rglob("labels.tsv")})
    n = blank = 0
    low_peak, low_ratio, spent = 1e9, 1e9, 0.0
    for d in dirs:
        for path, _ in bc.labels(d):
            rgb = load_image(path).rgb
            t0 = time.perf_counter()
            ok = has_ink(rgb)
            spent += time.perf_counter() - t0
            peak, noise = ink_contrast(rgb)
            low_peak, low_ratio = min(low_peak, peak), min(low_ratio, peak / max(noise, 1.0))
            n += 1
            if not ok:
                blank += 1
                print(f"taken for a blank: {path}")
    print(f"rule: ink when a mark of {INK_MIN_MARK}+ connected pixels stands out by at least {INK_MIN_PEAK} "
          f"grey levels and {INK_NOISE_RATIO} x the noise")
    print(f"labelled images: {n} in {len(dirs)} folders, {blank} taken for a blank; faintest peak {low_peak}, "
          f"lowest peak / noise {low_ratio:.1f}; {1000 * spent / max(n, 1):.2f} ms per image")
    m = inked = 0
    for name, im in blanks():
        m += 1
        if has_ink(im):
            inked += 1
            peak, noise = ink_contrast(im)
            print(f"taken for ink: {name} (peak {peak:.0f}, noise {noise:.1f})")
    print(f"synthetic blanks: {m}, {inked} taken for ink")
    print(f"machine: {bc.machine()}")


if __name__ == "__main__":
    main()
