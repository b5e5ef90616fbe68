"""What the traditional-form costs (``hwocr.variants``) gain and what they cost: every pair of
``data/ja-variants.txt`` whose two forms the stroke renderer has (KanjiVG), each form drawn as an
isolated character, read as Japanese by the default (beam + LM, with the v5 vote) with the costs, without
them (``variant_weight`` 0), and greedy.

The Japanese forms are what the costs are for (a handwritten 譲 read as 讓); the traditional forms are
what they may cost (a name written 澤, 邊, 櫻). Both are drawn equally often here, while Japanese text
writes the traditional forms about a hundred times less often than their Japanese forms (the LM's
unigram), so the traditional column overstates what users lose.

    python benchmarks/variants_check.py [--draws 2] [--mess 1.0] [--seed 31] [--weights 0.25 0.5 ...]
    python benchmarks/variants_check.py --chars 澤邊齋濱櫻廣眞國學惠 --draws 6 --seed 77 --weights 1
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402


def draw(chars: list[str], draws: int, mess: float, seed: int, deps: Path) -> tuple[list[np.ndarray], list[str]]:
    sys.path.insert(0, str(bc.ROOT / "scripts"))
    import make_samples as ms

    src = ms.KanjiVG(deps)
    rng = np.random.default_rng(seed)
    rgbs, refs = [], []
    for c in chars:
        for _ in range(draws):
            rgbs.append(np.asarray(ms.render_line(c, src, int(rng.integers(1 << 30)), mess=mess)))
            refs.append(c)
    return rgbs, refs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=2)
    ap.add_argument("--mess", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--deps", type=Path, default=bc.ROOT / "build" / "sample-deps")
    ap.add_argument("--weights", type=float, nargs="*", default=[], help="more variant_weight values to try")
    ap.add_argument("--chars", help="only these characters (e.g. name forms: 澤邊齋), each --draws times: "
                                    "how many draws each reading gets right")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(bc.ROOT / "scripts"))
    import make_samples as ms

    import hwocr.beam as beam
    from hwocr import Reader
    from hwocr.variants import pairs

    src = ms.KanjiVG(a.deps)

    def has(c: str) -> bool:
        try:
            src.strokes(c)
            return True
        except KeyError:
            return False

    if a.chars:
        return by_char(list(a.chars), a)
    both = [(t, j) for t, j in pairs() if has(t) and has(j)]
    print(f"{len(both)} of {len(pairs())} pairs drawable; {a.draws} draws of each form, mess {a.mess}; "
          f"{bc.machine()}")
    sets = {"traditional": draw([t for t, _ in both], a.draws, a.mess, a.seed, a.deps),
            "japanese": draw([j for _, j in both], a.draws, a.mess, a.seed + 1, a.deps)}
    shipped = beam.PARAMS["ja"]
    rows = {}
    for label, weight, decoder in runs(a):
        beam.PARAMS["ja"] = replace(shipped, variant_weight=weight)
        r = Reader(lang="ja", decoder=decoder)
        rows[label] = {k: sum(x.text == t for x, t in zip(r.read_arrays(rgbs), refs)) / len(refs)
                       for k, (rgbs, refs) in sets.items()}
    beam.PARAMS["ja"] = shipped
    share = trad_share(both)
    print(f"Japanese text writes the traditional forms {100 * share:.1f}% as often as both forms together "
          "(the LM's unigram); the last column weighs the two columns so")
    print("| reading | traditional forms right | Japanese forms right | at Japanese text's mix |\n|---|---|---|---|")
    for label, acc in rows.items():
        mix = share * acc["traditional"] + (1 - share) * acc["japanese"]
        print(f"| {label} | {acc['traditional']:.3f} | {acc['japanese']:.3f} | {mix:.3f} |")


def trad_share(both: list[tuple[str, str]]) -> float:
    """The traditional forms' share of the pairs' probability mass in the Japanese LM's unigram."""
    import math

    from hwocr.lm import CharLM

    u = CharLM.for_lang("ja").score_pairs([""] * (2 * len(both)), [c for t, j in both for c in (t, j)])
    t = sum(math.exp(u[2 * k]) for k in range(len(both)))
    return t / (t + sum(math.exp(u[2 * k + 1]) for k in range(len(both))))


def runs(a) -> list[tuple[str, float, str]]:
    import hwocr.beam as beam

    w = beam.PARAMS["ja"].variant_weight
    out = [("default", w, "beam"), ("default, no costs", 0.0, "beam"), ("greedy", 0.0, "greedy")]
    return out + [(f"default, variant_weight {x:g}", x, "beam") for x in a.weights]


def by_char(chars: list[str], a) -> None:
    import hwocr.beam as beam
    from hwocr import Reader

    rgbs, refs = draw(chars, a.draws, a.mess, a.seed, a.deps)
    shipped = beam.PARAMS["ja"]
    print("| reading | " + " | ".join(chars) + " |\n|---|" + "---|" * len(chars))
    for label, weight, decoder in runs(a):
        beam.PARAMS["ja"] = replace(shipped, variant_weight=weight)
        out = Reader(lang="ja", decoder=decoder).read_arrays(rgbs)
        got = [sum(x.text == t for x, t in zip(out, refs) if t == c) for c in chars]
        print(f"| {label} | " + " | ".join(f"{g}/{a.draws}" for g in got) + " |")
    beam.PARAMS["ja"] = shipped


if __name__ == "__main__":
    main()
