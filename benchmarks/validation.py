"""The validation suite: synthetic handwriting that is not the dev set, built reproducibly from a seed.

Every decoder and preprocessing constant is chosen on these sets (``benchmarks/tune.py``), with the
real dev sets in ``../shared/eval`` only confirming. The lines are drawn by ``scripts/make_samples.py``
(its stroke renderer with the ``mess`` jitter and the ``pen`` width) in five writer styles from

* held-out everyday sentences that never go into LM training: PyPI ``hsk-sentences-audio`` 1.0.0
  (4 354 graded Chinese sentences, CC-BY-SA-4.0) and the Debian ``anthy`` 0.4 source's
  ``corpus/corpus.{1,2,3,5}.txt`` (the surface side of its phrase pairs; GPL-2+/LGPL);
* random-order characters (uniform over GB2312 level 1, or JIS X 0208 level-1 kanji and the kana),
  short (2-5) and long (10-20) lines: text without context, where a language model must not hurt;
* isolated characters from the same pools (a third kana for Japanese);
* running text with its punctuation and digits (``zh-run``, ``ja-run``): the held-out sentences one
  after another (each ending with a mark: a full stop where it had none), cut into lines of 8-22
  characters wherever a line ends (a mark that would open a line closes the one before, as writers
  do). The sentence sets above carry no punctuation at all, and
  real notes do (about one character in seven of the dev zh-lines): commas and full stops are small,
  faint marks, exactly where an insertion bonus or a prior decides whether they are read.

Each set is written as ``build/validation/<set>/`` (PNG files + ``labels.tsv``), so that
``hwocr eval build/validation/zh-sent`` reads it like any eval set.

    mkdir -p build/heldout && pip download --no-deps -d build/heldout hsk-sentences-audio==1.0.0
    (cd build/heldout && apt-get source --download-only anthy && tar xzf anthy_0.4.orig.tar.gz)
    python scripts/make_samples.py --fetch --out build/samples   # stroke data into build/sample-deps
    python benchmarks/validation.py [--seed 11] [--out build/validation]

Tightly cropped copies (``--tight``: the same lines cut to their ink, as character data sets such as
CASIA-HWDB1 and ETL and tight line cutters deliver them; ``<set>-tight`` beside the set, for the random-order
and isolated-character sets) test what the margins around the ink do:

    python benchmarks/validation.py --tight [--more --seed N]

More draws of the random-order and Japanese sets (the first is small enough that a tie of one or two
characters decides a comparison; ``tune.py`` and ``ensemble_eval.py`` pool these with it):

    for s in 12 13 14; do python benchmarks/validation.py --more --seed $s; done
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "build" / "heldout"
OUT = ROOT / "build" / "validation"
DEPS = ROOT / "build" / "sample-deps"

#: (set name, language, kind, count)
SETS = (
    ("zh-sent", "zh", "sent", 200), ("zh-rand", "zh", "rand", 120), ("zh-char", "zh", "char", 200),
    ("ja-sent", "ja", "sent", 200), ("ja-rand", "ja", "rand", 120), ("ja-char", "ja", "char", 200),
    # running text with its punctuation and digits, cut into lines (appended: the sets above keep their draws)
    ("zh-run", "zh", "run", 200), ("ja-run", "ja", "run", 200),
)
#: writer styles: (name, mess, pen width factor, post-processing)
STYLES = (
    ("neat", 0.5, 1.0, ""),
    ("hasty", 2.0, 1.0, ""),
    ("thin-scan", 1.0, 0.55, "1bit"),  # thin pen, 1-bit scan (like ETL)
    ("bold", 1.0, 1.7, ""),
    ("small", 1.0, 1.0, "half"),  # a low-resolution capture, line about 40 px high
)
MAX_SENT = 22


def hsk_sentences(heldout: Path = HELDOUT) -> list[str]:
    whl = next(iter(sorted(heldout.glob("hsk_sentences_audio-1.0.0-*.whl"))), None)
    if whl is None:
        raise SystemExit(f"hsk-sentences-audio not found under {heldout} (see this script's docstring)")
    with zipfile.ZipFile(whl) as z:
        data = json.loads(z.read("hsk_sentences_audio/data/sentences.json"))
    return [d["chinese"] for d in data]


def anthy_sentences(heldout: Path = HELDOUT) -> list[str]:
    files = sorted(heldout.glob("anthy-0.4/corpus/corpus.[1235].txt"))
    if not files:
        raise SystemExit(f"anthy 0.4 corpus not found under {heldout} (see this script's docstring)")
    out = []
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.startswith("#") or "~" in line or " |" not in line:
                continue
            out.append(line.split(" |", 1)[1].replace("|", ""))
    return out


_PUNCT = re.compile(r"[\s\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65!-/:-@\[-`{-~…—–·“”‘’]")


def renderable(text: str, src) -> str | None:
    """The sentence without punctuation, or None if a remaining character has no stroke data
    (digits, Latin, rare characters: the sentence is skipped rather than changed)."""
    t = _PUNCT.sub("", text)
    if not 2 <= len(t) <= MAX_SENT:
        return None
    if re.search(r"[0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]", t):
        return None
    for ch in t:
        try:
            src.strokes(ch)
        except KeyError:
            return None
    return t


KANA = [chr(c) for c in range(0x3041, 0x3094)] + [chr(c) for c in range(0x30A1, 0x30F5)]


def styled(img: Image.Image, post: str) -> Image.Image:
    if post == "1bit":
        g = np.asarray(img.convert("L"))
        return Image.fromarray(np.where(g < 150, 0, 255).astype(np.uint8)).convert("RGB")
    if post == "half":
        return img.resize((max(1, img.width // 2), max(1, img.height // 2)), Image.BILINEAR)
    return img


def photo(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The rendered line as a phone photo of a notebook would show it: ink of a pen colour on tinted
    paper, uneven light, sometimes a ruled line, a slight tilt, blur, sensor noise and JPEG."""
    import cv2

    a = 1.0 - np.asarray(img.convert("L"), dtype=np.float32) / 255.0  # ink coverage
    h, w = a.shape
    paper = np.array([rng.uniform(205, 250), rng.uniform(200, 245), rng.uniform(185, 240)], np.float32)
    ink = np.array([(25, 35, 120), (30, 30, 35), (95, 95, 100), (20, 60, 40)][int(rng.integers(4))], np.float32)
    out = paper * (1 - a[..., None]) + ink * a[..., None]
    if rng.random() < 0.4:  # a ruled line under the text
        y = int(h * rng.uniform(0.85, 0.97))
        out[max(0, y - 1) : y + 1] = out[max(0, y - 1) : y + 1] * 0.6 + np.array([150, 170, 210], np.float32) * 0.4
    xs, ys = np.meshgrid(np.linspace(-1, 1, w), np.linspace(-1, 1, h))
    light = 1.0 - rng.uniform(0.0, 0.3) * (0.5 + 0.5 * (xs * rng.uniform(-1, 1) + ys * rng.uniform(-1, 1)))
    out = out * light[..., None]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-1.5, 1.5)), 1.0)
    out = cv2.warpAffine(out, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.4, 1.2)))
    out = np.clip(out + rng.normal(0, rng.uniform(2, 6), out.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, "JPEG", quality=int(rng.integers(50, 85)))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def running_text(text: str, src) -> str | None:
    """The sentence with its marks (punctuation and digits) that ``src`` draws, other punctuation and
    white space dropped; None where a character left has no stroke data (Latin, rare characters)."""
    t = "".join(c for c in text if not c.isspace() and (not _PUNCT.fullmatch(c) or _has(src, c)))
    if re.search(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a]", t) or not all(_has(src, c) for c in t):
        return None
    return t


def cut_lines(stream: str, n: int, rng: np.random.Generator, lo: int = 8, hi: int = 22) -> list[str]:
    """``n`` consecutive lines of ``lo``-``hi`` characters cut from ``stream``; a mark that would open a
    line is kept at the end of the line before."""
    out, i = [], 0
    while len(out) < n and i < len(stream):
        j = min(len(stream), i + int(rng.integers(lo, hi + 1)))
        while j < len(stream) and _PUNCT.fullmatch(stream[j]):
            j += 1
        out.append(stream[i:j])
        i = j
    return out


def texts(kind: str, lang: str, n: int, rng: np.random.Generator, src) -> list[str]:
    if kind == "run":
        pool = hsk_sentences() if lang == "zh" else anthy_sentences()
        parts: list[str] = []
        size = 0
        for i in rng.permutation(len(pool)):
            t = running_text(pool[int(i)], src)
            if t:  # a sentence ends with a mark (most anthy phrases have none)
                parts.append(t if _PUNCT.fullmatch(t[-1]) else t + "。")
                size += len(parts[-1])
            if size > 23 * n:
                break
        return cut_lines("".join(parts), n, rng)
    if kind == "sent":
        pool = hsk_sentences() if lang == "zh" else anthy_sentences()
        order = rng.permutation(len(pool))
        out: list[str] = []
        for i in order:
            t = renderable(pool[int(i)], src)
            if t is not None and t not in out:
                out.append(t)
            if len(out) == n:
                break
        return out
    from first_char_prior import pool  # GB2312 level 1, JIS level-1 kanji

    chars = [c for c in (pool("zh") if lang == "zh" else pool("ja") + KANA) if _has(src, c)]
    kana = [c for c in KANA if _has(src, c)]
    if kind == "char":
        return [str(rng.choice(kana if lang == "ja" and k % 3 == 0 else chars)) for k in range(n)]
    out = []
    for k in range(n):
        m = int(rng.integers(2, 6)) if k % 2 == 0 else int(rng.integers(10, 21))
        out.append("".join(str(c) for c in rng.choice(chars, m)))
    return out


def _has(src, c: str) -> bool:
    try:
        src.strokes(c)
        return True
    except KeyError:
        return False


#: the sets ``--tight`` copies (sentences are long lines, which no margin rule touches)
TIGHT_SETS = ("zh-rand", "zh-char", "ja-rand", "ja-char")


def tight(img: Image.Image) -> Image.Image:
    """The line cut to its ink box, one pixel of background left around it."""
    import cv2

    from hwocr.preprocess import ink_mask

    a = np.asarray(img.convert("RGB"))
    ys, xs = np.nonzero(ink_mask(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)))
    if not len(xs):
        return img
    return Image.fromarray(a[max(0, ys.min() - 1) : ys.max() + 2, max(0, xs.min() - 1) : xs.max() + 2])


def build(out: Path = OUT, seed: int = 11, deps: Path = DEPS, only: list[str] | None = None, suffix: str = "",
          photos: bool = False, cut: bool = False) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_samples as ms

    kvg = ms.KanjiVG(deps)  # marks drawn too; a set without marks draws exactly as before
    sources = {"zh": ms.WithMarks(ms.HanziWriterData(deps), kvg), "ja": ms.WithMarks(kvg, kvg)}
    for k, (name, lang, kind, n) in enumerate(SETS):
        if (only and name not in only) or (cut and name not in TIGHT_SETS):
            continue
        rng = np.random.default_rng([seed, k])  # --tight: the same lines as the set, cut to their ink
        src = sources[lang]
        folder = out / f"{name}{'-tight' if cut else ''}{suffix}"
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for i, text in enumerate(texts(kind, lang, n, rng, src)):
            style, mess, pen, post = STYLES[int(rng.integers(len(STYLES)))]
            img = styled(ms.render_line(text, src, int(rng.integers(1 << 30)), mess=mess, pen=pen), post)
            if photos:
                img, style = photo(img, rng), f"{style}-photo"
            if cut:
                img, style = tight(img), f"{style}-tight"
            fn = f"{name}-{i:04d}-{style}.png"
            img.save(folder / fn, compress_level=1)
            rows.append(f"{fn}\t{text}\n")
        (folder / "labels.tsv").write_text("".join(rows), encoding="utf-8")
        print(f"{folder}: {len(rows)} lines", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--deps", type=Path, default=DEPS)
    ap.add_argument("--sets", nargs="*", help="build only these sets")
    ap.add_argument("--more", action="store_true",
                    help="another draw of the suite: build/validation-s<seed>/<set>-s<seed> (tune.py and "
                         "ensemble_eval.py pool it with the first)")
    ap.add_argument("--photos", action="store_true",
                    help="every line as a phone photo of a notebook (tinted paper, pen colours, uneven light, "
                         "tilt, blur, noise, JPEG); build it elsewhere with --out: it is a check, not tuning data")
    ap.add_argument("--tight", action="store_true",
                    help="the random-order and isolated-character sets' lines cut to their ink: <set>-tight "
                         "beside each set (with --more, in that draw's folder)")
    a = ap.parse_args(argv)
    if a.photos:
        build(a.out, a.seed, a.deps, a.sets, photos=True, cut=a.tight)
    elif a.more:
        build(ROOT / "build" / f"validation-s{a.seed}", a.seed, a.deps, a.sets, f"-s{a.seed}", cut=a.tight)
    else:
        build(a.out, a.seed, a.deps, a.sets, cut=a.tight)


if __name__ == "__main__":
    main()
