#!/usr/bin/env python3
"""What `hwocr finetune` gains, costs and keeps (README "Fine-tuning"). Everything it trains is
written under /tmp and deleted unless --keep; weights adapted on ../shared/eval are never to be
shipped or committed.

* ``style``: a handwriting style the base reads badly, held out from everything else (the packaged
  replay / general sets use the ordinary style): scripts/make_samples.py lines written hastily
  (mess 2), with a thick pen, slanted and narrowed. Adapt on 200 lines, measure on 200 others.
* ``real``: ETL8B2 hiragana of ../shared/eval/ja-chars, split by writer (the number at the end of
  each file name is the record number; ETL8B2 stores 160 writers per character, so the writer is
  that number modulo 160): adapt on up to 200 images of writers 0-79, measure on every image of
  writers 80-159. For measuring only.

Each reports 1-CER of the base and the adapted model (hwocr's default reading: beam decoder,
restricted to the language) on the held-out part, on the packaged general synthetic set and on the
dev sets of the language (and the synthetic validation sentences of benchmarks/validation.py when
built), each change with its paired-bootstrap standard error over the lines, and the training time. Run under ``nice``; the machine may be shared.

    python benchmarks/bench_finetune.py style [--minutes 14] [--layers neck]
    python benchmarks/bench_finetune.py real
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "eval"
sys.path.insert(0, str(ROOT / "scripts"))


def write_set(folder: Path, rows: list[tuple[str, str]], src_dir: Path | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, _ in rows:
        if src_dir is not None:
            os.symlink(src_dir / name, folder / name)
    (folder / "labels.tsv").write_text("".join(f"{n}\t{t}\n" for n, t in rows), encoding="utf-8")
    return folder


def styled_line(text: str, src, seed: int) -> np.ndarray:
    """The held-out style: hasty strokes, thick pen, strong slant, narrowed."""
    import cv2
    import make_samples as ms

    img = np.asarray(ms.render_line(text, src, seed, mess=2.0))
    h, w = img.shape[:2]
    sh = 0.45
    img = cv2.warpAffine(img, np.float32([[1, -sh, sh * h], [0, 1, 0]]), (w + int(sh * h), h),
                         borderMode=cv2.BORDER_REPLICATE)
    img = cv2.erode(img, np.ones((5, 5), np.uint8))
    return cv2.resize(img, (int(img.shape[1] * 0.75), img.shape[0]))


def style_sets(work: Path, n: int = 400) -> tuple[Path, Path, str]:
    import cv2
    import make_replay as mr
    import make_samples as ms

    hz = ms.HanziWriterData(ms.DEFAULT_DEPS)
    texts = mr.texts("zh", lambda c: (hz.root / f"{c}.json").is_file(), np.random.default_rng(99), n)
    all_dir = work / "style-all"
    all_dir.mkdir(parents=True)
    rows = []
    for k, t in enumerate(texts):
        cv2.imwrite(str(all_dir / f"{k:04d}.png"), cv2.cvtColor(styled_line(t, hz, 5000 + k), cv2.COLOR_RGB2BGR))
        rows.append((f"{k:04d}.png", t))
    half = n // 2
    return (write_set(work / "adapt", rows[:half], all_dir), write_set(work / "test", rows[half:], all_dir), "zh")


ETL8B2_WRITERS = 160


def writer_sets(work: Path, n_adapt: int = 200) -> tuple[Path, Path, str]:
    src = SHARED / "ja-chars"
    rows = [ln.split("\t") for ln in (src / "labels.tsv").read_text(encoding="utf-8").splitlines() if ln.strip()]
    # ETL8B2 numbers its records character by character, 160 writers each: record n is writer n % 160
    writer = {name: int(re.search(r"_(\d+)\.\w+$", name).group(1)) % ETL8B2_WRITERS for name, _ in rows}
    cut = ETL8B2_WRITERS / 2
    adapt = [(n, t) for n, t in rows if writer[n] < cut]
    test = [(n, t) for n, t in rows if writer[n] >= cut]
    rng = np.random.default_rng(0)
    adapt = [adapt[i] for i in sorted(rng.choice(len(adapt), size=min(n_adapt, len(adapt)), replace=False))]
    print(f"ja-chars writers < {cut:g}: adapt {len(adapt)} images; writers >= {cut:g}: test {len(test)} images",
          file=sys.stderr)
    return write_set(work / "adapt", adapt, src), write_set(work / "test", test, src), "ja"


def read_score(folder: Path, lang: str, engine: str) -> dict:
    from hwocr import Reader
    from hwocr.metrics import edit_distance, normalize, read_labels, score

    rows = read_labels(folder)
    reader = Reader(lang=lang, engine=engine)
    preds = [r.text for r in reader.read_batch([str(p) for p, _ in rows])]
    refs = [t for _, t in rows]
    edits = [edit_distance(normalize(p), normalize(t)) for p, t in zip(preds, refs)]
    return {"n": len(rows), "accuracy": round(score(preds, refs).accuracy, 4), "edits": edits,
            "chars": [len(normalize(t)) for t in refs]}


def paired_noise(base: dict, adapted: dict, rounds: int = 2000) -> float:
    """Standard error of the 1-CER change, by a paired bootstrap over the lines."""
    rng = np.random.default_rng(0)
    d = np.asarray(base["edits"]) - np.asarray(adapted["edits"])
    n = np.asarray(base["chars"])
    idx = rng.integers(len(d), size=(rounds, len(d)))
    return round(float((d[idx].sum(1) / n[idx].sum(1)).std()), 4)


def general_sets(lang: str) -> dict[str, Path]:
    from hwocr.train.finetune import replay_dir

    out = {f"general-{lang} (packaged check)": replay_dir(lang, "check")}
    sent = ROOT / "build" / "validation" / f"{lang}-sent"  # synthetic: benchmarks/validation.py
    if (sent / "labels.tsv").is_file():
        out[f"validation {lang}-sent"] = sent
    names = ["zh-lines", "zh-chars"] if lang == "zh" else ["ja-lines"]
    out.update({n: SHARED / n for n in names if (SHARED / n / "labels.tsv").is_file()})
    return out


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x {os.cpu_count()}"
    except OSError:
        pass
    return "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["style", "real"])
    ap.add_argument("--minutes", type=float, default=14.0)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--layers", default="neck")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--anchor", type=float, default=None, help="L2-SP weight (default: TrainConfig's)")
    ap.add_argument("--distill", type=float, default=None, help="distillation weight (default: TrainConfig's)")
    ap.add_argument("--replay", type=float, default=None, help="replayed share of a batch (default: TrainConfig's)")
    ap.add_argument("--seed", type=int, default=0, help="training seed (held-out split, batches, augmentation)")
    ap.add_argument("--keep", action="store_true", help="keep the /tmp work folder")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from hwocr.train.finetune import finetune
    from hwocr.train.loop import TrainConfig

    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix=f"hwocr-bench-ft-{args.what}-", dir="/tmp"))
    try:
        adapt, test, lang = style_sets(work) if args.what == "style" else writer_sets(work)
        cfg = TrainConfig(scope=args.layers, minutes=args.minutes, max_steps=args.steps, seed=args.seed,
                          **({"lr": args.lr} if args.lr else {}),
                          **({"anchor": args.anchor} if args.anchor is not None else {}),
                          **({"distill": args.distill} if args.distill is not None else {}),
                          **({"replay": args.replay} if args.replay is not None else {}))
        t0 = time.monotonic()

        def progress(step, total, held, best):
            print(f"  step {step}/{total}  held-out 1-CER {held:.4f} (best {best:.4f})  {time.monotonic() - t0:.0f} s",
                  file=sys.stderr, flush=True)

        from hwocr.train.loop import WorseModelError

        try:
            res = finetune(adapt, work / "model", lang=lang, config=cfg, progress=progress)
        except WorseModelError as e:
            r = e.report
            print(json.dumps({"what": args.what, "refused": str(e), "config": r.config, "steps": r.steps,
                              "train_seconds": r.seconds, "history": r.history, "loadavg_start": load_start,
                              "loadavg": os.getloadavg(), "cpu": cpu_name()}, ensure_ascii=False))
            return 3
        out = {"what": args.what, "lang": lang, "finetune_seconds": round(time.monotonic() - t0, 1), "layers": args.layers, "lr": cfg.lr, "anchor": cfg.anchor, "seed": cfg.seed,
               "distill": cfg.distill, "replay": cfg.replay, "train_seconds": res.report.seconds,
               "steps": res.report.steps, "best_step": res.report.best_step, "stopped": res.report.stopped,
               "internal": {"base": vars(res.report.base), "best": vars(res.report.best)}, "data": res.data,
               "history": res.report.history,
               "loadavg_start": load_start, "loadavg": os.getloadavg(), "sets": {}}
        sets = {"held-out part": test, **general_sets(lang)}
        for name, folder in sets.items():
            b, a = read_score(folder, lang, "ppocr"), read_score(folder, lang, str(work / "model"))
            out["sets"][name] = {"n": b["n"], "base": b["accuracy"], "adapted": a["accuracy"],
                                 "change": round(a["accuracy"] - b["accuracy"], 4), "noise": paired_noise(b, a)}
            print(f"{name:16s} n={b['n']:4d}  base {b['accuracy']:.4f}  adapted {a['accuracy']:.4f}  "
                  f"(change {a['accuracy'] - b['accuracy']:+.4f} +- {out['sets'][name]['noise']:.4f})", file=sys.stderr)
        out["cpu"] = cpu_name()
        out["loadavg_end"] = os.getloadavg()
        print(json.dumps(out, ensure_ascii=False))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
