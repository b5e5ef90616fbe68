#!/usr/bin/env python3
"""Build the CJK font hwocr draws previews and overlays with: a subset of Noto Sans CJK JP Regular
(SIL Open Font License 1.1), renamed as the OFL asks of modified versions, covering every character
hwocr's models can output.

Source: PyPI ``noto-cjk-sans-jp-regular==0.0.1`` (``NotoSansCJKjp-Regular.otf``, Google / Adobe,
OFL-1.1). pip installs no CJK font, and that package alone is 16 MB installed; the subset is a
quarter of it. The result, its character list and the licence are written to ``src/hwocr/data/`` (see
``scripts/FONT_SOURCES.md``).

    mkdir -p build/font-deps && pip download --no-deps -d build/font-deps noto-cjk-sans-jp-regular==0.0.1
    pip install fonttools && python scripts/make_font.py
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "hwocr" / "data"
WHEEL = "noto_cjk_sans_jp_regular-0.0.1-py3-none-any.whl"
MEMBER = "noto_cjk_sans_jp_regular/NotoSansCJKjp-Regular.otf"
LICENSE = "noto_cjk_sans_jp_regular-0.0.1.dist-info/licenses/LICENSE"
OUT = "hwocr-cjk-subset.otf"
FAMILY = "hwocr CJK subset"


def characters() -> set[str]:
    """Every character an engine can emit: the embedded PP-OCRv6 charset, the OMZ charlists (when
    ../shared has them), printable ASCII and the full-width forms, kana and CJK punctuation."""
    sys.path.insert(0, str(ROOT / "src"))
    from hwocr.engines.runtime import read_model
    from hwocr.registry import PPOCR_REC
    from hwocr.store import packaged_path

    model = read_model(packaged_path(PPOCR_REC))
    chars = set(model.get_rt_info(["framework", "character"]).astype(str).split("\n"))
    for cl in (ROOT.parent / "shared" / "omz" / "charlists").glob("*.txt"):
        chars |= set(cl.read_text(encoding="utf-8").split("\n"))
    ranges = [(0x20, 0x7E), (0x3000, 0x30FF), (0xFF01, 0xFF5E)]
    chars |= {chr(c) for a, b in ranges for c in range(a, b + 1)}
    return {c for c in chars if len(c) == 1}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deps", type=Path, default=ROOT / "build" / "font-deps")
    args = ap.parse_args(argv)
    from fontTools import subset
    from fontTools.ttLib import TTFont

    wheel = args.deps / WHEEL
    if not wheel.is_file():
        print(f"{wheel} not found; run the pip download command in this script's docstring", file=sys.stderr)
        return 1
    with zipfile.ZipFile(wheel) as z:
        src = args.deps / Path(MEMBER).name
        src.write_bytes(z.read(MEMBER))
        (DATA / f"{OUT}.LICENSE.txt").write_bytes(z.read(LICENSE))
    opts = subset.Options()
    opts.layout_features = []  # characters are drawn one by one, upright
    opts.hinting = False  # previews are drawn large enough not to need it
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    font = TTFont(src)
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=[ord(c) for c in sorted(characters())])
    sub.subset(font)
    for rec in font["name"].names:  # a modified version must not keep the original's name (OFL 1.1)
        if rec.nameID in (1, 4, 16):
            rec.string = FAMILY
        elif rec.nameID == 6:
            rec.string = FAMILY.replace(" ", "-")
        elif rec.nameID == 3:
            rec.string = f"{FAMILY}; from Noto Sans CJK JP Regular"
    font.save(DATA / OUT)
    cmap = sorted(chr(c) for c in font.getBestCmap() if not chr(c).isspace())
    (DATA / f"{OUT}.chars.txt").write_text("".join(cmap) + "\n", encoding="utf-8")
    print(f"{DATA / OUT}: {(DATA / OUT).stat().st_size} bytes, {len(font.getBestCmap())} characters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
