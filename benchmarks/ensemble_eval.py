"""PP-OCRv5 mobile beside PP-OCRv6 small (issue 11 item 5): which combination, measured where.

Stage ``collect`` reads every set once with each model (both-language heads, as ``--lang auto``
reads) and decodes each line, for the right ``--lang`` and for auto (v6's per-line decision), with
greedy and beam, for v6, v5 and the frame-wise fusion of their posteriors (v5's classes mapped onto
v6's charset; the two models give the same frames for the same input). It stores texts and
confidences in a JSON file. Stage ``score`` evaluates the combination rules on that file; the
rules' constants are chosen on the validation suite (worst-case gain over v6 across its ja sets,
and no loss on its zh sets with auto), then the dev sets (``../shared/eval``) confirm.

    python benchmarks/ensemble_eval.py collect [DIR=lang ...]     # -> build/ensemble/lines.json
    python benchmarks/ensemble_eval.py score                      # tables
    python benchmarks/ensemble_eval.py time [DIR ...] [--n 150]   # ms/line, v6 alone vs --ensemble, interleaved
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402
from tune import DEV_SETS, VAL, VAL_SETS  # noqa: E402

#: the validation suite (benchmarks/validation.py builds it into build/validation); $HWOCR_VALIDATION elsewhere
VAL = Path(os.environ.get("HWOCR_VALIDATION", VAL))

OUT = Path(__file__).resolve().parents[1] / "build" / "ensemble"
JA_VAL = ("ja-sent", "ja-rand", "ja-char")
ZH_VAL = ("zh-sent", "zh-rand", "zh-char")


def default_dirs() -> list[str]:
    val = [f"{VAL / n}={lg}" for n, lg in VAL_SETS.items()]
    dev = [f"{bc.SHARED / 'eval' / n}={lg}" for n, lg in {**DEV_SETS, "ja-lines": "ja"}.items()]
    return val + dev


def _line(res) -> dict:
    return {"t": res.text, "c": round(res.confidence, 5), "cc": [round(c.confidence, 4) for c in res.chars]}


def fuse(p6: np.ndarray, p5: np.ndarray, idx: np.ndarray, w: float = 0.5) -> np.ndarray:
    """Frame-wise mixture of v6's posteriors and v5's mapped onto v6's classes (``idx[j]``: v6 index
    of v5 class j, -1 where v6 has none); renormalised."""
    q = np.zeros_like(p6)
    ok = idx >= 0
    np.add.at(q, (slice(None), idx[ok]), p5[:, ok])
    q /= np.maximum(q.sum(axis=1, keepdims=True), 1e-12)
    out = w * p6 + (1 - w) * q
    return out / out.sum(axis=1, keepdims=True)


def collect(dirs: list[str]) -> None:
    from hwocr import Reader
    from hwocr.imageio import load_image
    from hwocr.reader import LinePosteriors

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "lines.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    r6, r5 = Reader(ensemble=False), Reader(engine="ppocr-v5")
    g6, g5 = r6.with_decoder("greedy"), r5.with_decoder("greedy")
    pos6 = {c: i for i, c in enumerate(r6.charset)}
    idx = np.array([pos6.get(c, -1) for c in r5.charset])
    for spec in dirs:
        folder, _, lang = spec.partition("=")
        name = Path(folder).name
        items = bc.labels(Path(folder))
        imgs = [load_image(p).rgb for p, _ in items]
        t0 = time.time()
        posts6, posts5 = r6.posteriors(imgs), r5.posteriors(imgs)
        rows = []
        for (p, ref), a, b in zip(items, posts6, posts5):
            auto = r6.line_language(a)
            row = {"name": p.name, "ref": ref, "auto": auto, "auto5": r5.line_language(b)}
            same = all(x.shape[0] == y.shape[0] for x, y in zip(a.probs, b.probs))
            fused = LinePosteriors(a.windows, tuple(fuse(x, y, idx) for x, y in zip(a.probs, b.probs))) if same else None
            for lg in sorted({lang, auto}):
                d = {"v6g": _line(g6.decode(a, lg)), "v6b": _line(r6.decode(a, lg)),
                     "v5g": _line(g5.decode(b, lg)), "v5b": _line(r5.decode(b, lg))}
                if fused is not None:
                    d["fg"], d["fb"] = _line(g6.decode(fused, lg)), _line(r6.decode(fused, lg))
                row[lg] = d
            rows.append(row)
        data[name] = {"lang": lang, "rows": rows}
        path.write_text(json.dumps(data, ensure_ascii=False))
        print(f"{name}: {len(rows)} lines, {time.time() - t0:.0f} s", flush=True)


# -- combination rules on the collected lines ------------------------------------------------------
def rover(x: dict, y: dict, bias: float, keep: float) -> str:
    """hwocr.ensemble.vote on two collected readings (x preferred)."""
    from hwocr.ensemble import vote

    if len(x["cc"]) != len(x["t"]) or len(y["cc"]) != len(y["t"]):
        return x["t"]
    picks = vote(list(zip(x["t"], x["cc"])), list(zip(y["t"], y["cc"])), bias, keep)
    return "".join((x, y)[k]["t"][i] for k, i in picks)


def rules() -> dict:
    """name -> (row dict of one language -> text)."""
    r: dict = {"v6 (default)": lambda d: d["v6b"]["t"], "v5 alone": lambda d: d["v5b"]["t"]}
    if True:
        r["fused posteriors, beam"] = lambda d: d["fb"]["t"] if "fb" in d else d["v6b"]["t"]
        r["fused posteriors, greedy"] = lambda d: d["fg"]["t"] if "fg" in d else d["v6g"]["t"]
    for m in (0.0, 0.02, 0.05, 0.1):
        r[f"pick by greedy conf, margin {m:g}"] = (lambda m: lambda d: d["v5b"]["t"] if d["v5g"]["c"] > d["v6g"]["c"] + m
                                                    else d["v6b"]["t"])(m)
        r[f"pick by beam conf, margin {m:g}"] = (lambda m: lambda d: d["v5b"]["t"] if d["v5b"]["c"] > d["v6b"]["c"] + m
                                                  else d["v6b"]["t"])(m)
    for bias in (0.0, 0.05, 0.1, 0.2):
        for keep in (0.3, 0.5, 0.7, 0.9):
            r[f"ROVER beam, bias {bias:g}, keep {keep:g}"] = (lambda b, k: lambda d: rover(d["v6b"], d["v5b"], b, k))(bias, keep)
    return r


def score_sets(data: dict, setting: str) -> dict[str, dict[str, float]]:
    """rule -> set -> 1-CER; ``setting``: 'lang' (the right --lang) or 'auto' (ensemble only on lines v6
    calls ja, v6 alone elsewhere)."""
    from hwocr.metrics import score

    out: dict[str, dict[str, float]] = {}
    for rule, f in rules().items():
        for name, s in data.items():
            preds = []
            for row in s["rows"]:
                if setting == "lang":
                    d = row[s["lang"]]
                    preds.append(f(d))
                else:
                    d = row[row["auto"]]
                    preds.append(f(d) if row["auto"] == "ja" else d["v6b"]["t"])
            sc = score(preds, [row["ref"] for row in s["rows"]])
            out.setdefault(rule, {})[name] = (sc.accuracy, sc.exact)
    return out


def score_cmd() -> None:
    data = json.loads((OUT / "lines.json").read_text())
    names = [n for n in (*JA_VAL, *ZH_VAL, "ja-chars", "ja-lines", "zh-chars", "zh-lines") if n in data]
    for setting in ("lang", "auto"):
        tab = score_sets(data, setting)
        base = tab["v6 (default)"]
        print(f"\n## {setting}: 1-CER per set; worst = worst-case gain over v6 on the ja validation sets "
              f"(and zh validation with auto)")
        print("| rule | worst | " + " | ".join(names) + " |")
        print("|---|---|" + "---|" * len(names))
        for rule, row in tab.items():
            crit = [n for n in JA_VAL if n in row] + ([n for n in ZH_VAL if n in row] if setting == "auto" else [])
            worst = min(row[n][0] - base[n][0] for n in crit) if crit else float("nan")
            print(f"| {rule} | {worst:+.4f} | " + " | ".join(f"{row[n][0]:.4f}" for n in names) + " |")


# -- time per line ----------------------------------------------------------------------------------
def time_cmd(dirs: list[str], n: int, method: str) -> None:
    from hwocr import Reader
    from hwocr.imageio import load_image

    cpu = subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True, text=True).stdout.strip()
    print(f"CPU: {cpu}; {os.cpu_count()} cores; load before: {os.getloadavg()}; python {platform.python_version()}")
    import copy

    ens = Reader(ensemble=method)  # the default where v5 is installed
    base = copy.copy(ens)  # v6 alone on the very same compiled v6 model (only v5's work differs)
    base._ensemble = None
    print(f"precision: v6 {base.engine.precision}")
    for folder in dirs:
        items = bc.labels(Path(folder))[:n]
        imgs = [load_image(p).rgb for p, _ in items]
        for r in (base, ens):
            r.read_arrays(imgs[:2])  # warm-up
        t6, te = [], []
        for k, img in enumerate(imgs):  # interleaved, alternating which goes first
            pair = [(base, t6), (ens, te)] if k % 2 == 0 else [(ens, te), (base, t6)]
            for r, ts in pair:
                t = time.perf_counter()
                r.read_arrays([img])
                ts.append((time.perf_counter() - t) * 1000)
        m6, me = statistics.median(t6), statistics.median(te)
        print(f"{Path(folder).name}: n={len(imgs)}  v6 {m6:.1f} ms/line (mean {statistics.mean(t6):.1f})  "
              f"ensemble {me:.1f} ms/line (mean {statistics.mean(te):.1f})  ratio median {me / m6:.2f}, "
              f"mean {statistics.mean(te) / statistics.mean(t6):.2f}", flush=True)
    print(f"load after: {os.getloadavg()}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=("collect", "score", "time"))
    ap.add_argument("dirs", nargs="*")
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--method", default="rover")
    a = ap.parse_args(argv)
    if a.stage == "collect":
        collect(a.dirs or default_dirs())
    elif a.stage == "score":
        score_cmd()
    else:
        time_cmd(a.dirs or [str(VAL / n) for n in JA_VAL] + [str(bc.SHARED / "eval" / "ja-chars"), str(VAL / "zh-sent")],
                 a.n, a.method)


if __name__ == "__main__":
    main()
