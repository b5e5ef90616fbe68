"""README's accuracy table: for each labelled folder, hwocr greedy, the default (lang auto, beam) and
the right ``--lang`` (beam), decoded from one read of the folder.

Each column is read as ``hwocr eval DIR --decoder greedy``, ``hwocr eval DIR`` and ``hwocr eval DIR
--lang zh|ja`` read it (the folder in batches, as one document for ``--lang auto``; Japanese lines
also by PP-OCRv5 where it is installed). The peer column comes from ``benchmarks/peer_eval.py``.

    python benchmarks/accuracy.py DIR[,DIR2...][=zh|ja] ...   # default: every dev set and validation set,
                          # and each validation set pooled with its more draws (validation.py --more)
    python benchmarks/accuracy.py --precision f32 --input-spec 'char_views=[]' DIR=ja   # as hwocr eval's options
    python benchmarks/accuracy.py --peer DIR=zh ...       # with the peer column and default vs peer
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402
from tune import DEV_SETS, VAL, VAL_SETS  # noqa: E402


def default_dirs() -> list[str]:
    dev = [f"{bc.SHARED / 'eval' / n}={lg}" for n, lg in {**DEV_SETS, "ja-lines": "ja"}.items()]
    val = [f"{VAL / n}={lg}" for n, lg in VAL_SETS.items()]
    for n, lg in VAL_SETS.items():  # the set pooled with its more draws (validation.py --more), where built
        more = sorted(VAL.parent.glob(f"validation-s*/{n}-s[0-9]*"))
        if more:
            val.append(",".join(map(str, [VAL / n, *more])) + f"={lg}")
    return dev + val


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*")
    ap.add_argument("--precision", default="auto", help="as hwocr eval --precision (e.g. f32)")
    ap.add_argument("--input-spec", default=None, help="as hwocr eval --input-spec (e.g. 'char_views=[]')")
    ap.add_argument("--peer", action="store_true", help="also read each set with the peer (rapidocr's own call)")
    a = ap.parse_args(argv)
    from hwocr import Reader
    from hwocr.imageio import load_image
    from hwocr.metrics import paired, score

    kw = {"parallel": True, "precision": a.precision, "input_spec": a.input_spec}  # as the CLI builds it
    auto = Reader(**kw)
    greedy = Reader(decoder="greedy", **kw)
    forced: dict = {}
    peer = ("peer (rapidocr) | ", "---|") if a.peer else ("", "")
    vs = (" default - peer |", "---|") if a.peer else ("", "")
    print(f"| set | n | {peer[0]}greedy | default (auto, beam) | right --lang, beam | auto chose right |"
          f" default - greedy |{vs[0]}")
    print(f"|---|---|{peer[1]}---|---|---|---|---|{vs[1]}")
    for spec in a.dirs or default_dirs():
        folders, _, lang = spec.partition("=")
        if lang and lang not in forced:
            forced[lang] = Reader(lang=lang, **kw)
        refs, texts = [], {"g": [], "d": [], "r": [], "p": []}
        langs: list[str] = []
        for folder in folders.split(","):  # DIR1,DIR2,...: each read as one document, scored pooled
            items = bc.labels(Path(folder))
            refs += [t for _, t in items]
            rgbs = [load_image(p).rgb for p, _ in items]
            res = auto.read_arrays(rgbs)  # exactly what `hwocr eval DIR` reads (the folder as one document)
            langs += [x.lang for x in res]
            texts["d"] += [x.text for x in res]
            texts["g"] += [x.text for x in greedy.read_arrays(rgbs)]
            texts["r"] += [x.text for x in forced[lang].read_arrays(rgbs)] if lang else [x.text for x in res]
            if a.peer:
                from peer_eval import peer_texts

                texts["p"] += peer_texts([p for p, _ in items])
        g, d, r = (score(texts[k], refs) for k in "gdr")
        dg = paired(texts["g"], texts["d"], refs)
        cols = [f"{g.accuracy:.4f}", f"**{d.accuracy:.4f}**", f"{r.accuracy:.4f}"]
        extra = {"vs_greedy": dg.to_dict()}
        if a.peer:
            p = score(texts["p"], refs)
            dp = paired(texts["p"], texts["d"], refs)
            cols.insert(0, f"{p.accuracy:.4f}")
            extra |= {"peer": p.to_dict(), "vs_peer": dp.to_dict()}
        right = sum(lg == lang for lg in langs) / len(langs) if lang else float("nan")
        name = Path(folders.split(",")[0]).name + (f" x{len(folders.split(','))}" if "," in folders else "")
        cols += [f"{right:.3f}", _versus(dg)] + ([_versus(dp)] if a.peer else [])
        print(f"| {name} | {g.n} | " + " | ".join(cols) + " |", flush=True)
        print(json.dumps({"set": name, "greedy": g.to_dict(), "default": d.to_dict(), "lang": r.to_dict(), **extra}),
              file=sys.stderr)


def _versus(p) -> str:
    """A paired comparison as a table cell: net characters, the 95% interval in points."""
    return f"{p.net:+d} ({100 * p.lo:+.2f} .. {100 * p.hi:+.2f})"


if __name__ == "__main__":
    main()
