#!/usr/bin/env python3
"""Peak memory and time of ``hwocr batch --pdf``'s export of one long document, without a model.

A multi-page TIFF of ``--pages`` A4 pages at 200 dpi (paper grey with scattered ink specks, so each
page's JPEG is a realistic few hundred KB to 1 MB) is run through ``run_job`` with a runner that
records each page as read with no text (the recogniser's own memory is not what this measures), then
exported as a searchable PDF. Prints the PDF's size, the process's peak RSS and the seconds::

    python benchmarks/bench_batch_pdf.py [--pages 150]

To compare two versions of the code, run it once per checkout (``PYTHONPATH=OTHER/src``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402


class _NoTextRunner:
    """Records each page as read, with no lines (a page of the TIFF's size)."""

    description, workers = "no model", 1

    def imap(self, items):
        return ({"key": it.key, "file": it.path, "page": it.page, "pages": it.pages, "width": 1654, "height": 2339,
                 "lines": [], "source": it.path, "engine": "e", "detector": "d", "direction": "horizontal",
                 "notes": [], "error": None} for it in items)

    def close(self) -> None:
        pass


def _long_tiff(path: Path, pages: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)

    def page():
        a = np.full((2339, 1654), 235, np.uint8)
        a[rng.integers(0, 2339, 40000), rng.integers(0, 1654, 40000)] = 20
        return Image.fromarray(a)

    first = page()
    first.save(path, save_all=True, append_images=(page() for _ in range(pages - 1)), compression="tiff_deflate")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=150)
    ap.add_argument("--make", type=Path, help=argparse.SUPPRESS)  # (the TIFF is made in a child process)
    a = ap.parse_args(argv)
    if a.make:
        _long_tiff(a.make, a.pages)
        return
    from hwocr.batch.job import run_job
    from hwocr.batch.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        tif, out = Path(tmp) / "long.tif", Path(tmp) / "out"
        subprocess.run([sys.executable, __file__, "--make", str(tif), "--pages", str(a.pages)], check=True)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t = time.perf_counter()
        run_job([str(tif)], str(out), Settings(), _NoTextRunner, exports=["pdf"])
        seconds = time.perf_counter() - t
        (pdf,) = (out / "docs").glob("*.pdf")
        print(json.dumps({"pages": a.pages, "pdf_mb": round(pdf.stat().st_size / 1e6, 1),
                          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                          "rss_before_export_mb": round(base), "seconds": round(seconds, 1),
                          "machine": bc.machine()}))


if __name__ == "__main__":
    main()
