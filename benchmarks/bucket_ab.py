"""Accuracy of width-bucketed line windows against exact widths, on the same reader (A/B in one process).

Variants: ``exact`` (no buckets: each line at its own padded width), ``zero`` (buckets, zero padding) and
``background`` (buckets, padding in the quiet zone's colour: the shipped setting). Both decoders; prints
1-CER, exact-line rate and how many lines read the same as ``exact``.

    python benchmarks/bucket_ab.py ../shared/eval/zh-lines build/synth-val/zh build/synth-val/ja [--precision f32]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sets", nargs="+", type=Path, help="folders with labels.tsv (a '/ja' in the path: Japanese)")
    ap.add_argument("--precision", default="f32")
    a = ap.parse_args(argv)
    from hwocr import Reader
    from hwocr.imageio import load_image
    from hwocr.metrics import score

    for folder in a.sets:
        lang = "ja" if "/ja" in str(folder) else "zh"
        rows = [ln.split("\t") for ln in (folder / "labels.tsv").read_text(encoding="utf-8").splitlines() if ln.strip()]
        imgs = [load_image(folder / n).rgb for n, _ in rows]
        refs = [t for _, t in rows]
        beam = Reader(lang=lang, precision=a.precision)
        base = beam.engine.info.input
        variants = {"exact": replace(base, width_buckets=()), "zero": replace(base, bucket_pad="zero"),
                    "background": replace(base, bucket_pad="background")}
        for rd in (beam.with_decoder("greedy"), beam):
            ref_texts = None
            for name, spec in variants.items():
                beam.engine.info = replace(beam.engine.info, input=spec)  # shared by both decoders' readers
                texts = [r.text for r in rd.read_arrays(imgs)]
                ref_texts = ref_texts or texts
                s = score(texts, refs)
                same = sum(x == y for x, y in zip(texts, ref_texts))
                print(f"{folder} {a.precision} {rd.decoder:6s} {name:10s} 1-CER {s.accuracy:.4f} exact {s.exact:.3f} "
                      f"same as exact {same}/{len(refs)}", flush=True)
            beam.engine.info = replace(beam.engine.info, input=base)


if __name__ == "__main__":
    main()
