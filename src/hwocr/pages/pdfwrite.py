"""A minimal searchable-PDF writer: each page is its image (JPEG) with an invisible text layer.

The text uses one composite (Type0, Identity-H) font whose character ids are numbered per document
(from CID_BASE) and mapped back to Unicode by a ToUnicode CMap, so any script can be searched and
copied. The font is embedded: ``data/glyphless.ttf`` (``scripts/make_glyphless_font.py``), one
full-em square that every character id is mapped to and that is never drawn (text render mode 3).
PDFium drops the text of a CJK font it cannot load (not embedded, and no CJK font installed) and the
characters of an empty glyph, hence an embedded font whose glyph has an outline. The collection
declared is Adobe-Japan1, for viewers that substitute a system font anyway; ids below 1000 are left
out of it (CID 1 is the space there). Each character is placed in its detected cell, scaled to fit.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from importlib import resources
from typing import Sequence

import numpy as np
from PIL import Image

from ..errors import HwocrError

CID_BASE = 1000
MAX_CHARS = 20000  # Adobe-Japan1-6 has 23058 CIDs
FONT_RESOURCE = "data/glyphless.ttf"
CELL_GLYPH = 1  # the font's square (glyph 0 is .notdef)


def _utf16_hex(s: str) -> str:
    """``s`` as the UTF-16BE hex of a ToUnicode entry; a lone surrogate (a record edited by hand) as
    U+FFFD: UTF-16 cannot encode it, which failed the whole PDF."""
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in s).encode("utf-16-be").hex().upper()


def _glyphless_font() -> bytes:
    return resources.files("hwocr").joinpath(FONT_RESOURCE).read_bytes()


def _tounicode(chars: list[str]) -> bytes:
    lines = [
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def", "/CMapType 2 def",
        "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange",
    ]
    for k in range(0, len(chars), 100):
        chunk = chars[k : k + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{k + i + CID_BASE:04X}> <{_utf16_hex(c)}>" for i, c in enumerate(chunk)]
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode("ascii")


@dataclass(frozen=True)
class EncodedImage:
    """A page image already compressed for the PDF (a long document keeps these, not the pixels)."""

    width: int  # the page's pixels (the text layer's coordinates)
    height: int
    jpeg: bytes
    jpeg_width: int = 0  # the JPEG's own size, when it had to be smaller than the page (0: the page's)
    jpeg_height: int = 0


#: JPEG holds at most this many pixels per side (libjpeg): a wider page is embedded scaled down, its text
#: layer still in page units (a 66 000 px page failed the whole PDF after every page was read)
JPEG_MAX_SIDE = 65_500


def encode_page(rgb: np.ndarray, quality: int = 85) -> EncodedImage:
    h, w = rgb.shape[:2]
    img = Image.fromarray(rgb).convert("RGB")
    s = min(1.0, JPEG_MAX_SIDE / max(w, h))
    if s < 1:
        img = img.resize((max(1, int(w * s)), max(1, int(h * s))), Image.Resampling.BOX)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return EncodedImage(w, h, buf.getvalue(), img.width, img.height)


def write_searchable_pdf(pages: Sequence, images: Sequence[np.ndarray | EncodedImage], dpi: float = 200,
                         quality: int = 85) -> bytes:
    if len(pages) != len(images):
        raise HwocrError("searchable PDF: one image per page result is needed")
    if not pages:
        raise HwocrError("searchable PDF: no pages to write")
    alphabet: dict[str, int] = {}
    for p in pages:
        for ln in p.lines:
            for c in ln.chars:
                # (an empty character has no code: an empty ToUnicode entry made viewers show the CID's
                # Adobe-Japan1 glyph, a stray katakana, in its place)
                if c.char and c.char not in alphabet and len(alphabet) < MAX_CHARS:
                    alphabet[c.char] = len(alphabet) + CID_BASE
    objs: list[bytes] = []  # object k+1 is objs[k]

    def add(body: bytes) -> int:
        objs.append(body)
        return len(objs)

    def stream(dict_body: str, data: bytes) -> bytes:
        return f"<< {dict_body} /Length {len(data)} >>\nstream\n".encode("ascii") + data + b"\nendstream"

    catalog = add(b"")  # filled in below
    pages_id = add(b"")
    tou = add(stream("", _tounicode(list(alphabet))))
    ttf = _glyphless_font()
    fontfile = add(stream(f"/Length1 {len(ttf)}", ttf))
    gid_map = zlib.compress(CELL_GLYPH.to_bytes(2, "big") * (CID_BASE + len(alphabet)))
    cid_to_gid = add(stream("/Filter /FlateDecode", gid_map))
    desc = add(f"<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 4 /FontBBox [0 0 1000 1000] "
               f"/ItalicAngle 0 /Ascent 1000 /Descent 0 /CapHeight 1000 /StemV 80 /FontFile2 {fontfile} 0 R >>"
               .encode("ascii"))
    cid = add(f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont /CIDSystemInfo << /Registry (Adobe) "
              f"/Ordering (Japan1) /Supplement 6 >> /FontDescriptor {desc} 0 R /DW 1000 /CIDToGIDMap {cid_to_gid} 0 R >>"
              .encode("ascii"))
    font = add(f"<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H "
               f"/DescendantFonts [{cid} 0 R] /ToUnicode {tou} 0 R >>".encode("ascii"))
    kids = []
    k = 72.0 / dpi
    for page, rgb in zip(pages, images):
        enc = rgb if isinstance(rgb, EncodedImage) else encode_page(rgb, quality)
        w, h = enc.width, enc.height
        jw, jh = enc.jpeg_width or w, enc.jpeg_height or h
        img = add(stream(f"/Type /XObject /Subtype /Image /Width {jw} /Height {jh} /ColorSpace /DeviceRGB "
                         f"/BitsPerComponent 8 /Filter /DCTDecode", enc.jpeg))
        wp, hp = w * k, h * k
        ops = [f"q {wp:.2f} 0 0 {hp:.2f} 0 0 cm /Im0 Do Q", "BT 3 Tr"]
        for ln in page.lines:
            for c in ln.chars:
                code = alphabet.get(c.char)
                if code is None:
                    continue
                q = np.asarray(c.polygon, dtype=np.float64)
                x0, y0 = q.min(axis=0)
                x1, y1 = q.max(axis=0)
                size = max(1.0, (y1 - y0) * k)
                tz = max(1.0, 100.0 * (x1 - x0) * k / size)
                ops.append(f"/F1 {size:.2f} Tf {tz:.1f} Tz 1 0 0 1 {x0 * k:.2f} {(h - y1) * k:.2f} Tm <{code:04X}> Tj")
        ops.append("ET")
        content = add(stream("", "\n".join(ops).encode("ascii")))
        kids.append(add(f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {wp:.2f} {hp:.2f}] "
                        f"/Resources << /XObject << /Im0 {img} 0 R >> /Font << /F1 {font} 0 R >> >> "
                        f"/Contents {content} 0 R >>".encode("ascii")))
    objs[catalog - 1] = f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode("ascii")
    objs[pages_id - 1] = f"<< /Type /Pages /Kids [{' '.join(f'{i} 0 R' for i in kids)}] /Count {len(kids)} >>".encode("ascii")
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n".encode("ascii") + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode("ascii"))
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode("ascii"))
    out.write(f"trailer\n<< /Size {len(objs) + 1} /Root {catalog} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode("ascii"))
    return out.getvalue()
