"""Pictures of results: the preprocessed line with each character drawn under its span."""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .results import LineResult

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/msgothic.ttc",
)


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    for p in _FONT_CANDIDATES:
        if Path(p).is_file():
            return p
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(["fc-match", "-f", "%{file}", ":lang=zh-cn"], capture_output=True, text=True, timeout=5)
            if out.returncode == 0 and out.stdout and Path(out.stdout).is_file():
                return out.stdout
        except (OSError, subprocess.SubprocessError):
            pass
    return None


def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    p = cjk_font_path()
    if p:
        return ImageFont.truetype(p, size)
    return ImageFont.load_default(size)


def preview(rgb: np.ndarray, result: LineResult, height: int = 96) -> Image.Image:
    """The line scaled to ``height`` with spans and characters (shaded by confidence) drawn under it."""
    h, w = rgb.shape[:2]
    s = height / h
    line = Image.fromarray(rgb).resize((max(1, round(w * s)), height), Image.Resampling.BILINEAR)
    band = int(height * 0.6)
    canvas = Image.new("RGB", (line.width, height + band + 4), "white")
    canvas.paste(line, (0, 0))
    d = ImageDraw.Draw(canvas)
    f = font(int(band * 0.7))
    for c in result.chars:
        x0, x1 = c.x0 * s, c.x1 * s
        shade = int(200 * (1 - c.confidence))
        colour = (shade, shade, 255 - shade // 2) if c.confidence >= 0.5 else (220, 60, 40)
        d.rectangle([x0, 1, max(x0 + 1, x1 - 1), height - 2], outline=(120, 160, 255))
        cx = (x0 + x1) / 2
        d.text((cx, height + 2 + band / 2), c.char, fill=colour, font=f, anchor="mm")
    return canvas
