"""Image loading: any supported input -> an 8-bit RGB numpy array, or a one-line ImageError.

Only the formats in :data:`FORMATS` are decoded, recognised by their magic bytes here, in one place
used by the CLI, the Python API and the server. Everything else (EPS/PostScript, whose Pillow plugin
runs Ghostscript, SVG, ...) is refused before Pillow sees it, and Pillow is only ever asked for the
one plugin the magic bytes named.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ImageSource = Union[str, os.PathLike, bytes, bytearray, np.ndarray, Image.Image]

#: refuse images above this many pixels (a decompression bomb guard); 64 MP covers a 600-dpi A3 page
DEFAULT_MAX_PIXELS = 64_000_000
MIN_SIDE = 4

from .errors import ImageError, InputTooLarge  # noqa: E402


@dataclass(frozen=True)
class ImageFormat:
    """An accepted input format: its name, Pillow plugin (None: not decoded by Pillow), file
    extensions, and magic bytes (``(offset, bytes)`` pairs, any one of which identifies it)."""

    name: str
    pil: str | None
    extensions: tuple[str, ...]
    magic: tuple[tuple[int, bytes], ...]

    def matches(self, head: bytes) -> bool:
        return any(head[off : off + len(m)] == m for off, m in self.magic)


#: the formats hwocr reads (none of them shells out); PDF pages are rendered by pypdfium2
FORMATS: tuple[ImageFormat, ...] = (
    ImageFormat("PNG", "PNG", (".png",), ((0, b"\x89PNG\r\n\x1a\n"),)),
    ImageFormat("JPEG", "JPEG", (".jpg", ".jpeg", ".jpe", ".jfif"), ((0, b"\xff\xd8\xff"),)),
    ImageFormat("TIFF", "TIFF", (".tif", ".tiff"),
                ((0, b"II*\x00"), (0, b"MM\x00*"), (0, b"II+\x00"), (0, b"MM\x00+"))),
    ImageFormat("BMP", "BMP", (".bmp", ".dib"), ((0, b"BM"),)),
    ImageFormat("WebP", "WEBP", (".webp",), ((8, b"WEBP"),)),  # RIFF....WEBP (RIFF checked below)
    ImageFormat("GIF", "GIF", (".gif",), ((0, b"GIF87a"), (0, b"GIF89a"))),
    ImageFormat("PDF", None, (".pdf",), ((0, b"%PDF-"),)),
)
#: file extensions of every accepted format (lower case, with the dot), for folder expansion
EXTENSIONS: tuple[str, ...] = tuple(e for f in FORMATS for e in f.extensions)
#: the same without PDF (formats that are one picture, or frames of pictures)
IMAGE_EXTENSIONS: tuple[str, ...] = tuple(e for f in FORMATS if f.pil for e in f.extensions)
#: what an error message lists
SUPPORTED = "PNG, JPEG, TIFF, BMP, WebP, GIF or PDF"
#: formats recognised only to name them in the refusal
_REFUSED = (
    ((0, b"%!PS"), "PostScript/EPS"), ((0, b"\xc5\xd0\xd3\xc6"), "EPS"), ((0, b"<svg"), "SVG"),
    ((0, b"<?xml"), "XML/SVG"), ((4, b"ftypheic"), "HEIC"), ((4, b"ftypmif1"), "HEIF"),
    ((4, b"ftypavif"), "AVIF"), ((0, b"\x00\x00\x00\x0cjP  "), "JPEG 2000"), ((0, b"\xffO\xffQ"), "JPEG 2000"),
    ((0, b"PK\x03\x04"), "ZIP"), ((0, b"8BPS"), "Photoshop"), ((0, b"\x00\x00\x01\x00"), "ICO"),
)


def detect_format(data: bytes) -> ImageFormat | None:
    """The accepted format ``data`` starts with, or None."""
    head = bytes(data[:16])
    for f in FORMATS:
        if f.matches(head) and (f.name != "WebP" or head[:4] == b"RIFF"):
            return f
    return None


def sniff(data: bytes, name: str) -> ImageFormat:
    """The accepted format of ``data``, or a one-line ImageError naming what it is, if known."""
    f = detect_format(data)
    if f is not None:
        return f
    head = bytes(data[:16]).lstrip(b"\xef\xbb\xbf \t\r\n")
    what = next((label for (off, m), label in _REFUSED if head[off : off + len(m)] == m), None)
    kind = f"{what} is not accepted" if what else "not an image in an accepted format"
    raise ImageError(f"{name}: {kind} (hwocr reads {SUPPORTED})")


@dataclass(frozen=True)
class LoadedImage:
    rgb: np.ndarray  # H x W x 3 uint8
    name: str


def describe(source: ImageSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {source.shape} {source.dtype}>"
    if isinstance(source, Image.Image):
        return f"<PIL image {source.size[0]}x{source.size[1]} {source.mode}>"
    return f"<{type(source).__name__}>"


def load_image(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Load ``source`` (path, bytes, numpy array or PIL image) as 8-bit RGB.

    Arrays are taken as gray (H x W), RGB or RGBA (H x W x 3/4, RGB order); 16-bit and float
    arrays are scaled to 8 bits. Transparent pixels are composited onto white (pen canvases
    export strokes on a transparent background). EXIF orientation is honoured.
    """
    name = describe(source)
    if isinstance(source, np.ndarray):
        rgb = _array_to_rgb(source, name)
    else:
        img = _open_pil(source, name, max_pixels)
        rgb = _pil_to_rgb(img, name)
    check_size(rgb.shape[1], rgb.shape[0], name, max_pixels)
    return LoadedImage(np.ascontiguousarray(rgb), name)


def load_pil(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open ``source`` as a (lazy) PIL image with the same checks as :func:`load_image`."""
    name = describe(source)
    if isinstance(source, np.ndarray):
        return Image.fromarray(_array_to_rgb(source, name))
    return _open_pil(source, name, max_pixels)


def _open_pil(source: ImageSource, name: str, max_pixels: int) -> Image.Image:
    if isinstance(source, Image.Image):
        allowed = {f.pil for f in FORMATS} | {"MPO"}
        if source.format is not None and source.format not in allowed:  # e.g. an EpsImageFile: load() runs gs
            raise ImageError(f"{name}: {source.format} is not accepted (hwocr reads {SUPPORTED})")
        check_size(source.size[0], source.size[1], name, max_pixels)
        return source
    data = read_source(source, name)
    fmt = sniff(data, name)
    if fmt.pil is None:
        raise ImageError(f"{name}: is a {fmt.name}; read it as a page (hwocr page, Reader.read_page, /v1/page)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's other warnings (corrupt EXIF ...) are not the user's to read
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=[fmt.pil])
        except UnidentifiedImageError:
            raise ImageError(f"{name}: corrupt {fmt.name} image (cannot be decoded)") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InputTooLarge(f"{name}: image is too large (decompression bomb guard)") from None
        except Exception as e:  # noqa: BLE001 - Pillow raises many types on corrupt headers
            raise ImageError(f"{name}: corrupt image ({_short(e)})") from None
    check_size(img.size[0], img.size[1], name, max_pixels)
    return img


#: the largest input file read (the same bound as standard input's): an image or PDF this big is
#: not a scan, and reading a file costs its whole size in memory before it is decoded
MAX_FILE_BYTES = 256 << 20


def read_source(source: ImageSource, name: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a path or bytes source, or a one-line ImageError (missing, a folder, not a regular
    file such as a FIFO or a device, over ``max_bytes``, unreadable, empty)."""
    name = name or describe(source)
    if isinstance(source, (str, os.PathLike)):
        data = _read_file(Path(source), name, max_bytes)
    elif isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        raise ImageError(f"{name}: unsupported input type {type(source).__name__}")
    if not data:
        raise ImageError(f"{name}: file is empty")
    return data


def _read_file(path: Path, name: str, max_bytes: int) -> bytes:
    from .files import NotRegularFile, TooLarge, read_bounded

    try:
        return read_bounded(path, max_bytes)
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{name}: is a directory, not an image") from None
    except NotRegularFile:
        raise ImageError(f"{name}: not a regular file (a device, pipe or socket)") from None
    except TooLarge as e:
        size = f"is {e.size / 2**20:.0f} MB, " if e.size is not None else "is "
        raise InputTooLarge(f"{name}: file {size}over the {max_bytes >> 20} MB limit") from None
    except OSError as e:
        raise ImageError(f"{name}: cannot read file ({e.strerror or e})") from None


def _pil_to_rgb(img: Image.Image, name: str) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's warnings (corrupt EXIF ...): the input is judged below
            img.load()
            img = ImageOps.exif_transpose(img) or img
    except Exception as e:  # noqa: BLE001
        raise ImageError(f"{name}: corrupt or truncated image ({_short(e)})") from None
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _array_to_rgb(np.asarray(img), name)
    if mode == "P":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("LA", "La", "PA"):
        img = (img.convert("LA") if mode == "La" else img).convert("RGBA")  # (Pillow: no La -> RGBA)
        mode = "RGBA"
    if mode in ("RGBA", "RGBa"):
        return _array_to_rgb(np.asarray(img.convert("RGBA")), name)
    if mode == "L":
        g = np.asarray(img)
        return np.repeat(g[:, :, None], 3, axis=2)
    return np.asarray(img.convert("RGB"))


def _array_to_rgb(a: np.ndarray, name: str) -> np.ndarray:
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ImageError(f"{name}: expected an H x W, H x W x 3 or H x W x 4 array")
    if a.size == 0:
        raise ImageError(f"{name}: image is empty (0 pixels)")
    a = _to_uint8(a, name)
    if a.ndim == 2:
        return np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] == 4:
        return _on_white(a)
    return a


#: rows composited at a time (:func:`_on_white`): float temporaries of a band, not of the whole image
_BAND_ROWS = 256


def _by_bands(a: np.ndarray, shape: tuple[int, ...], fn) -> np.ndarray:
    """uint8 ``fn(band)`` of each band of :data:`_BAND_ROWS` rows of ``a``, into one array of ``shape``:
    the float temporaries of one band, not of the whole image (a 64 MP transparent PNG, a 266 KB file,
    needed 3.4 GB of them at once)."""
    out = np.empty(shape, np.uint8)
    for y in range(0, a.shape[0], _BAND_ROWS):
        out[y : y + _BAND_ROWS] = fn(a[y : y + _BAND_ROWS])
    return out


def _on_white(a: np.ndarray) -> np.ndarray:
    """RGBA (uint8) composited onto white."""

    def band(b: np.ndarray) -> np.ndarray:
        alpha = b[:, :, 3:4].astype(np.float32) / 255.0
        rgb = b[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)

    return _by_bands(a, a.shape[:2] + (3,), band)


def _to_uint8(a: np.ndarray, name: str) -> np.ndarray:
    """8-bit pixels: bool -> 0/255; uint16, and other integers in 0..65535 above 255 (Pillow opens
    16-bit PNGs as 32-bit), -> x/257; integers in 0..255 and floats in 0..1 or 0..255 as they are
    (floats in 0..1 x255); any other range (negative, beyond 16 bits, HDR floats) is stretched from
    its own minimum and maximum, never clipped (a clipped float TIFF is blank)."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ImageError(f"{name}: unsupported pixel type {a.dtype}")
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
        raise ImageError(f"{name}: non-finite pixel values")
    lo, hi = float(a.min()), float(a.max())
    if a.dtype == np.uint16 or (np.issubdtype(a.dtype, np.integer) and 0 <= lo and 255 < hi <= 65535):
        lo, hi = 0.0, 65535.0
    elif lo >= 0 and hi <= (1.0 if np.issubdtype(a.dtype, np.floating) else 255.0):
        lo, hi = 0.0, 1.0 if np.issubdtype(a.dtype, np.floating) else 255.0
    elif lo >= 0 and hi <= 255:
        lo, hi = 0.0, 255.0
    span = hi - lo or 1.0
    return _by_bands(a, a.shape, lambda b: ((b.astype(np.float64) - lo) * (255.0 / span) + 0.5).clip(0, 255))


def check_size(w: int, h: int, name: str, max_pixels: int) -> None:
    if w <= 0 or h <= 0:
        raise ImageError(f"{name}: image is empty ({w}x{h} px)")
    if w < MIN_SIDE or h < MIN_SIDE:
        raise ImageError(f"{name}: image is too small to hold text ({w}x{h} px)")
    if w * h > max_pixels:
        raise InputTooLarge(
            f"{name}: image is too large ({w}x{h} px = {w * h / 1e6:.3g} MP, limit {max_pixels / 1e6:.3g} MP)"
        )


def _short(e: Exception) -> str:
    s = str(e).strip().splitlines()
    return (s[0] if s else type(e).__name__)[:160]

