"""Page sources: an image (an accepted format of :mod:`hwocr.imageio`, EXIF orientation honoured),
every frame of a multi-page TIFF or GIF, or every page of a PDF rendered with pypdfium2."""

from __future__ import annotations

import numbers
import os
import stat
import warnings
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from ..errors import ImageError, InputTooLarge, expect
from ..imageio import DEFAULT_MAX_PIXELS, ImageSource, describe, detect_format, load_image, load_pil, read_source
from .pdfrender import PdfRenderer

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
            if not stat.S_ISREG(os.stat(source).st_mode):
                return False  # (opening a FIFO would wait for a writer)
            with open(source, "rb") as f:
                head = f.read(16)
        except (OSError, ValueError):  # (ValueError: a NUL byte in the path)
            return False
    elif isinstance(source, (bytes, bytearray)):
        head = bytes(source[:16])
    fmt = detect_format(head)
    return fmt is not None and fmt.name == "PDF"


def _wanted(n: int, pages: Sequence[int] | None, name: str) -> list[int]:
    if pages is None:
        return list(range(n))
    expect("pages", pages, Iterable, "a sequence of page numbers", ImageError)
    for i in pages:
        expect("page", i, numbers.Integral, "a page number (a whole number, 0 for the first)", ImageError)
        if not 0 <= i < n:
            pages_are = "its one page is page 0" if n == 1 else f"its {n} pages are numbered 0 to {n - 1}"
            raise ImageError(f"{name}: has no page {i} ({pages_are})")
    return list(pages)


#: pages read from one document at most (a PDF, a multi-page TIFF or GIF): the work a small file can
#: ask for is bounded by this times one page's
MAX_PAGES = 10_000


#: formats whose frame ``i`` is reached by decoding every frame before it (a GIF, an animated PNG or
#: WebP composes each frame onto the canvas of the one before); a multi-page TIFF seeks without decoding
SEQUENTIAL_FORMATS = ("GIF", "PNG", "WEBP")
#: pixels one page of such a file may decode to reach its frame, in units of the page pixel limit: a
#: 46 KB GIF of 2 000 one-pixel frames on a 36 MP canvas asked for frame 2 000 decodes 72 GP first
#: (70 s); here at most 16 full-size frames (about 0.6 s), or thousands of small ones
MAX_SEEK_PAGES = 16


def _check_dpi(dpi: float) -> None:
    expect("dpi", dpi, numbers.Real, "a number of dots per inch", ImageError)


def _first(e: Exception) -> str:
    return str(e).splitlines()[0][:120] if str(e) else type(e).__name__


def _check_count(n: int, name: str, pages: Sequence[int] | None) -> None:
    if n > MAX_PAGES and pages is None:
        raise InputTooLarge(f"{name}: has {pages_text(n)}, over the limit of {MAX_PAGES} per document")


def pages_text(n: int) -> str:
    """``n`` pages, where :func:`frame_count` stopped counting at one past the limit: "more than" it."""
    return f"more than {MAX_PAGES} pages" if n == MAX_PAGES + 1 else f"{n} pages"


def frame_count(img) -> int:
    """The frames of an opened Pillow image; a TIFF's counted page by page up to ``MAX_PAGES + 1`` (Pillow's
    ``n_frames`` walks every page in time that grows with the square of their number: a 23 MB TIFF of
    200 000 tiny pages took 152 s to count; its pages past the limit are not reached)."""
    if img.format != "TIFF":
        return max(1, int(getattr(img, "n_frames", 1) or 1))
    at, n = img.tell(), 1
    try:
        while n <= MAX_PAGES:
            img.seek(n)
            n += 1
    except EOFError:
        pass
    finally:
        img.seek(at)
    return n


def iter_pdf(source: ImageSource, dpi: float = DEFAULT_DPI, max_pixels: int = DEFAULT_MAX_PIXELS,
             pages: Sequence[int] | None = None, renderer: PdfRenderer | None = None) -> Iterator[PageImage]:
    """The pages of a PDF rendered one at a time (only the page being yielded is in memory), by
    ``renderer`` (kept open for the caller's next document) or by a child process of its own."""
    name = describe(source)
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise ImageError(f"{name}: reading PDF needs pypdfium2 (pip install pypdfium2)") from None
    _check_dpi(dpi)
    if dpi <= 0 or dpi > 1200:
        raise ImageError(f"DPI must be in (0, 1200], got {dpi:g}")
    data = read_source(source, name)
    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        why = _first(e) if str(e) and "Success" not in str(e) else "corrupt, or no pages"
        raise ImageError(f"{name}: cannot open PDF ({why})") from None
    try:
        n = len(doc)
        if n == 0:
            raise ImageError(f"{name}: the PDF has no pages")
        _check_count(n, name, pages)
        own = renderer is None
        renderer = renderer or PdfRenderer()  # pages are drawn in a child process of bounded memory and time
        try:
            for i in _wanted(n, pages, name):
                label = f"{name}#{i + 1}" if n > 1 else name
                yield PageImage(_render(doc, data, renderer, i, dpi, max_pixels, label), label, i)
        finally:
            if own:
                renderer.close()
    finally:
        doc.close()


def _render(doc, data: bytes, renderer: PdfRenderer, i: int, dpi: float, max_pixels: int, label: str) -> np.ndarray:
    import pypdfium2 as pdfium

    scale = dpi / 72.0
    try:
        w_pt, h_pt = doc.get_page_size(i)  # (from the page tree: loading the page would parse its content here)
    except pdfium.PdfiumError as e:
        raise ImageError(f"{label}: cannot read the page (corrupt PDF: {_first(e)})") from None
    if w_pt * h_pt * scale * scale > max_pixels:
        raise InputTooLarge(f"{label}: page at {dpi:g} dpi is over the {max_pixels / 1e6:.0f} MP limit "
                            f"({w_pt / 72 * dpi:.0f}x{h_pt / 72 * dpi:.0f} px); render it at a lower dpi")
    return _named(renderer.render(data, i, scale, label), max_pixels, label)


def load_pdf(source: ImageSource, dpi: float = DEFAULT_DPI, max_pixels: int = DEFAULT_MAX_PIXELS,
             pages: Sequence[int] | None = None) -> list[PageImage]:
    return list(iter_pdf(source, dpi, max_pixels, pages))


def iter_pages(source: ImageSource, dpi: float = DEFAULT_DPI, max_pixels: int = DEFAULT_MAX_PIXELS,
               pages: Sequence[int] | None = None, renderer: PdfRenderer | None = None) -> Iterator[PageImage]:
    """The pages of ``source`` (or those numbered in ``pages``, 0-based) as RGB arrays, decoded one
    at a time as they are pulled. At most :data:`MAX_PAGES` per document unless ``pages`` picks them.
    ``renderer``: the PDF renderer to use (:class:`~hwocr.pages.pdfrender.PdfRenderer`; default: one
    per document)."""
    _check_dpi(dpi)  # (used for a PDF only, but a wrong type is a mistake whatever the source)
    if is_pdf(source):
        yield from iter_pdf(source, dpi, max_pixels, pages, renderer)
        return
    name = describe(source)
    if isinstance(source, np.ndarray):
        _wanted(1, pages, name)
        yield PageImage(load_image(source, max_pixels).rgb, name, 0)
        return
    img = load_pil(source, max_pixels)
    n = frame_count(img)
    if n <= 1:
        _wanted(1, pages, name)
        yield PageImage(_named(img, max_pixels, name), name, 0)
        return
    _check_count(n, name, pages)
    for i in _wanted(n, pages, name):
        label = f"{name}#{i + 1}"
        yield PageImage(_frame(img, i, max_pixels, label, name), label, i)


def _frame(img, i: int, max_pixels: int, label: str, name: str) -> np.ndarray:
    """Frame ``i`` of a multi-frame image, its size checked before it is decoded, and the frames a
    sequential format decodes to reach it bounded (:data:`MAX_SEEK_PAGES`)."""
    if img.format in SEQUENTIAL_FORMATS:
        at = img.tell()
        steps = i - at if i > at else i + 1  # backwards, Pillow starts again from the first frame
        w, h = img.size
        if steps > 1 and steps * w * h > MAX_SEEK_PAGES * max_pixels:
            raise InputTooLarge(f"{label}: reaching this frame decodes {steps} frames of {w}x{h} px, over the "
                                f"limit of {MAX_SEEK_PAGES} pages' pixels; read the file from its first frame, "
                                "or convert it to a multi-page TIFF")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's bomb and EXIF warnings: the checks below answer
            img.seek(i)
            w, h = img.size
            if w * h > max_pixels:
                raise InputTooLarge(f"{label}: image is too large ({w}x{h} px, limit {max_pixels / 1e6:.0f} MP)")
            frame = img.copy()
    except Image.DecompressionBombError as e:
        raise InputTooLarge(f"{label}: image is too large ({_first(e)})") from None
    except (OSError, ValueError, EOFError, SyntaxError) as e:
        raise ImageError(f"{name}: corrupt multi-page image ({_first(e)})") from None
    return _named(frame, max_pixels, label)


def load_pages(source: ImageSource, dpi: float = DEFAULT_DPI, max_pixels: int = DEFAULT_MAX_PIXELS,
               pages: Sequence[int] | None = None, renderer: PdfRenderer | None = None) -> list[PageImage]:
    """All pages of ``source`` (or those numbered in ``pages``, 0-based) as RGB arrays (every one in
    memory at once: :func:`iter_pages` yields them one at a time)."""
    return list(iter_pages(source, dpi, max_pixels, pages, renderer))


def _named(img, max_pixels: int, name: str) -> np.ndarray:
    """load_image of an opened PIL image, its errors naming the file it came from."""
    try:
        return load_image(img, max_pixels).rgb
    except ImageError as e:
        raise ImageError(str(e).replace(describe(img), name, 1)) from None


__all__ = ["PageImage", "iter_pages", "iter_pdf", "load_pages", "load_pdf", "is_pdf", "DEFAULT_DPI", "MAX_PAGES"]
