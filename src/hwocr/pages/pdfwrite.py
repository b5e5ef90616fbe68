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
from typing import BinaryIO, Iterable, Sequence

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


def write_searchable_pdf(pages: Sequence, images: Iterable[np.ndarray | EncodedImage], dpi: float = 200,
                         quality: int = 85) -> bytes:
    """The searchable PDF of ``pages`` (one image per page result) as bytes."""
    out = io.BytesIO()
    write_searchable_pdf_to(out, pages, images, dpi, quality)
    return out.getvalue()


def write_searchable_pdf_to(f: BinaryIO, pages: Sequence, images: Iterable[np.ndarray | EncodedImage],
                            dpi: float = 200, quality: int = 85) -> None:
    """Write the searchable PDF of ``pages`` to ``f`` object by object, taking each page's image from
    ``images`` only when its page is written: a long document holds one page's image at a time (a batch
    export of 10 000 pages held every page's JPEG and then the whole PDF, gigabytes of each)."""
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
    w = _ObjectWriter(f)
    catalog, pages_id = w.reserve(), w.reserve()  # written last, once the pages are known
    font = _write_font(w, alphabet)
    kids = []
    k = 72.0 / dpi
    it = iter(images)
    for page in pages:
        rgb = next(it, None)
        if rgb is None:
            raise HwocrError("searchable PDF: one image per page result is needed")
        kids.append(_write_page(w, page, rgb if isinstance(rgb, EncodedImage) else encode_page(rgb, quality),
                                alphabet, font, pages_id, k))
    if next(it, None) is not None:
        raise HwocrError("searchable PDF: one image per page result is needed")
    w.put(catalog, f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode("ascii"))
    w.put(pages_id, f"<< /Type /Pages /Kids [{' '.join(f'{i} 0 R' for i in kids)}] /Count {len(kids)} >>"
          .encode("ascii"))
    w.finish(catalog)


class _ObjectWriter:
    """PDF objects written as they come (in any order of their numbers), then the cross-reference table;
    ``f`` is at the start of the file (offsets count from there)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.offsets: dict[int, int] = {}
        self.count = 0
        self.pos = 0
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self.f.write(data)
        self.pos += len(data)

    def reserve(self) -> int:
        self.count += 1
        return self.count

    def put(self, num: int, body: bytes) -> None:
        self.offsets[num] = self.pos
        self._write(f"{num} 0 obj\n".encode("ascii") + body + b"\nendobj\n")

    def add(self, body: bytes) -> int:
        num = self.reserve()
        self.put(num, body)
        return num

    def finish(self, root: int) -> None:
        xref = self.pos
        n = self.count + 1
        self._write(f"xref\n0 {n}\n0000000000 65535 f \n".encode("ascii"))
        self._write("".join(f"{self.offsets[i]:010d} 00000 n \n" for i in range(1, n)).encode("ascii"))
        self._write(f"trailer\n<< /Size {n} /Root {root} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode("ascii"))


def _stream(dict_body: str, data: bytes) -> bytes:
    return f"<< {dict_body} /Length {len(data)} >>\nstream\n".encode("ascii") + data + b"\nendstream"


def _write_font(w: _ObjectWriter, alphabet: dict[str, int]) -> int:
    """The document's one font (see the module docstring); returns its object number."""
    tou = w.add(_stream("", _tounicode(list(alphabet))))
    ttf = _glyphless_font()
    fontfile = w.add(_stream(f"/Length1 {len(ttf)}", ttf))
    gid_map = zlib.compress(CELL_GLYPH.to_bytes(2, "big") * (CID_BASE + len(alphabet)))
    cid_to_gid = w.add(_stream("/Filter /FlateDecode", gid_map))
    desc = w.add(f"<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 4 /FontBBox [0 0 1000 1000] "
                 f"/ItalicAngle 0 /Ascent 1000 /Descent 0 /CapHeight 1000 /StemV 80 /FontFile2 {fontfile} 0 R >>"
                 .encode("ascii"))
    cid = w.add(f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont /CIDSystemInfo << /Registry (Adobe) "
                f"/Ordering (Japan1) /Supplement 6 >> /FontDescriptor {desc} 0 R /DW 1000 /CIDToGIDMap {cid_to_gid} 0 R >>"
                .encode("ascii"))
    return w.add(f"<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H "
                 f"/DescendantFonts [{cid} 0 R] /ToUnicode {tou} 0 R >>".encode("ascii"))


def _write_page(w: _ObjectWriter, page, enc: EncodedImage, alphabet: dict[str, int], font: int, parent: int,
                k: float) -> int:
    """One page: its image, and each character as invisible text in its cell; returns the page's number."""
    width, height = enc.width, enc.height
    jw, jh = enc.jpeg_width or width, enc.jpeg_height or height
    img = w.add(_stream(f"/Type /XObject /Subtype /Image /Width {jw} /Height {jh} /ColorSpace /DeviceRGB "
                        f"/BitsPerComponent 8 /Filter /DCTDecode", enc.jpeg))
    wp, hp = width * k, height * k
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
            ops.append(f"/F1 {size:.2f} Tf {tz:.1f} Tz 1 0 0 1 {x0 * k:.2f} {(height - y1) * k:.2f} Tm <{code:04X}> Tj")
    ops.append("ET")
    content = w.add(_stream("", "\n".join(ops).encode("ascii")))
    return w.add(f"<< /Type /Page /Parent {parent} 0 R /MediaBox [0 0 {wp:.2f} {hp:.2f}] "
                 f"/Resources << /XObject << /Im0 {img} 0 R >> /Font << /F1 {font} 0 R >> >> "
                 f"/Contents {content} 0 R >>".encode("ascii"))
