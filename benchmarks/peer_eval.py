"""The peer's accuracy: rapidocr's own recognition call on the same crops as ``hwocr eval``.

rapidocr 3.x ships the same PP-OCRv6-small recogniser; this runs its ``text_rec`` (its preprocessing,
its greedy CTC decoder, its full 18 708-character head) on each image of a labelled folder and
scores the texts with hwocr's metric (1 - corpus CER after NFKC, white space removed).

    python benchmarks/peer_eval.py DIR[,DIR2...] [DIR...] [--engine openvino|onnxruntime]   # DIR1,DIR2: pooled
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402


def peer_texts(paths: list[Path], engine: str = "openvino", batch: int = 6) -> list[str]:
    import cv2
    from rapidocr import EngineType, RapidOCR
    from rapidocr.ch_ppocr_rec.typings import TextRecInput

    et = EngineType.OPENVINO if engine == "openvino" else EngineType.ONNXRUNTIME
    eng = RapidOCR(params={"Rec.engine_type": et, "Det.engine_type": et, "Cls.engine_type": et})
    eng._load_rec_model()
    out: list[str] = []
    for k in range(0, len(paths), batch):
        imgs = [cv2.imread(str(p)) for p in paths[k : k + batch]]
        out += list(eng.text_rec(TextRecInput(img=imgs)).txts)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--engine", choices=["openvino", "onnxruntime"], default="openvino")
    a = ap.parse_args(argv)
    from hwocr.metrics import score

    for d in a.dirs:  # DIR1,DIR2,...: scored pooled
        items = [it for f in str(d).split(",") for it in bc.labels(Path(f))]
        s = score(peer_texts([p for p, _ in items], a.engine), [t for _, t in items])
        fs = str(d).split(",")
        print(f"{Path(fs[0]).name}{f' x{len(fs)}' if len(fs) > 1 else ''}\tn={s.n}\t1-CER={s.accuracy:.4f}\texact={s.exact:.3f}", flush=True)


if __name__ == "__main__":
    main()
