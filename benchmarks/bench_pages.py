"""Pages per second, hwocr's page reader against rapidocr 3.10's full pipeline (detect, classify, recognise),
on the pages of benchmarks/compose_pages.py, in one process, configurations interleaved per round.

Page 1-CER: each page's text (lines joined in the reader's order) against the page's true text.
rapidocr reads vertical columns as its detector boxes them (no column reading of its own).

    python benchmarks/compose_pages.py --out build/pages
    python benchmarks/bench_pages.py build/pages [--rounds 2] [--configs hwocr rapidocr-ov rapidocr-ov-tput rapidocr-ort]
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

CONFIGS = ("hwocr", "hwocr-f32", "rapidocr-ov", "rapidocr-ov-tput", "rapidocr-ort")


def _rapidocr(kind: str):
    from rapidocr import EngineType, RapidOCR

    et = EngineType.ONNXRUNTIME if kind == "ort" else EngineType.OPENVINO
    params = {"Rec.engine_type": et, "Det.engine_type": et, "Cls.engine_type": et}
    if kind == "ov-tput":
        params["EngineConfig.openvino.performance_hint"] = "THROUGHPUT"
    eng = RapidOCR(params=params)

    def read(rgb, lang):
        out = eng(rgb[:, :, ::-1].copy())
        return "".join(out.txts or ())

    return read


def _hwocr(precision: str):
    from hwocr import Reader

    readers = {lang: Reader(lang=lang, precision=precision, parallel=True) for lang in ("zh", "ja")}

    def read(rgb, lang):
        return readers[lang].read_page(rgb).text

    return read


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path, nargs="?", default=Path("build/pages"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--configs", nargs="+", default=["hwocr", "rapidocr-ov", "rapidocr-ov-tput"], choices=CONFIGS)
    a = ap.parse_args(argv)
    from hwocr.imageio import load_image
    from hwocr.metrics import score

    metas = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(a.folder.glob("*.json")) if p.name != "index.json"]
    pages = [(load_image(a.folder / m["image"]).rgb, m["lang"], "".join(g["text"] for g in m["lines"])) for m in metas]
    readers = {c: (_hwocr("auto" if c == "hwocr" else "f32") if c.startswith("hwocr") else _rapidocr(c.split("-", 1)[1]))
               for c in a.configs}
    for read in readers.values():  # warm-up: first inferences compile kernels
        read(pages[0][0], pages[0][1])
    rates: dict[str, list[float]] = {c: [] for c in a.configs}
    texts: dict[str, list[str]] = {}
    for _ in range(a.rounds):
        for c, read in readers.items():
            t = time.perf_counter()
            texts[c] = [read(rgb, lang) for rgb, lang, _ in pages]
            rates[c].append(len(pages) / (time.perf_counter() - t))
    print(f"{a.folder} ({len(pages)} pages; {a.rounds} rounds)  {bc.machine()}")
    for c in a.configs:
        s = score(texts[c], [ref for _, _, ref in pages])
        print(f"{c:18s} {statistics.median(rates[c]):6.3f} pages/s  page 1-CER {s.accuracy:.4f}")


if __name__ == "__main__":
    main()
