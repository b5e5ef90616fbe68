"""What decoding costs per line: greedy vs beam search (+ LM) on the same posteriors.

The recogniser runs once; then each line's posteriors are decoded one at a time
(``Reader.decode``, everything after inference: CTC decoding, spans, confidences, alternatives).
Medians over the lines of the set, in ms per line:

* ``first pass``: the language model's lookup caches start empty (a fresh process reading a set);
* ``later passes``: the same lines again, caches warm (a long-running service sees common contexts).

    python benchmarks/bench_decode.py [--set zh-lines] [--lang zh] [--passes 5] [--precision INT8]
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
    from hwocr import Reader
    from hwocr.imageio import load_image
    from hwocr.metrics import score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="zh-lines", help="eval set under <shared>/eval (default zh-lines)")
    ap.add_argument("--lang", default="zh")
    ap.add_argument("--passes", type=int, default=5, help="passes in all, the first one cold (default 5)")
    ap.add_argument("--precision", default=None, help="model precision (ppocr: FP32, the default, or INT8)")
    a = ap.parse_args(argv)
    items = bc.labels(bc.SHARED / "eval" / a.set)
    refs = [t for _, t in items]
    readers = {d: Reader(lang=a.lang, decoder=d, precision=a.precision) for d in ("greedy", "beam")}
    posts = readers["greedy"].posteriors([load_image(p).rgb for p, _ in items])
    times: dict[str, list[list[float]]] = {d: [] for d in readers}
    acc = {}
    for _ in range(max(2, a.passes)):
        for d, r in readers.items():  # the same line decoded by both before the next line
            times[d].append([])
        texts: dict[str, list[str]] = {d: [] for d in readers}
        for post in posts:
            for d, r in readers.items():
                t = time.perf_counter()
                texts[d].append(r.decode(post).text)
                times[d][-1].append((time.perf_counter() - t) * 1000)
        acc = {d: score(texts[d], refs).accuracy for d in readers}
    first = {d: statistics.median(ts[0]) for d, ts in times.items()}
    later = {d: statistics.median([x for p in ts[1:] for x in p]) for d, ts in times.items()}
    print(f"{a.set} ({len(items)} lines, {a.passes} passes, {readers['beam'].engine.name})  {bc.machine()}")
    print(f"{'decoder':8s} {'1-CER':>7s} {'first pass':>11s} {'later passes':>13s}   (median ms per line)")
    for d in readers:
        print(f"{d:8s} {acc[d]:7.4f} {first[d]:11.2f} {later[d]:13.2f}")
    print(f"{'beam adds':16s} {first['beam'] - first['greedy']:11.2f} {later['beam'] - later['greedy']:13.2f}")


if __name__ == "__main__":
    main()
