"""Accuracy of the ppocr preprocessing choices, each switched off or varied on its own.

Reads the eval sets with the model's input spec as shipped and with one field changed
(``side_margin``: the quiet zone left and right; ``line_squeeze``: how much lines wider than
``squeeze_above`` x their height are narrowed), for both decoders, and prints 1 - CER.

    python benchmarks/preprocess_ablation.py [--sets zh-lines zh-chars ja-chars]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402

LANG = {"zh-lines": "zh", "zh-chars": "zh", "ja-chars": "ja", "ja-lines": "ja"}
VARIANTS = {
    "as shipped": {},
    "no quiet zone": {"side_margin": 0.0},
    "lines not narrowed": {"line_squeeze": 1.0},
    "neither": {"side_margin": 0.0, "line_squeeze": 1.0},
    **{f"lines narrowed to {s}": {"line_squeeze": s} for s in (0.65, 0.7, 0.8)},
}


def main(argv: list[str] | None = None) -> None:
    from hwocr import Reader
    from hwocr.imageio import load_image
    from hwocr.metrics import score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=["zh-lines", "zh-chars", "ja-chars"], choices=sorted(LANG))
    a = ap.parse_args(argv)
    print(f"{'set':9s} {'variant':24s} {'greedy':>7s} {'beam':>7s}")
    for name in a.sets:
        items = bc.labels(bc.SHARED / "eval" / name)
        rgbs = [load_image(p).rgb for p, _ in items]
        refs = [t for _, t in items]
        readers = [Reader(lang=LANG[name], decoder=d) for d in ("greedy", "beam")]
        shipped = readers[0].engine.info
        for label, off in VARIANTS.items():
            accs = []
            for r in readers:
                r.engine.info = replace(shipped, input=replace(shipped.input, **off))
                accs.append(score([x.text for x in r.read_arrays(rgbs)], refs).accuracy)
            print(f"{name:9s} {label:24s} {accs[0]:7.4f} {accs[1]:7.4f}", flush=True)


if __name__ == "__main__":
    main()
