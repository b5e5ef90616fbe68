"""Pictures of results: the preprocessed line with each character drawn under its span.

Characters are drawn with hwocr's own CJK font (a subset of Noto Sans CJK JP, OFL-1.1, built by
``scripts/make_font.py``), so pictures look the same with or without system fonts. A character the
font lacks is drawn as its code point (``U+XXXX``), never as an empty box; :func:`missing_glyphs`
tells the caller which.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import HwocrError
from .results import LineResult

FONT_RESOURCE = "data/hwocr-cjk-subset.otf"


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    p = Path(str(resources.files("hwocr").joinpath(FONT_RESOURCE)))
    if not p.is_file():
        raise HwocrError(f"{p}: hwocr's CJK font is missing from this installation, so characters cannot be "
                         f"drawn; reinstall hwocr")
    return p


@lru_cache(maxsize=1)
def font_chars() -> frozenset[str]:
    """The characters the font draws (listed beside it by scripts/make_font.py)."""
    p = cjk_font_path()
    return frozenset(p.with_name(p.name + ".chars.txt").read_text(encoding="utf-8").strip())


@lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(cjk_font_path()), max(1, size))


def missing_glyphs(text: str) -> set[str]:
    """The characters of ``text`` the font cannot draw (white space needs no glyph)."""
    have = font_chars()
    return {c for c in text if c not in have and not c.isspace()}


def draw_char(d: ImageDraw.ImageDraw, xy: tuple[float, float], char: str, size: int, fill, anchor: str = "mm") -> None:
    """One character centred at ``xy``; one the font lacks as its code point, smaller."""
    if char in font_chars() or char.isspace():
        d.text(xy, char, fill=fill, font=font(size), anchor=anchor)
    else:
        d.text(xy, f"U+{ord(char[0]):04X}", fill=fill, font=font(max(8, size // 3)), anchor=anchor)


def numbered(path: str | Path, k: int, n: int) -> Path:
    """The file for picture ``k`` (0-based) of ``n``: OUT.png alone, else OUT-1.png, OUT-2.png, ..."""
    p = Path(path)
    return p if n == 1 else p.with_name(f"{p.stem}-{k + 1}{p.suffix}")


def preview(rgb: np.ndarray, result: LineResult, height: int = 96) -> Image.Image:
    """The line scaled to ``height`` with spans and characters (shaded by confidence) drawn under it."""
    h, w = rgb.shape[:2]
    s = height / h
    line = Image.fromarray(rgb).resize((max(1, round(w * s)), height), Image.Resampling.BILINEAR)
    band = int(height * 0.6)
    canvas = Image.new("RGB", (line.width, height + band + 4), "white")
    canvas.paste(line, (0, 0))
    d = ImageDraw.Draw(canvas)
    for c in result.chars:
        x0, x1 = c.x0 * s, c.x1 * s
        shade = int(200 * (1 - c.confidence))
        colour = (shade, shade, 255 - shade // 2) if c.confidence >= 0.5 else (220, 60, 40)
        d.rectangle([x0, 1, max(x0 + 1, x1 - 1), height - 2], outline=(120, 160, 255))
        draw_char(d, ((x0 + x1) / 2, height + 2 + band / 2), c.char, int(band * 0.7), colour)
    return canvas
