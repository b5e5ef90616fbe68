"""What reading an isolated character in two views costs (``InputSpec.char_views``, ``hwocr.fusion``).

Reads a folder of isolated characters with the shipped views and with none (the same Reader
settings otherwise, each configuration compiled once), interleaved in rounds; prints the median wall
time per character of each, the ratio, and the 1-CER of each reading.

    python benchmarks/bench_views.py [DIR ...] [--rounds 3]   # default: ../shared/eval/zh-chars, ja-chars
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402


def reader(views: bool, **kw):
    from hwocr import Reader

    return Reader(**kw) if views else Reader(input_spec={"char_views": ()}, **kw)  # both models read once


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", default=[str(bc.SHARED / "eval" / "zh-chars"), str(bc.SHARED / "eval" / "ja-chars")])
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args(argv)
    from hwocr.imageio import load_image
    from hwocr.metrics import score

    print(json.dumps({"machine": bc.machine()}))
    for d in map(Path, a.dirs):
        items = bc.labels(d)
        rgbs = [load_image(p).rgb for p, _ in items]
        refs = [t for _, t in items]
        readers = {"views": reader(True, parallel=True), "none": reader(False, parallel=True)}
        acc, times = {}, {k: [] for k in readers}
        for k, r in readers.items():  # warm-up (compiles every shape, loads v5), and the accuracy
            acc[k] = score([x.text for x in r.read_arrays(rgbs)], refs).accuracy
        for _ in range(a.rounds):
            for k, r in readers.items():
                t = time.perf_counter()
                r.read_arrays(rgbs)
                times[k].append((time.perf_counter() - t) / len(rgbs) * 1000)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(json.dumps({"set": d.name, "n": len(rgbs), "ms_per_char": {k: round(v, 2) for k, v in med.items()},
                          "ratio": round(med["views"] / med["none"], 3), "accuracy": {k: round(v, 4) for k, v in acc.items()}}),
              flush=True)


if __name__ == "__main__":
    main()
