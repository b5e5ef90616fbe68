"""Median ms per line and peak RSS of each engine on the evaluation lines.

Each engine runs in its own child process (peak RSS is per process). Per engine:
  * ``ms/line``: lines read one at a time (``Reader.read_arrays([line])``, as ``hwocr eval`` does),
    median over every line of every pass, after one warm-up pass;
  * ``batch ms/line``: the whole set in one ``read_arrays`` call (the batched, parallel path), median
    over passes, divided by the number of lines;
  * 1 - CER on the labels (the omz engine runs the authentic graph with *random* weights here, so
    its text is meaningless and only its timing and memory count).

    python benchmarks/bench_lines.py [--passes 3] [--json] [--lines /work/shared/eval/zh-lines]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402

ENGINES = ("ppocr", "omz")


def child(engine: str, folder: Path, passes: int, workdir: Path) -> dict:
    from hwocr import Reader
    from hwocr.imageio import load_image
    from hwocr.metrics import score

    items = bc.labels(folder)
    t0 = time.perf_counter()
    if engine == "omz":
        reader = Reader(lang="zh", engine=str(bc.random_omz_graph(workdir)), charlist=str(bc.SCUT_CHARLIST))
    else:
        reader = Reader(lang="zh", engine=engine)
    load_s = time.perf_counter() - t0
    imgs = [load_image(p, reader.max_pixels).rgb for p, _ in items]
    for img in imgs:  # warm-up: the first inference of each shape prepares kernels
        reader.read_arrays([img])
    per_line, texts = [], []
    for _ in range(passes):
        texts = []
        for img in imgs:
            t = time.perf_counter()
            texts.append(reader.read_arrays([img])[0].text)
            per_line.append((time.perf_counter() - t) * 1000)
    reader.read_arrays(imgs)
    batch = []
    for _ in range(passes):
        t = time.perf_counter()
        btexts = [r.text for r in reader.read_arrays(imgs)]
        batch.append((time.perf_counter() - t) * 1000 / len(imgs))
    s = score(texts, [t for _, t in items])
    return {"engine": engine, "model": reader.engine.name, "n": len(imgs), "load_s": round(load_s, 2),
            "ms_per_line": round(bc.median(per_line), 1), "batch_ms_per_line": round(bc.median(batch), 1),
            "accuracy": round(s.accuracy, 4), "exact": round(s.exact, 4), "batch_equals_single": btexts == texts,
            "peak_rss_mb": round(bc.peak_rss_mb(), 1)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=Path, default=bc.LINES, help="folder with labels.tsv (default: %(default)s)")
    ap.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--child", nargs=2, metavar=("ENGINE", "WORKDIR"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.child[0], a.lines, a.passes, Path(a.child[1]))))
        return
    with bc.omz_workdir() as wd:
        rows = [bc.run_child(Path(__file__), [e, wd, "--lines", str(a.lines), "--passes", str(a.passes)])
                for e in a.engines]
    if a.json:
        print(json.dumps({"lines": str(a.lines), "machine": bc.machine(), "results": rows}, ensure_ascii=False))
        return
    print(f"{a.lines}  ({rows[0]['n']} lines, {a.passes} passes)  {bc.machine()}")
    hdr = f"{'engine':8s} {'model':50s} {'ms/line':>8s} {'batch ms/line':>14s} {'1-CER':>7s} {'exact':>6s} {'peak RSS MB':>12s}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        note = "  (random weights)" if r["engine"] == "omz" else ""
        print(f"{r['engine']:8s} {r['model']:50s} {r['ms_per_line']:8.1f} {r['batch_ms_per_line']:14.1f} "
              f"{r['accuracy']:7.4f} {r['exact']:6.3f} {r['peak_rss_mb']:12.1f}{note}")


if __name__ == "__main__":
    main()
