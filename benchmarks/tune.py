"""Re-derive every shipped decoder and preprocessing constant from scratch, on the validation suite.

The objective is the WORST-CASE gain over a baseline across sets, not the mean on one set:

* preprocessing (narrowing threshold and factor, quiet zone, stroke thickening, smoothing, room above
  and below a character cut to its ink, a second view of an isolated character): greedy
  1-CER relative to the plain "scale to height 48" reading, worst case over all sets (coordinate ascent
  from the shipped values; a variant that ties on it, as one that only changes sets other than the
  worst does, wins by a positive worst-case gain over the current best on the sets where they differ);
* decoder (LM weight, LM cap, relative LM terms, insertion bonus, first-character weight, beam width),
  per language: beam 1-CER minus greedy 1-CER on the same posteriors, worst case over that language's
  validation sets, plus ``DEV_WEIGHT`` x the worst case over the real dev sets (which only confirm).

Each preprocessing variant reads every set once (auto head, both languages) and keeps each line's
top classes per frame restricted to the set's language (``build/tune/*.pkl``, reused by later runs);
the decoder search then runs on those posteriors. The validation suite is built by
``benchmarks/validation.py``; the dev sets are ``<shared>/eval/*``.

    python benchmarks/tune.py                 # everything, prints the tables and the constants to ship
    python benchmarks/tune.py --stage dec     # decoder only, on the shipped preprocessing
    python benchmarks/tune.py --stage pre --fields char_views   # preprocessing only, one field
    python benchmarks/tune.py --stage dec --langs ja --sets ja-sent ja-rand ja-char ja-chars ja-lines
    python benchmarks/tune.py --jobs 2 [--grid lm_weight=0.2,0.3 ...]   # a narrower decoder search
    python benchmarks/tune.py --stage dec [--doc-share 0.5 0.6] [--sure-odds None 20.0 100.0] [--ja-weight 1 2 4]
                                              # lang auto's rules

More draws of the validation sets (``validation.py --more``, ``build/validation-s*/<set>-s*``) are
pooled with the first where they were built.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import math
import pickle
import sys
import time
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402

VAL = bc.ROOT / "build" / "validation"
CACHE = bc.ROOT / "build" / "tune"
VAL_SETS = {"zh-sent": "zh", "zh-rand": "zh", "zh-char": "zh", "ja-sent": "ja", "ja-rand": "ja", "ja-char": "ja",
            # the same random-order lines and characters cut to their ink (validation.py --tight)
            "zh-rand-tight": "zh", "zh-char-tight": "zh", "ja-rand-tight": "ja", "ja-char-tight": "ja",
            # running text with its punctuation and digits, cut into lines
            "zh-run": "zh", "ja-run": "ja"}
DEV_SETS = {"zh-lines": "zh", "zh-chars": "zh", "ja-chars": "ja"}  # ja-lines (1 line) is only reported
DEV_WEIGHT = 0.2
#: objectives closer than this tie (a hundredth of a point: the 0.01 x mean term alone)
TIE = 1e-4
TOP = 24  # classes kept per frame in the cache (beam looks at 4-8)

#: preprocessing variants tried, one field at a time from the current best (coordinate ascent)
PRE_GRID = {
    "squeeze_above": [2.0, 6.67, math.inf],
    "line_squeeze": [0.75, 0.85],
    "side_margin": [0.15, 0.25, 0.4],
    "stroke_width": [0.0, 3.0],
    "blur": [0.0, 0.8],
    "char_fill": [1.0, 0.85, 0.75, 0.65],
    # an isolated character also read with this share of its height of margin all round (hwocr.fusion)
    "char_views": [(), (0.2,), (0.3,), (0.2, 0.4)],
}
#: the decoder grid, searched exhaustively per language (configurations that would delete a confident
#: character are skipped; the absolute fusion of before is reported for comparison)
DEC_GRID = {
    "relative": [True],
    "lm_weight": {"zh": [0.1, 0.2, 0.3, 0.4], "ja": [0.1, 0.2, 0.3, 0.5, 0.8]},
    "lm_cap": [1.0, 2.0, 4.0, 8.0],
    "insertion_bonus": [0.0, 0.2, 0.5],
    "first_weight": {"zh": [-0.4, -0.3, -0.2, -0.1, 0.0], "ja": [-0.1, 0.0, 0.1]},
    # every later character's unigram prior: random-order and everyday lines both gain from dividing
    # out part of the recogniser's own frequency bias while the LM ranks in context
    "prior_weight": {"zh": [0.0, -0.2, -0.4, -0.6, -0.8], "ja": [0.0, -0.1, -0.2, -0.4]},
    "beam_width": [4],
    # (ja) a traditional kanji's cost against its Japanese form (hwocr.variants): not searched here but
    # by benchmarks/variants_check.py with accuracy.py (the validation sets hold Japanese forms only, so
    # they cannot see what it costs); --grid variant_weight=0,0.5,1 searches it like the others
    "variant_weight": {"zh": [0.0], "ja": [0.5]},
}


#: odds tried for hwocr.charsets.SURE_ODDS (None: every character counts fully, the rule before it)
SURE_GRID = (None, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0)


@dataclass
class Item:
    probs: dict[str, list[np.ndarray]]  # language -> per window: T x K, restricted to that language
    cols: dict[str, list[np.ndarray]]  # language -> per window: K class indices into the auto charset
    evidences: dict  # sure odds -> hwocr.charsets.LangEvidence of the unrestricted reading

    @property
    def evidence(self):
        """The evidence with the sure odds and Japanese-only weight this run looks at (``_G["sure_odds"]``,
        ``_G["ja_weight"]``, else the shipped)."""
        from hwocr.charsets import JA_ONLY_WEIGHT, SURE_ODDS

        ev = self.evidences[_G.get("sure_odds", SURE_ODDS)]
        w = _G.get("ja_weight", JA_ONLY_WEIGHT)  # JA_ONLY_WEIGHT's other values, by scaling what it weighs
        return ev if w == JA_ONLY_WEIGHT else replace(ev, ja_only=ev.ja_only * w / JA_ONLY_WEIGHT)

    @property
    def auto(self) -> str:
        return self.evidence.language()


def load_sets(names=None) -> dict[str, tuple[str, list[np.ndarray], list[str]]]:
    from hwocr.imageio import load_image

    out = {}
    for name, lang in {**VAL_SETS, **DEV_SETS, "ja-lines": "ja"}.items():
        if names and name not in names:
            continue
        folder = VAL / name if name in VAL_SETS else bc.SHARED / "eval" / name
        if not (folder / "labels.tsv").exists():
            print(f"skip {name}: {folder} missing", file=sys.stderr)
            continue
        items = bc.labels(folder)
        if name in VAL_SETS:  # more draws of the set (validation.py --more), pooled with it
            for extra in sorted(VAL.parent.glob(f"validation-s*/{name}-s[0-9]*")):
                items += bc.labels(extra)
        out[name] = (lang, [load_image(p).rgb for p, _ in items], [t for _, t in items])
    return out


def posteriors(sets, spec_over: dict, key: str, precision: str = "auto") -> dict[str, list[Item]]:
    """Every set read once with the preprocessing ``spec_over`` at ``precision`` (cached under ``key``
    and the precision that ran)."""
    from hwocr import Reader

    r = Reader(lang="auto", decoder="greedy", precision=precision)
    sizes = "".join(f"{n}{len(v[1])}" for n, v in sorted(sets.items()))  # a different suite: a new cache
    sizes += "ev" + ",".join(map(str, SURE_GRID))  # what the cached language evidence holds
    if spec_over.get("char_views", r.engine.info.input.char_views):
        sizes += "late"  # views fused after the language restriction (caches made before: fused on both)
    path = CACHE / f"{key}-{r.engine.precision}-{hashlib.sha1(sizes.encode()).hexdigest()[:8]}.pkl"
    print(f"posteriors: {path.name}", flush=True)
    if path.exists():
        return pickle.loads(path.read_bytes())
    r.engine.info = replace(r.engine.info, input=replace(r.engine.info.input, **spec_over))
    out = {}
    for name, (lang, rgbs, _) in sets.items():
        items = []
        for post in r.posteriors(rgbs):
            ps, cs = {"zh": [], "ja": []}, {"zh": [], "ja": []}
            for lg in ps:
                own = r._lang_views[lg].cols  # the language's columns of the full head
                for q in r.window_probs(post, lg):
                    top = np.argpartition(-q, TOP, axis=1)[:, :TOP]
                    cols = np.union1d(np.unique(top), [0])
                    ps[lg].append(np.ascontiguousarray(q[:, cols]))
                    cs[lg].append(own[cols].astype(np.int32))
            items.append(Item(ps, cs, {t: r.evidence(post, t) for t in SURE_GRID}))
        out[name] = items
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


# -- decoding on the cache (module globals so that forked workers share them) ----------------------
_G: dict = {}


def _texts(name: str, params: dict | None, auto: dict | None = None) -> list[str]:
    """Greedy (``params`` None) or beam readings of a set in its own language, or, with ``auto``
    (language -> params), in the language lang=auto chose for each line."""
    from hwocr.beam import beam_decode, greedy_decode
    from hwocr.lm import CharLM

    charset = _G["charset"]
    out = []
    doc = _G.get("doc", {}).get(name)
    for i, it in enumerate(_G["post"][name]):
        lang = (doc[i] if doc else it.auto) if auto else _G["langs"][name]
        if auto:
            params = auto[lang]
        s = ""
        for p, cols in zip(it.probs[lang], it.cols[lang]):
            cs = [charset[c] for c in cols]
            if params is None:
                em = greedy_decode(p)
            else:
                em = beam_decode(p, cs, CharLM.for_lang(lang), **_beam_kwargs(params, cs, lang))
            s += "".join(cs[c] for c, _, _ in em)
        out.append(s)
    return out


def _beam_kwargs(params: dict, cs: list[str], lang: str) -> dict:
    """beam_decode's arguments for a grid configuration on a line's cached classes ``cs`` (its
    ``variant_weight`` as the per-class costs the reader gives it: every traditional form costs what it
    costs in the reader's full charset, where its Japanese form always is)."""
    from hwocr.lm import CharLM
    from hwocr.variants import cost_map

    kw = dict(params)
    kw["prune_top"] = kw["beam_width"]
    w = kw.pop("variant_weight", 0.0)
    if w:
        key = ("costs", lang, w)
        if key not in _G:
            _G[key] = cost_map(CharLM.for_lang(lang), w)
        m = _G[key]
        kw["costs"] = np.array([m.get(c, 0.0) for c in cs])
    return kw


def _acc(args) -> float:
    from hwocr.metrics import score

    name, params, *auto = args
    return score(_texts(name, params, *auto), _G["refs"][name]).accuracy


def evaluate(pool, names, configs) -> list[dict[str, float]]:
    jobs = [(n, c) for c in configs for n in names]
    accs = pool.map(_acc, jobs) if pool else list(map(_acc, jobs))
    return [dict(zip(names, accs[i * len(names):(i + 1) * len(names)])) for i in range(len(configs))]


#: (lang, text, index): that character, a single-frame peak of 0.74 or 0.55 with the rest on the blank,
#: must survive the decoder (``tests/test_beam.py`` checks the same for the shipped constants)
SURVIVE = (("zh", "我们今天去公园散步", 4), ("zh", "我们今天鼗公园散步", 4), ("ja", "わたしはがっこうへいきます", 5))


def keeps_confident_characters(lang: str, params: dict) -> bool:
    from hwocr.beam import beam_decode
    from hwocr.lm import CharLM

    for lg, text, at in SURVIVE:
        if lg != lang:
            continue
        cs = ["", *dict.fromkeys(text)]
        for peak in (0.74, 0.55):
            p = np.full((2 * len(text) + 1, len(cs)), 1e-4)
            p[::2, 0] = 1.0
            for i, ch in enumerate(text):
                p[2 * i + 1, cs.index(ch)] = peak if i == at else 1.0
                p[2 * i + 1, 0] = 1 - peak if i == at else 1e-4
            p /= p.sum(axis=1, keepdims=True)
            kw = _beam_kwargs(params, cs, lang)
            if "".join(cs[c] for c, _, _ in beam_decode(p, cs, CharLM.for_lang(lang), **kw)) != text:
                return False
    return True


def objective(gains: dict[str, float]) -> float:
    val = [g for n, g in gains.items() if n.split("@")[0] in VAL_SETS]
    dev = [g for n, g in gains.items() if n.split("@")[0] in DEV_SETS]
    return min(val) + DEV_WEIGHT * (min(dev) if dev else 0.0) + 0.01 * float(np.mean(val))


def tune_decoder(pool, lang: str, greedy: dict[str, float]) -> tuple[dict, dict]:
    """The admissible grid configuration with the best worst-case gain over greedy."""
    names = [n for n, lg in _G["langs"].items() if lg == lang and n.split("@")[0] != "ja-lines"]
    axes = {k: (v[lang] if isinstance(v, dict) else v) for k, v in DEC_GRID.items()}
    grid = [dict(zip(axes, vals)) for vals in itertools.product(*axes.values())]
    grid = [c for c in grid if keeps_confident_characters(lang, c)]
    accs = evaluate(pool, names, grid)
    k = max(range(len(grid)), key=lambda i: objective({n: accs[i][n] - greedy[n] for n in names}))
    print(f"  {lang}: {len(grid)} admissible configurations; best worst-case objective "
          f"{objective({n: accs[k][n] - greedy[n] for n in names}):+.4f}", flush=True)
    return grid[k], accs[k]


def document_langs(items: list[Item], share: float) -> list[str]:
    """Each line's language when the whole set is read in one call (``hwocr.charsets.DocumentLanguage``
    with the majority share ``share``; the set counted at once, not in the reader's chunks)."""
    from hwocr.charsets import DocumentLanguage

    doc = DocumentLanguage(share=share)
    for it in items:
        doc.add(it.evidence.language())
    return [doc.language(it.evidence) for it in items]


def minority_langs(items: list[Item], lang: str) -> list[str]:
    """Each line's language when the set's lines are a minority in a call whose majority reads as the
    other language (a mixed folder): lines whose evidence is weak follow that majority."""
    from hwocr.charsets import WEAK_DECISIVE

    other = "ja" if lang == "zh" else "zh"
    return [it.evidence.language() if it.evidence.decisive > WEAK_DECISIVE else other for it in items]


def _key(c: dict) -> tuple:
    return tuple(sorted(c.items()))


def _fmt(v) -> str:
    if isinstance(v, tuple):  # char_views
        return "v" + "_".join(f"{x:g}" for x in v) if v else "none"
    return f"{v:g}"


def table(rows: list[tuple[str, dict[str, float]]], names: list[str]) -> str:
    head = "| variant | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n"
    return head + "".join(f"| {lab} | " + " | ".join(f"{a[n]:.4f}" for n in names) + " |\n" for lab, a in rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage", choices=["all", "pre", "dec"], default="all")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--sets", nargs="*")
    ap.add_argument("--precisions", nargs="+", default=["auto", "f32"],
                    help="decoder constants are chosen by their worst case over every set at each of these")
    ap.add_argument("--fields", nargs="+", choices=list(PRE_GRID),
                    help="(stage pre) vary only these preprocessing fields, from the shipped values")
    ap.add_argument("--langs", nargs="+", choices=["zh", "ja"], default=["zh", "ja"],
                    help="tune the decoder of these languages (the others keep their shipped constants)")
    ap.add_argument("--grid", nargs="*", default=[], metavar="FIELD=V1,V2",
                    help="search only these values of a decoder field in this run (e.g. lm_weight=0.3,0.5)")
    ap.add_argument("--doc-share", type=float, nargs="*", default=[0.5, 0.6, 0.7],
                    help="majority shares tried for lang auto's one-document reading")
    ap.add_argument("--sure-odds", nargs="*", default=[], choices=[str(v) for v in SURE_GRID],
                    help="for lang auto, also try these values of hwocr.charsets.SURE_ODDS")
    ap.add_argument("--ja-weight", type=float, nargs="*", default=[],
                    help="for lang auto, also try these values of hwocr.charsets.JA_ONLY_WEIGHT")
    a = ap.parse_args(argv)
    from hwocr import Reader
    from hwocr.registry import PPOCR_REC

    t0 = time.time()
    sets = load_sets(a.sets)
    names = list(sets)
    _G["refs"] = {n: s[2] for n, s in sets.items()}
    _G["langs"] = {n: s[0] for n, s in sets.items()}
    _G["charset"] = Reader(lang="auto", decoder="greedy").charset
    shipped = PPOCR_REC.input
    fields = list(PRE_GRID)
    cur = {f: getattr(shipped, f) for f in fields}
    plain = {"squeeze_above": math.inf, "line_squeeze": 1.0, "side_margin": 0.0, "stroke_width": 0.0, "blur": 0.0,
             "char_fill": 1.0, "char_views": ()}

    def key(over):  # (no views: the cache names from before views were a field)
        return "pre-" + "-".join(_fmt(over[f]) for f in fields if over[f] != ())

    ctx = get_context("fork")

    def greedy_of(over):
        _G["post"] = posteriors(sets, over, key(over))
        with ctx.Pool(a.jobs) as pool:
            return evaluate(pool, names, [None])[0]

    if a.stage in ("all", "pre"):
        base = greedy_of(plain)
        rows = [("plain (height 48 only)", base)]
        best, best_acc = dict(cur), greedy_of(cur)
        rows.append((f"shipped {key(cur)}", best_acc))

        def pobj(acc):
            return objective({n: acc[n] - base[n] for n in names if n != "ja-lines"})

        def better(acc, ref) -> bool:
            """A higher objective; on a tie (the same worst case: a variant that only changes sets
            other than the worst, such as the character views), a positive worst-case gain over
            ``ref`` on the sets where the two read differently."""
            if abs(pobj(acc) - pobj(ref)) > TIE:
                return pobj(acc) > pobj(ref)
            diff = [(n, acc[n] - ref[n]) for n in names if n != "ja-lines" and abs(acc[n] - ref[n]) > 1e-12]
            val = [g for n, g in diff if n in VAL_SETS]
            dev = [g for n, g in diff if n in DEV_SETS]
            return bool(diff) and min(val, default=0.0) + DEV_WEIGHT * min(dev, default=0.0) > 0

        for field in a.fields or fields:
            for v in PRE_GRID[field]:
                over = {**best, field: v}
                if over == best:
                    continue
                acc = greedy_of(over)
                rows.append((f"{field}={_fmt(v)}", acc))
                print(f"pre {field}={_fmt(v)}: worst-case greedy gain over plain {pobj(acc):+.4f} (best {pobj(best_acc):+.4f}) "
                      f"[{time.time() - t0:.0f} s]", flush=True)
                if better(acc, best_acc):
                    best, best_acc = over, acc
        print("\nPreprocessing, greedy 1-CER per set:\n" + table(rows, names))
        print(f"chosen preprocessing: {best}\n", flush=True)
        cur = best
        if a.stage == "pre":
            return

    # the decoder is chosen on every set at every precision asked for (the shipped default of this CPU
    # and f32, which CPUs without native bf16 and the test suite run): "set@precision" is one more set
    base_names = names
    post, refs, langs = {}, {}, {}
    for prec in dict.fromkeys(a.precisions):
        got = posteriors(sets, cur, key(cur), prec)
        label = Reader(lang="auto", decoder="greedy", precision=prec).engine.precision
        for n in base_names:
            post[f"{n}@{label}"], refs[f"{n}@{label}"], langs[f"{n}@{label}"] = got[n], _G["refs"][n], _G["langs"][n]
    _G["post"], _G["refs"], _G["langs"] = post, refs, langs
    names = list(post)
    with ctx.Pool(a.jobs) as pool:
        greedy = evaluate(pool, names, [None])[0]
    from hwocr.beam import PARAMS

    for spec in a.grid:  # a narrower decoder search for this run
        field, _, vals = spec.partition("=")
        DEC_GRID[field] = [v == "True" if v in ("True", "False") else int(v) if v.isdigit() else float(v)
                           for v in vals.split(",")]

    # languages not tuned in this run keep their shipped constants (for the auto table below)
    chosen = {lg: {k: v for k, v in vars(PARAMS[lg]).items() if k in DEC_GRID} for lg in ("zh", "ja")}
    rows = [("greedy", greedy)]
    with ctx.Pool(a.jobs) as pool:
        for lang in a.langs:
            old = {"lm_weight": 0.3, "insertion_bonus": 0.5, "first_weight": {"zh": -0.2, "ja": 0.0}[lang],
                   "lm_cap": math.inf, "relative": False, "beam_width": 4, "variant_weight": 0.0}
            lnames = [n for n in names if _G["langs"][n] == lang]
            old_acc = evaluate(pool, lnames, [old])[0]
            best, acc = tune_decoder(pool, lang, greedy)
            chosen[lang] = best
            rows += [(f"{lang} beam, old fusion {old}", old_acc), (f"{lang} beam, chosen {best}", acc)]
            print(f"[{time.time() - t0:.0f} s]", flush=True)
    full = [(lab, {n: acc.get(n, float("nan")) for n in names}) for lab, acc in rows]
    print("\nDecoder, 1-CER per set (same posteriors):\n" + table(full, names))
    auto = {n: sum(it.auto == _G["langs"][n] for it in _G["post"][n]) / max(1, len(_G["post"][n])) for n in names}
    print("lang auto chose the set's language for: " + ", ".join(f"{n} {v:.3f}" for n, v in auto.items()))
    right = {n: _acc((n, chosen[_G["langs"][n]])) for n in names}
    auto_acc = {n: _acc((n, None, chosen)) for n in names}
    auto_g = {n: _acc((n, None, {"zh": None, "ja": None})) for n in names}
    rows = [("greedy, right lang", greedy), ("greedy, auto", auto_g), ("beam, right lang", right),
            ("beam, auto, each line alone", auto_acc)]
    from hwocr.charsets import JA_ONLY_WEIGHT, SURE_ODDS

    for odds, weight in itertools.product(
            dict.fromkeys([SURE_ODDS, *(None if v == "None" else float(v) for v in a.sure_odds)]),
            dict.fromkeys([JA_ONLY_WEIGHT, *a.ja_weight])):
        _G["sure_odds"], _G["ja_weight"] = odds, weight
        tag = (f", sure odds {odds}" if a.sure_odds else "") + (f", ja-only weight {weight:g}" if a.ja_weight else "")
        if tag:  # (the shipped values' row is above)
            rows.append((f"beam, auto, each line alone{tag}", {n: _acc((n, None, chosen)) for n in names}))
        for share in a.doc_share:  # each set read as one call: weak lines follow its majority (hwocr eval DIR)
            _G["doc"] = {n: document_langs(_G["post"][n], share) for n in names}
            rows += [(f"greedy, auto, one document (share {share:g}{tag})",
                      {n: _acc((n, None, {"zh": None, "ja": None})) for n in names}),
                     (f"beam, auto, one document (share {share:g}{tag})", {n: _acc((n, None, chosen)) for n in names})]
        # the set's lines as the minority of a call in the other language: its weak lines follow that one
        _G["doc"] = {n: minority_langs(_G["post"][n], _G["langs"][n]) for n in names}
        rows.append((f"beam, auto, minority in a call of the other language{tag}",
                     {n: _acc((n, None, chosen)) for n in names}))
        _G.pop("doc")
    _G.pop("sure_odds"), _G.pop("ja_weight")
    print("\nlang auto against the right --lang (1-CER):\n" + table(rows, names))
    print(f"\nship: preprocessing {cur}")
    for lang in a.langs:
        print(f"ship: PARAMS[{lang!r}] = {chosen[lang]}")


if __name__ == "__main__":
    main()
