"""What lang auto costs: ms per line of --lang zh / ja (head cut to one language), auto (head cut to
both languages, one inference, language decided per line) and the unrestricted 18 710-class head.

Interleaved rounds over the same lines, medians; greedy and beam (the default) separately.

    python benchmarks/bench_auto.py [--rounds 5] [DIR]      # default DIR: <shared>/eval/zh-lines
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path, default=bc.LINES)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args(argv)
    from hwocr import Reader
    from hwocr.imageio import load_image

    rgbs = [load_image(p).rgb for p, _ in bc.labels(a.folder)]
    kinds = {"zh": dict(lang="zh"), "ja": dict(lang="ja"), "auto": dict(lang="auto"),
             "unrestricted": dict(lang="zh", restrict=False)}
    for decoder in ("greedy", "beam"):
        readers = {k: Reader(decoder=decoder, **kw) for k, kw in kinds.items()}
        times: dict[str, list[float]] = {k: [] for k in readers}
        for r in readers.values():
            r.read_arrays(rgbs[:2])  # warm up
        for _ in range(a.rounds):
            for k, r in readers.items():
                t = time.perf_counter()
                r.read_arrays(rgbs)
                times[k].append((time.perf_counter() - t) * 1000 / len(rgbs))
        base = statistics.median(times["zh"])
        for k, ts in times.items():
            m = statistics.median(ts)
            print(f"{decoder:6s} {k:12s} classes {len(readers[k].charset):6d}  {m:7.1f} ms/line  x{m / base:.2f} of zh",
                  flush=True)
    print(bc.machine())


if __name__ == "__main__":
    main()
