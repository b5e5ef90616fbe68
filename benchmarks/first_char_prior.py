"""Isolated characters: 1 - CER of greedy and of beam search at several first-character LM weights.

A line's first character has no context, so the beam decoder scores it with the LM's unigram prior
times ``FIRST_WEIGHT[lang]`` (negative: divide part of the recogniser's own frequency bias out).
This reads isolated characters once and decodes their posteriors with each weight:

* synthetic characters drawn *uniformly* from a standard character set, so that no class is more
  likely than another (like HWDB and ETL): GB2312 level 1 (zh), JIS X 0208 level-1 kanji (ja) and
  the 46 basic hiragana (ja-kana), rendered handwriting-like by ``scripts/make_samples.py`` with
  extra ``--mess`` (needs its build dependencies: ``python scripts/make_samples.py --fetch``);
* with ``--real``, the isolated-character eval sets in ``<shared>/eval`` (zh-chars, ja-chars).

    python benchmarks/first_char_prior.py [--n 1000] [--mess 2.0] [--seed 1] [--real]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402

WEIGHTS = (-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3)
HIRAGANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"


def pool(kind: str) -> list[str]:
    """The characters a synthetic set is drawn from, uniformly."""
    if kind == "ja-kana":
        return list(HIRAGANA)
    out = []
    if kind == "zh":  # GB2312 level 1: rows 16-55
        for hi in range(0xB0, 0xD8):
            for lo in range(0xA1, 0xFF):
                try:
                    out.append(bytes([hi, lo]).decode("gb2312"))
                except UnicodeDecodeError:
                    pass
    else:  # JIS X 0208 level-1 kanji: Shift_JIS 889F-9872
        for hi in range(0x88, 0x99):
            for lo in [*range(0x40, 0x7F), *range(0x80, 0xFD)]:
                try:
                    c = bytes([hi, lo]).decode("shift_jis")
                except UnicodeDecodeError:
                    continue
                if 0x4E00 <= ord(c) <= 0x9FFF:
                    out.append(c)
    return list(dict.fromkeys(out))


def synthetic(kind: str, n: int, mess: float, seed: int, deps: Path) -> tuple[list[np.ndarray], list[str]]:
    sys.path.insert(0, str(bc.ROOT / "scripts"))
    import make_samples as ms

    src = ms.HanziWriterData(deps) if kind == "zh" else ms.KanjiVG(deps)
    rng = np.random.default_rng(seed)
    chars = pool(kind)
    rgbs, refs = [], []
    while len(refs) < n:
        c = chars[int(rng.integers(len(chars)))]
        try:
            src.strokes(c)
        except KeyError:
            continue
        rgbs.append(np.asarray(ms.render_line(c, src, int(rng.integers(1 << 30)), mess=mess)))
        refs.append(c)
    return rgbs, refs


def evaluate(name: str, lang: str, rgbs: list[np.ndarray], refs: list[str], weights) -> None:
    from hwocr import Reader
    from hwocr.beam import BEAM_WIDTH, DEFAULTS, FIRST_WEIGHT, PRUNE_TOP, beam_decode, greedy_decode
    from hwocr.lm import CharLM
    from hwocr.metrics import score

    reader = Reader(lang=lang, decoder="beam")
    cs, lm = reader.charset, CharLM.for_lang(lang)
    alpha, bonus = DEFAULTS[lang]
    probs = [reader.window_probs(p)[0] for p in reader.posteriors(rgbs)]  # one window each: isolated characters

    def acc(decode) -> float:
        return score(["".join(cs[c] for c, _, _ in decode(p)) for p in probs], refs).accuracy

    row = [f"{acc(greedy_decode):7.4f}"]
    for w in weights:
        row.append(f"{acc(lambda p: beam_decode(p, cs, lm, beam_width=BEAM_WIDTH, prune_top=PRUNE_TOP, lm_weight=alpha, insertion_bonus=bonus, first_weight=w)):7.4f}")
    print(f"{name:10s} {len(refs):5d} " + " ".join(row) + f"   (shipped: {FIRST_WEIGHT[lang]:+.1f})", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="synthetic characters per set (default 1000)")
    ap.add_argument("--mess", type=float, default=2.0, help="extra stroke jitter (default 2.0)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--deps", type=Path, default=bc.ROOT / "build" / "sample-deps")
    ap.add_argument("--real", action="store_true", help="also the eval sets zh-chars and ja-chars")
    ap.add_argument("--sets", nargs="+", default=["zh", "ja", "ja-kana"], choices=["zh", "ja", "ja-kana"])
    a = ap.parse_args(argv)
    print(f"{'set':10s} {'n':>5s} {'greedy':>7s} " + " ".join(f"{w:+7.1f}" for w in WEIGHTS) + "   <- beam, first-char weight")
    for k, kind in enumerate(a.sets):
        rgbs, refs = synthetic(kind, a.n, a.mess, a.seed * 100 + k, a.deps)
        evaluate(f"syn-{kind}", "zh" if kind == "zh" else "ja", rgbs, refs, WEIGHTS)
    if a.real:
        from hwocr.imageio import load_image

        for name, lang in (("zh-chars", "zh"), ("ja-chars", "ja")):
            items = bc.labels(bc.SHARED / "eval" / name)
            evaluate(name, lang, [load_image(p).rgb for p, _ in items], [t for _, t in items], WEIGHTS)


if __name__ == "__main__":
    main()
