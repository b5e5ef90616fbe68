"""Render synthetic validation lines (scripts/make_samples.py's handwriting-like renderer) into a folder
(``zh/`` and ``ja/``, each with labels.tsv), for measurements that must not rely on the small eval sets alone.

Half zh (common GB2312 level-1 characters, hanzi-writer-data strokes), half ja (kana and KanjiVG
kanji); 1-40 characters per line, in random order (so no language model can guess them); each
line rescaled to a random height (28-120 px), so widths vary widely.
Needs build/sample-deps (see scripts/make_samples.py).

    python benchmarks/synth_lines.py --out build/synth-val --n 400 --seed 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def _zh_chars(has) -> list[str]:
    out = []
    for hi in range(0xB0, 0xD8):  # GB2312 level 1 (the 3755 most common hanzi)
        for lo in range(0xA1, 0xFF):
            try:
                c = bytes([hi, lo]).decode("gb2312")
            except UnicodeDecodeError:
                continue
            if has(c):
                out.append(c)
    return out


def _ja_chars(kv) -> tuple[list[str], list[str]]:
    names = {Path(p).stem for p in kv.zip.namelist() if p.startswith("kanji/") and p.endswith(".svg")}
    have = {chr(int(s, 16)) for s in names if "-" not in s}
    kana = [c for c in map(chr, range(0x3041, 0x3097)) if c in have]
    kana += [c for c in map(chr, range(0x30A1, 0x30F7)) if c in have]
    kanji = sorted(c for c in have if "\u4e00" <= c <= "\u9fff")
    return kana, kanji


def render(out: Path, n: int, seed: int) -> None:
    import make_samples as ms

    deps = ROOT / "build" / "sample-deps"
    hz, kv = ms.HanziWriterData(deps), ms.KanjiVG(deps)
    zh = _zh_chars(lambda c: (hz.root / f"{c}.json").is_file())
    kana, kanji = _ja_chars(kv)
    rng = np.random.default_rng(seed)
    rows: dict[str, list[str]] = {"zh": [], "ja": []}
    for lang in rows:
        (out / lang).mkdir(parents=True, exist_ok=True)
    for k in range(n):
        lang = "zh" if k % 2 == 0 else "ja"
        length = int(rng.choice([1, 1, 2, 3, 5, 8, 12, 16, 20, 25, 30, 40]))
        if lang == "zh":
            text = "".join(rng.choice(zh, length))
        else:
            text = "".join(rng.choice(kana) if rng.random() < 0.5 else rng.choice(kanji) for _ in range(length))
        img = ms.render_line(text, hz if lang == "zh" else kv, seed * 1000003 + k)
        h = int(rng.integers(28, 121))
        img = img.resize((max(1, round(img.width * h / img.height)), h), Image.LANCZOS)
        name = f"{lang}-{k:04d}.png"
        img.save(out / lang / name)
        rows[lang].append(f"{name}\t{text}\n")
    for lang, r in rows.items():
        (out / lang / "labels.tsv").write_text("".join(r), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "synth-val")
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    render(a.out, a.n, a.seed)


if __name__ == "__main__":
    main()
