#!/usr/bin/env python3
"""Build the font of the searchable PDF's invisible text layer: a TrueType font with one glyph, a
full-em square, which every character id of the text layer is mapped to.

The text layer is drawn in render mode 3 (invisible), so the glyph is never painted; it only has to
exist. PDFium (Chrome's viewer, pypdfium2) drops the text of a font it cannot load (a non-embedded
CJK font on a machine with no CJK font installed) and the characters of an empty glyph (no
outline), so the PDF embeds this font and its glyph has an outline. The square also makes a
selected character's highlight fill its cell. Deterministic: the same bytes on every run (the
timestamps are zero), and ``tests/test_page.py`` checks the shipped file against this script.

    pip install fonttools && python scripts/make_glyphless_font.py
"""

from __future__ import annotations

import io
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "hwocr" / "data" / "glyphless.ttf"
EM = 1000


def build() -> bytes:
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    pen = TTGlyphPen(None)
    pen.moveTo((0, 0))
    pen.lineTo((0, EM))
    pen.lineTo((EM, EM))
    pen.lineTo((EM, 0))
    pen.closePath()
    fb = FontBuilder(EM, isTTF=True)
    fb.setupGlyphOrder([".notdef", "cell"])
    fb.setupCharacterMap({})
    fb.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "cell": pen.glyph()})
    fb.setupHorizontalMetrics({".notdef": (EM, 0), "cell": (EM, 0)})
    fb.setupHorizontalHeader(ascent=EM, descent=0)
    fb.setupNameTable({"familyName": "GlyphLessFont", "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=EM, sTypoDescender=0, usWinAscent=EM, usWinDescent=0)
    fb.setupPost()
    fb.font["head"].created = fb.font["head"].modified = 0
    buf = io.BytesIO()
    fb.save(buf)
    return buf.getvalue()


if __name__ == "__main__":
    data = build()
    OUT.write_bytes(data)
    print(f"{OUT}: {len(data)} bytes")
