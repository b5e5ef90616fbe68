"""Every kind of bad or unusual image either loads correctly or fails with one clear line."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from hwocr.errors import ImageError
from hwocr.imageio import load_image


def _png_bytes(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims w x h pixels (a decompression bomb's header) with a tiny body."""
    def chunk(t: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")


def test_not_an_image(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("this is text, not a picture")
    with pytest.raises(ImageError, match="not an image") as e:
        load_image(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(p)


def test_truncated_image(tmp_path):
    data = _png_bytes(Image.effect_noise((300, 80), 60).convert("L"))
    p = tmp_path / "cut.png"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated|corrupt"):
        load_image(p)


def test_decompression_bomb_header_is_refused_before_decoding():
    with pytest.raises(ImageError, match="too large"):
        load_image(_png_header_only(200_000, 200_000))


def test_pixel_limit_is_configurable():
    img = Image.new("L", (400, 300), 255)
    with pytest.raises(ImageError, match="too large"):
        load_image(img, max_pixels=100_000)


@pytest.mark.parametrize("shape", [(0, 0), (1, 1), (1, 500), (3, 200)])
def test_tiny_or_empty_arrays(shape):
    with pytest.raises(ImageError, match="empty|too small"):
        load_image(np.zeros(shape, np.uint8))


def test_16bit_png_is_scaled_not_clipped():
    a = np.full((20, 40), 65535, np.uint16)
    a[5:15, 10:30] = 0
    img = Image.fromarray(a)
    rgb = load_image(_png_bytes(img)).rgb
    assert rgb.dtype == np.uint8 and rgb.shape == (20, 40, 3)
    assert rgb[0, 0, 0] == 255 and rgb[10, 20, 0] == 0


def test_rgba_transparent_background_becomes_white():
    a = np.zeros((20, 40, 4), np.uint8)  # fully transparent black
    a[8:12, 5:35] = (0, 0, 0, 255)  # an opaque black stroke
    rgb = load_image(Image.fromarray(a, "RGBA")).rgb
    assert (rgb[0, 0] == 255).all() and (rgb[10, 20] == 0).all()


def test_palette_cmyk_bilevel_and_la_modes():
    base = Image.new("RGB", (40, 20), "white")
    base.paste((0, 0, 0), (10, 5, 30, 15))
    for mode in ("P", "CMYK", "1", "LA", "I", "F"):
        im = base.convert("L").convert(mode) if mode in ("LA", "I", "F", "1") else base.convert(mode)
        rgb = load_image(im).rgb
        assert rgb.shape == (20, 40, 3), mode
        assert rgb[0, 0].min() > 200 and rgb[10, 20].max() < 60, mode
    # premultiplied grey + alpha, which Pillow cannot turn into RGBA directly (a raw ValueError)
    la = base.convert("L").convert("LA").convert("La")
    assert la.mode == "La" and np.array_equal(load_image(la).rgb, load_image(base).rgb)


def test_cmyk_jpeg_file(tmp_path):
    p = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (40, 20), (0, 0, 0, 0)).save(p)
    assert load_image(p).rgb[0, 0].min() > 240


def test_exif_orientation_is_honoured():
    im = Image.new("L", (60, 20), 255)
    im.paste(0, (0, 0, 10, 20))  # dark band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    rgb = load_image(_png_bytes(im, "JPEG", exif=exif.tobytes())).rgb
    assert rgb.shape[:2] == (60, 20)
    assert rgb[:10, :, 0].mean() < 80  # the band is now at the top


def test_sources_agree(tmp_path):
    a = (np.random.default_rng(0).random((30, 50, 3)) * 255).astype(np.uint8)
    p = tmp_path / "a.png"
    Image.fromarray(a).save(p)
    ref = load_image(a).rgb
    for src in (p, str(p), p.read_bytes(), Image.open(p)):
        assert np.array_equal(load_image(src).rgb, ref)


def test_float_and_gray_arrays():
    g = np.linspace(0, 1, 50 * 20, dtype=np.float32).reshape(20, 50)
    rgb = load_image(g).rgb
    assert rgb.shape == (20, 50, 3) and rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255


@pytest.mark.parametrize("lo, hi", [(0.0, 4000.0), (-1.0, 1.0), (-300.0, 3000.0)])
def test_float_tiff_outside_0_1_is_stretched_not_clipped(tmp_path, lo, hi):
    """A float TIFF in another range (HDR, signed, raw sensor counts) keeps its picture: clipping
    to 0..255 made such pages blank or binary."""
    g = np.linspace(lo, hi, 64 * 32, dtype=np.float32).reshape(32, 64)
    p = tmp_path / "f.tif"
    Image.fromarray(g).save(p)  # float32 -> mode F
    with Image.open(p) as im:
        assert im.mode == "F"
    v = load_image(p).rgb[:, :, 0].astype(int)
    assert v.min() == 0 and v.max() == 255
    assert len(np.unique(v)) > 200  # a ramp, not two levels
    assert np.all(np.diff(v.ravel()) >= 0)


def test_signed_and_32_bit_integers_are_stretched():
    a = np.array([[-5, 0, 5]] * 8, np.int32).repeat(8, axis=1)
    assert load_image(a).rgb[0, ::8, 0].tolist() == [0, 128, 255]
    b = np.array([[0, 500_000, 1_000_000]] * 8, np.int32).repeat(8, axis=1)
    assert load_image(b).rgb[0, ::8, 0].tolist() == [0, 128, 255]


def test_wrong_array_shape():
    with pytest.raises(ImageError, match="expected"):
        load_image(np.zeros((10, 10, 2), np.uint8))


# -- the format allowlist --------------------------------------------------------------------------
#: the issue's 59-byte EPS: Pillow's EPS plugin hands it to Ghostscript, where it loops forever
EPS_LOOP = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 64\n{ } loop\n"


def _fake_gs(tmp_path, monkeypatch):
    """A ``gs`` first on PATH that only leaves a marker; returns the marker's path."""
    from PIL import EpsImagePlugin

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "gs-ran"
    gs = bin_dir / "gs"
    gs.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    gs.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None, raising=False)
    return marker


def test_eps_is_refused_before_pillow_sees_it(tmp_path, monkeypatch):
    assert len(EPS_LOOP) == 59
    marker = _fake_gs(tmp_path, monkeypatch)
    p = tmp_path / "loop.eps"
    p.write_bytes(EPS_LOOP)
    for src in (p, EPS_LOOP):
        with pytest.raises(ImageError) as e:
            load_image(src)
        msg = str(e.value)
        assert "PostScript/EPS is not accepted" in msg and "\n" not in msg
        assert "ghostscript" not in msg.lower()
    assert not marker.exists(), "Ghostscript was run"


def test_an_opened_eps_image_is_refused_too(tmp_path, monkeypatch):
    marker = _fake_gs(tmp_path, monkeypatch)
    im = Image.open(io.BytesIO(EPS_LOOP))  # a caller's own PIL image: loading it would run gs
    with pytest.raises(ImageError, match="EPS is not accepted"):
        load_image(im)
    assert not marker.exists()


@pytest.mark.parametrize("fmt", ["PPM", "TGA", "PCX", "ICO", "SGI"])
def test_formats_outside_the_allowlist_are_refused(fmt):
    data = _png_bytes(Image.new("RGB", (32, 32), (255, 255, 255)), fmt)
    with pytest.raises(ImageError, match="not .*accepted.*hwocr reads PNG, JPEG"):
        load_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "BMP", "WEBP", "GIF"])
def test_every_allowed_format_loads_and_is_detected(fmt):
    from hwocr.imageio import EXTENSIONS, FORMATS, detect_format

    data = _png_bytes(Image.new("RGB", (40, 20), (250, 250, 250)), fmt)
    f = detect_format(data)
    assert f is not None and f.pil == fmt and f in FORMATS and set(f.extensions) <= set(EXTENSIONS)
    assert load_image(data).rgb.shape == (20, 40, 3)


def test_a_format_is_decoded_only_by_the_plugin_its_magic_names(monkeypatch):
    seen = {}
    real = Image.open

    def spy(fp, mode="r", formats=None):
        seen["formats"] = formats
        return real(fp, mode, formats)

    monkeypatch.setattr(Image, "open", spy)
    load_image(_png_bytes(Image.new("L", (16, 16), 255)))
    assert seen["formats"] == ["PNG"]


def test_pdf_given_as_a_line_says_to_read_it_as_a_page():
    with pytest.raises(ImageError, match="is a PDF; read it as a page"):
        load_image(b"%PDF-1.4\n%...\n")


def test_transparency_and_deep_pixels_are_converted_band_by_band(monkeypatch):
    """RGBA onto white and 16-bit / float stretching run in bands of rows (a 64 MP transparent PNG
    needed 3.4 GB of float temporaries at once): the pixels are those of the whole-image formula,
    whatever the band height."""
    from hwocr import imageio

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (37, 23, 4), dtype=np.uint8)
    deep = rng.integers(0, 65536, (37, 23), dtype=np.uint16)
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    want_rgba = np.clip(rgba[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha) + 0.5, 0, 255).astype(np.uint8)
    want_deep = (deep.astype(np.float64) * (255.0 / 65535.0) + 0.5).clip(0, 255).astype(np.uint8)
    for rows in (1, 5, 256):
        monkeypatch.setattr(imageio, "_BAND_ROWS", rows)
        assert np.array_equal(imageio.load_image(rgba).rgb, want_rgba)
        assert np.array_equal(imageio.load_image(deep).rgb[:, :, 0], want_deep)
