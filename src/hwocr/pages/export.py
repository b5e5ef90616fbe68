"""Page results -> JSON, plain text, hOCR (XHTML), an overlay picture, a searchable PDF."""

from __future__ import annotations

import math
import re
from html import escape
from typing import BinaryIO, Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from .. import jsontext
from .document import PageResult

FORMATS = ("json", "txt", "hocr", "pdf")


def to_json(pages: Sequence[PageResult], indent: int | None = None) -> str:
    return jsontext.dumps({"pages": [p.to_dict() for p in pages]}, indent=indent)


def to_text(pages: Sequence[PageResult], headers: bool = False) -> str:
    """Lines in reading order, pages separated by a form feed; with ``headers``, each page is
    introduced by a line ``==> FILE <==`` (``==> FILE page N <==`` for pages of a PDF or TIFF) and
    followed by an empty line instead."""
    if not headers:
        return "\f".join(p.text + ("\n" if p.lines else "") for p in pages)
    return "".join(f"==> {page_label(p)} <==\n" + p.text + ("\n" if p.lines else "") + "\n" for p in pages)


def page_label(page: PageResult) -> str:
    """The page's file, with its page number when it is one of several (``scan.pdf#2`` -> ``scan.pdf page 2``)."""
    from ..files import shown

    src, sep, num = page.source.rpartition("#")
    return shown(f"{src} page {num}" if sep and num.isdigit() else page.source)


def _bbox(poly) -> str:
    p = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
    x0, y0 = np.floor(p.min(axis=0)).astype(int)
    x1, y1 = np.ceil(p.max(axis=0)).astype(int)
    return f"bbox {max(0, x0)} {max(0, y0)} {max(0, x1)} {max(0, y1)}"


#: what XML 1.0 cannot hold, escaped or not: C0 controls but TAB, LF, CR; lone surrogates; U+FFFE, U+FFFF
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(name: str) -> str:
    """A file name as XML 1.0 can hold it: control characters as ``\\xNN`` (:func:`hwocr.files.shown`),
    the lone surrogates of a name that is not UTF-8 as ``\\udcNN`` and U+FFFE / U+FFFF (legal in a
    UTF-8 name) as ``\\ufffe`` (XML has no escape for any of them)."""
    from ..files import shown

    name = shown(name).encode("utf-8", "backslashreplace").decode("utf-8")
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", name)


def _xml_text(text: str) -> str:
    """Recognised text as XML 1.0 can hold it, escaped: a character it cannot hold (a control character
    in a custom model's charlist made the whole hOCR file unreadable) as U+FFFD."""
    return escape(_NOT_XML.sub("\ufffd", text))


def _pct(confidence: float) -> float:
    """A confidence in percent; 0 for one that is not a number (round() of a NaN raised)."""
    return confidence * 100 if math.isfinite(confidence) else 0.0


def to_hocr(pages: Sequence[PageResult], lang: str = "zh") -> str:
    """hOCR 1.2: ocr_page > ocr_carea (one per layout block) > ocr_line (``x_confs``: its characters'
    confidences, one each) > ocrx_word (one per character, with x_wconf). Vertical lines carry ``textangle 90`` as tesseract writes them."""
    html_lang = {"zh": "zh-Hans", "ja": "ja", "auto": "und"}.get(lang, lang)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
        f'<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="{html_lang}" lang="{html_lang}">',
        "<head>",
        "<title></title>",
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />',
        '<meta name="ocr-system" content="hwocr" />',
        '<meta name="ocr-capabilities" content="ocr_page ocr_carea ocr_line ocrx_word" />',
        "</head>",
        "<body>",
    ]
    for pn, page in enumerate(pages, 1):
        src = escape(_xml_safe(page.source).replace(";", "_"), quote=True)
        out.append(f'<div class="ocr_page" id="page_{pn}" title="image &quot;{src}&quot;; '
                   f'bbox 0 0 {page.width} {page.height}; ppageno {page.page}">')
        blocks: dict[int, list[int]] = {}
        for i, ln in enumerate(page.lines):
            blocks.setdefault(ln.block, []).append(i)
        wn = 0
        for bn, idx in blocks.items():
            allp = np.concatenate([np.asarray(page.lines[i].polygon) for i in idx])
            out.append(f'<div class="ocr_carea" id="block_{pn}_{bn + 1}" title="{_bbox(allp)}">')
            for i in idx:
                ln = page.lines[i]
                angle = "; textangle 90" if ln.direction == "vertical" else ""
                confs = "; x_confs " + " ".join(f"{_pct(c.confidence):.1f}" for c in ln.chars) if ln.chars else ""
                out.append(f'<span class="ocr_line" id="line_{pn}_{i + 1}" title="{_bbox(ln.polygon)}{angle}'
                           f'{confs}">')
                for c in ln.chars:
                    wn += 1
                    out.append(f'<span class="ocrx_word" id="word_{pn}_{wn}" title="{_bbox(c.polygon)}; '
                               f'x_wconf {round(_pct(c.confidence))}">{_xml_text(c.char)}</span>')
                out.append("</span>")
            out.append("</div>")
        out.append("</div>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def overlay(rgb: np.ndarray, page: PageResult, max_side: int = 2400) -> Image.Image:
    """The page with each line's polygon (blue: horizontal, green: vertical), its reading-order number,
    character cells (shaded by confidence, red under 0.5) and the text beside each line."""
    from ..render import draw_char, font

    img = Image.fromarray(rgb).convert("RGB")
    s = min(1.0, max_side / max(img.size))
    if s < 1:
        img = img.resize((round(img.width * s), round(img.height * s)), Image.Resampling.BILINEAR)
    base = img.copy()
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    for k, ln in enumerate(page.lines, 1):
        colour = (40, 90, 230) if ln.direction == "horizontal" else (20, 160, 60)
        pts = [(x * s, y * s) for x, y in ln.polygon]
        d.polygon(pts, outline=colour + (255,), width=max(2, round(3 * s)))
        for c in ln.chars:
            cp = [(x * s, y * s) for x, y in c.polygon]
            a = 60 if c.confidence >= 0.5 else 110
            fill = (255, 200, 0, a) if c.confidence >= 0.5 else (230, 40, 40, a)
            d.polygon(cp, fill=fill, outline=(255, 150, 0, 160))
        x0, y0 = min(p[0] for p in pts), min(p[1] for p in pts)
        fs = max(12, round(22 * s / 0.7))
        d.text((x0, max(0, y0 - fs - 2)), str(k), fill=colour + (255,), font=font(fs))
    img = Image.alpha_composite(base.convert("RGBA"), layer).convert("RGB")
    # the text: beside horizontal lines (below), left of vertical columns (top to bottom)
    d = ImageDraw.Draw(img)
    for ln in page.lines:
        if not ln.chars:
            continue
        for c in ln.chars:
            p = np.asarray(c.polygon) * s
            size = max(10, round(0.6 * float(min(np.ptp(p[:, 0]), np.ptp(p[:, 1])))))
            cx, cy = p[:, 0].mean(), p[:, 1].mean()
            if ln.direction == "horizontal":
                pos = (cx, p[:, 1].max() + size * 0.7)
            else:
                pos = (p[:, 0].min() - size * 0.7, cy)
            draw_char(d, pos, c.char, size, (200, 0, 120))
    return img


def to_pdf(pages: Sequence[PageResult], images: Sequence[np.ndarray], dpi: float = 200) -> bytes:
    """A searchable PDF: each page image with an invisible text layer (one text object per character,
    placed in its cell), written directly (no extra dependency). Text is encoded as UTF-16BE code
    units through a ToUnicode map, so search and copy work in any viewer."""
    from .pdfwrite import write_searchable_pdf

    return write_searchable_pdf(pages, images, dpi)


def write_pdf(f: BinaryIO, pages: Sequence[PageResult], images: Iterable, dpi: float = 200) -> None:
    """:func:`to_pdf` written to ``f`` as it is made, each page's image taken from ``images`` only when
    its page is written (a long document holds one page's image at a time)."""
    from .pdfwrite import write_searchable_pdf_to

    write_searchable_pdf_to(f, pages, images, dpi)
