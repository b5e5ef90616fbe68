"""Page sources: an image (an accepted format of :mod:`hwocr.imageio`, EXIF orientation honoured),
every frame of a multi-page TIFF or GIF, or every page of a PDF rendered with pypdfium2."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import ImageSequence

from ..errors import ImageError, InputTooLarge
from ..imageio import DEFAULT_MAX_PIXELS, ImageSource, describe, detect_format, load_image, load_pil, read_source

DEFAULT_DPI = 200


@dataclass(frozen=True)
class PageImage:
    rgb: np.ndarray
    name: str
    index: int


def is_pdf(source: ImageSource) -> bool:
    """Whether ``source`` starts with a PDF header (a missing or unreadable file is not: loading it
    reports the error)."""
    head = b""
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                head = f.read(16)
        except OSError:
            return False
    elif isinstance(source, (bytes, bytearray)):
        head = bytes(source[:16])
    fmt = detect_format(head)
    return fmt is not None and fmt.name == "PDF"


def _wanted(n: int, pages: Sequence[int] | None, name: str) -> list[int]:
    if pages is None:
        return list(range(n))
    for i in pages:
        if not 0 <= i < n:
            raise ImageError(f"{name}: has no page {i + 1} (it has {n})")
    return list(pages)


def load_pdf(source: ImageSource, dpi: float = DEFAULT_DPI, max_pixels: int = DEFAULT_MAX_PIXELS,
             pages: Sequence[int] | None = None) -> list[PageImage]:
    name = describe(source)
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise ImageError(f"{name}: reading PDF needs pypdfium2 (pip install pypdfium2)") from None
    if dpi <= 0 or dpi > 1200:
        raise ImageError(f"DPI must be in (0, 1200], got {dpi:g}")
    data = read_source(source, name)
    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        raise ImageError(f"{name}: cannot open PDF ({str(e).splitlines()[0][:120] if str(e) else 'corrupt'})") from None
    out = []
    try:
        for i in _wanted(len(doc), pages, name):
            pg = doc[i]
            w_pt, h_pt = pg.get_size()
            scale = dpi / 72.0
            if w_pt * h_pt * scale * scale > max_pixels:
                raise InputTooLarge(f"{name}: page {i + 1} at {dpi:g} dpi is over the {max_pixels / 1e6:.0f} MP limit; "
                                 f"use a lower --dpi")
            bmp = pg.render(scale=scale)
            img = bmp.to_pil()
            out.append(PageImage(load_image(img, max_pixels).rgb, f"{name}#{i + 1}" if len(doc) > 1 else name, i))
    finally:
        doc.close()
    return out


def load_pages(source: ImageSource, dpi: float = DEFAULT_DPI, max_pixels: int = DEFAULT_MAX_PIXELS,
               pages: Sequence[int] | None = None) -> list[PageImage]:
    """All pages of ``source`` (or those numbered in ``pages``, 0-based) as RGB arrays."""
    if is_pdf(source):
        return load_pdf(source, dpi, max_pixels, pages)
    name = describe(source)
    if isinstance(source, np.ndarray):
        _wanted(1, pages, name)
        return [PageImage(load_image(source, max_pixels).rgb, name, 0)]
    img = load_pil(source, max_pixels)
    n = getattr(img, "n_frames", 1) or 1
    if n <= 1:
        _wanted(1, pages, name)
        return [PageImage(_named(img, max_pixels, name), name, 0)]
    out = []
    want = set(_wanted(n, pages, name))
    try:
        for i, frame in enumerate(ImageSequence.Iterator(img)):
            if i in want:
                out.append(PageImage(_named(frame.copy(), max_pixels, f"{name}#{i + 1}"), f"{name}#{i + 1}", i))
    except (OSError, ValueError) as e:
        raise ImageError(f"{name}: corrupt multi-page image ({str(e).splitlines()[0][:120] if str(e) else e})") from None
    return out


def _named(img, max_pixels: int, name: str) -> np.ndarray:
    """load_image of an opened PIL image, its errors naming the file it came from."""
    try:
        return load_image(img, max_pixels).rgb
    except ImageError as e:
        raise ImageError(str(e).replace(describe(img), name, 1)) from None


__all__ = ["PageImage", "load_pages", "load_pdf", "is_pdf", "DEFAULT_DPI"]
