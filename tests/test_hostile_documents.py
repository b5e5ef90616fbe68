"""Hostile documents and files: multi-page inputs are read a page at a time, PDF pages are drawn in a
bounded child process, special and oversized files are refused, labels files are checked; every
failure is one line."""

from __future__ import annotations

import io
import os
import resource
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT


def hwocr(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HWOCR_PRECISION": "f32"}
    return subprocess.run([sys.executable, "-m", "hwocr", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=cwd)


def one_line_error(r: subprocess.CompletedProcess, *words: str) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 1 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


# -- PDFs written by hand -----------------------------------------------------------------------------
def pdf(objs: list[bytes]) -> bytes:
    """Object k+1 is objs[k]; object 1 is the catalog."""
    out = bytearray(b"%PDF-1.7\n")
    offs = []
    for i, body in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offs)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def laughs_pdf(levels: int = 9) -> bytes:
    """2.4 KB: nested forms, each drawing the next 10 times (10^8 fills, gigabytes inside PDFium)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /F 5 0 R >> >> "
            b"/Contents 4 0 R >>", stream(b"/F Do")]
    for lv in range(levels):
        last = lv == levels - 1
        res = b"" if last else b"/Resources << /XObject << /F %d 0 R >> >> " % (6 + lv)
        objs.append(stream(b"0 0 1 1 re f " if last else b"/F Do " * 10,
                           b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] " + res))
    return pdf(objs)


def blank_pages_pdf(n: int) -> bytes:
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(n))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n)]
    objs += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * n
    return pdf(objs)


def test_a_pdf_page_that_asks_for_gigabytes_is_refused_and_the_process_stays_small(tmp_path):
    from hwocr.errors import ImageError
    from hwocr.pages.inputs import load_pdf

    data = laughs_pdf()
    assert len(data) < 4096
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageError, match=r"cannot be rendered within \d+ MB"):
        load_pdf(data)
    # the parent never parsed the page (PDFium expands the forms when a page is loaded) nor drew it
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KB
    f = tmp_path / "laughs.pdf"
    f.write_bytes(data)
    one_line_error(hwocr("page", str(f)), "laughs.pdf", "refused")


def test_the_child_renders_the_same_pixels_as_pdfium_in_process():
    import pypdfium2 as pdfium

    from hwocr.pages.inputs import load_pdf

    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(buf, "PDF")
    (page,) = load_pdf(buf.getvalue(), dpi=144)
    want = np.asarray(pdfium.PdfDocument(buf.getvalue())[0].render(scale=2.0).to_pil().convert("RGB"))
    assert page.rgb.shape == want.shape and page.rgb.dtype == np.uint8
    assert np.array_equal(page.rgb, want)


def test_a_slow_page_is_refused_after_the_render_timeout():
    from hwocr.errors import ImageError
    from hwocr.pages.pdfrender import PdfRenderer

    with PdfRenderer(max_bytes=8 << 30, timeout_s=0.5) as r:
        with pytest.raises(ImageError, match=r"more than 0.5 s to render"):
            r.render(laughs_pdf(), 0, 1.0, "slow.pdf")


def test_a_render_stops_as_soon_as_its_caller_is_cancelled():
    """A server request's time limit (or its client gone) cancels its token: the page being drawn is
    abandoned within a poll, its child ended, and the renderer draws the next page afresh."""
    import threading

    from hwocr.cancel import Cancelled, Token, running_under
    from hwocr.pages.pdfrender import PdfRenderer

    token = Token()
    with PdfRenderer(max_bytes=8 << 30, timeout_s=60) as r:
        threading.Timer(0.3, token.cancel, args=("timed out after 0.3 s",)).start()
        t = time.monotonic()
        with running_under(token), pytest.raises(Cancelled, match="timed out"):
            r.render(laughs_pdf(), 0, 1.0, "slow.pdf")
        assert time.monotonic() - t < 5 and r._proc is None  # not the 60 s the page would take
        assert r.render(blank_pages_pdf(1), 0, 0.2, "next.pdf").shape[2] == 3


def test_pages_are_decoded_one_at_a_time():
    from hwocr.pages.inputs import iter_pages

    it = iter_pages(blank_pages_pdf(3), dpi=20)
    first = next(it)
    assert first.index == 0 and first.name.endswith("#1")
    assert [p.index for p in it] == [1, 2]


def test_a_broken_page_tree_and_an_empty_pdf_are_one_line(tmp_path):
    loop = tmp_path / "loop.pdf"
    loop.write_bytes(pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"]))
    one_line_error(hwocr("page", str(loop)), "loop.pdf", "corrupt PDF")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]))
    line = one_line_error(hwocr("page", str(empty)), "empty.pdf")
    assert "Success" not in line


def test_too_many_pages_are_refused_before_any_is_read(monkeypatch):
    from hwocr.errors import InputTooLarge
    from hwocr.pages import inputs

    monkeypatch.setattr(inputs, "MAX_PAGES", 2)
    with pytest.raises(InputTooLarge, match="has more than 2 pages, over the limit of 2"):
        next(inputs.iter_pages(blank_pages_pdf(3), dpi=20))
    assert len(inputs.load_pages(blank_pages_pdf(3), dpi=20, pages=[2])) == 1  # one page asked for: fine


def test_a_far_frame_of_a_gif_is_refused_before_the_frames_before_it_are_decoded():
    """A GIF (or animated PNG) reaches frame i by decoding every frame before it: a 46 KB GIF of 2 000
    tiny frames on a 36 MP canvas asked for its last page decoded for 70 s. The frames a seek decodes are
    bounded by MAX_SEEK_PAGES pages' pixels, so a request for a far frame is refused at once; frames
    read in order (one step each), or a near one, still read."""
    from hwocr.errors import InputTooLarge
    from hwocr.pages import inputs

    frames = []
    for k in range(40):  # 100 x 100 px each (a different dot, so Pillow keeps every frame)
        im = Image.new("L", (100, 100), 255)
        im.putpixel((k, k), 0)
        frames.append(im)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    gif = buf.getvalue()
    limit = 100 * 100  # pixels per page: a seek may decode 16 frames
    with pytest.raises(InputTooLarge, match=r"#40: reaching this frame decodes 39 frames of 100x100 px"):
        inputs.load_pages(gif, max_pixels=limit, pages=[39])
    assert [p.index for p in inputs.load_pages(gif, max_pixels=limit, pages=[15, 30])] == [15, 30]
    got = inputs.load_pages(gif, max_pixels=limit)  # every frame, in order
    assert len(got) == 40 and all(p.rgb[k, k].tolist() == [0, 0, 0] for k, p in enumerate(got))
    tif = io.BytesIO()  # a multi-page TIFF seeks without decoding: no such bound
    frames[0].save(tif, "TIFF", save_all=True, append_images=frames[1:])
    assert inputs.load_pages(tif.getvalue(), max_pixels=limit, pages=[39])[0].rgb[39, 39].tolist() == [0, 0, 0]


# -- multi-page TIFF --------------------------------------------------------------------------------
def tiff(pages: list[tuple[int, int, bytes]]) -> bytes:
    """Little-endian 8-bit grey TIFF, deflate strips: (width, height, compressed strip) per page."""
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    offs = []
    for _, _, strip in pages:
        offs.append(len(out))
        out += strip + b"\x00" * (len(strip) % 2)
    nxt = 4
    for (w, h, strip), off in zip(pages, offs):
        struct.pack_into("<I", out, nxt, len(out))
        tags = [(256, 4, w), (257, 4, h), (258, 3, 8), (259, 3, 8), (262, 3, 1), (273, 4, off), (277, 3, 1),
                (278, 4, h), (279, 4, len(strip))]
        out += struct.pack("<H", len(tags))
        for tag, typ, val in tags:
            out += struct.pack("<HHIHH", tag, typ, 1, val, 0) if typ == 3 else struct.pack("<HHII", tag, typ, 1, val)
        nxt = len(out)
        out += b"\x00\x00\x00\x00"
    return bytes(out)


def white(n: int) -> bytes:
    c = zlib.compressobj(9)
    return b"".join(c.compress(b"\xff" * min(n - k, 1 << 22)) for k in range(0, n, 1 << 22)) + c.flush()


def test_a_huge_later_tiff_page_is_refused_in_one_line(tmp_path):
    f = tmp_path / "two.tif"
    f.write_bytes(tiff([(64, 64, white(64 * 64)), (50000, 50000, white(50000 * 50000))]))
    assert f.stat().st_size < 4 << 20
    one_line_error(hwocr("page", str(f)), "two.tif#2", "too large")


def test_a_tiff_of_very_many_pages_is_counted_only_up_to_the_limit(tmp_path, monkeypatch):
    """Pillow's n_frames walks every page of a TIFF in time growing with the square of their number (a 23 MB
    file of 200 000 4x4 pages: 152 s before any limit applied); hwocr counts up to one past the limit."""
    from hwocr.batch import inputs as batch_inputs
    from hwocr.errors import InputTooLarge
    from hwocr.pages import inputs

    many = tiff([(4, 4, white(16))] * 300)
    f = tmp_path / "many.tif"
    f.write_bytes(many)
    assert inputs.frame_count(Image.open(f)) == 300  # under the limit: every page
    monkeypatch.setattr(inputs, "MAX_PAGES", 20)
    img = Image.open(f)
    assert inputs.frame_count(img) == 21 and img.tell() == 0  # stopped one past it, back where it was
    with pytest.raises(InputTooLarge, match="many.tif: has more than 20 pages, over the limit of 20"):
        next(inputs.iter_pages(str(f)))
    assert batch_inputs.count_pages(str(f)) == 21
    # a page asked for is still read
    assert inputs.load_pages(str(f), pages=[7])[0].rgb.shape == (4, 4, 3)


def test_the_batch_page_count_opens_only_the_format_the_magic_bytes_name(tmp_path, monkeypatch):
    """Counting the pages of a job's file goes through the one format its magic bytes name, as every other
    read does: a file in a format hwocr does not read never reaches that Pillow plugin."""
    from PIL import IcoImagePlugin

    from hwocr.batch.inputs import count_pages

    ico = tmp_path / "x.ico"
    Image.new("RGB", (32, 32), "white").save(ico)
    opened = []
    original = IcoImagePlugin.IcoImageFile._open
    monkeypatch.setattr(IcoImagePlugin.IcoImageFile, "_open", lambda self: (opened.append(1), original(self))[1])
    assert count_pages(str(ico)) == 1 and not opened
    assert Image.open(ico).format == "ICO" and opened  # (what the plain call did)


# -- files that are not images, or too big --------------------------------------------------------------
def test_special_and_oversized_files_are_refused(tmp_path, monkeypatch):
    from hwocr import imageio
    from hwocr.errors import ImageError, InputTooLarge

    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.png"
    zero.symlink_to("/dev/zero")
    for f in (fifo, zero):
        with pytest.raises(ImageError, match="not a regular file"):
            imageio.read_source(f)
    one_line_error(hwocr("read", str(fifo)), "fifo.png", "not a regular file")
    one_line_error(hwocr("page", str(zero)), "zero.png", "not a regular file")
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.write(tiny := _png())
        fh.truncate(imageio.MAX_FILE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(InputTooLarge, match="over the 256 MB limit"):
        imageio.read_source(big)
    ok = tmp_path / "ok.png"
    ok.write_bytes(tiny)
    assert imageio.read_source(ok) == tiny


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (300, 48), "white").save(buf, "PNG")
    return buf.getvalue()


def test_labels_that_are_not_utf8_or_start_with_a_bom(tmp_path):
    from hwocr.errors import HwocrError
    from hwocr.metrics import read_labels

    (tmp_path / "a.png").write_bytes(_png())
    (tmp_path / "labels.tsv").write_bytes(b"\xef\xbb\xbfa.png\ttext\n")
    assert read_labels(tmp_path) == [(tmp_path / "a.png", "text")]
    # a label may hold what str.splitlines cuts at (a line separator, NEL, a form feed); CRLF still ends a line
    (tmp_path / "labels.tsv").write_text("a.png\ta\u2028b\u0085c\fd\r\na.png\tx\n", encoding="utf-8")
    assert read_labels(tmp_path) == [(tmp_path / "a.png", "a\u2028b\u0085c\fd"), (tmp_path / "a.png", "x")]
    (tmp_path / "labels.tsv").write_bytes(b"a.png\tok\na.png\t\xff\xfe\n")
    with pytest.raises(HwocrError, match=r"labels.tsv:2: not UTF-8"):
        read_labels(tmp_path)
    one_line_error(hwocr("eval", str(tmp_path)), "labels.tsv:2", "not UTF-8")



def test_a_label_too_long_to_score_is_refused(tmp_path):
    """Scoring compares a label with its reading character by character: a 5 M-character label
    (one 64 MB labels file holds it) must not make ``hwocr eval`` run for hours."""
    from hwocr.errors import HwocrError
    from hwocr.metrics import MAX_LABEL_CHARS, read_labels

    (tmp_path / "a.png").write_bytes(_png())
    (tmp_path / "labels.tsv").write_text(f"a.png\t{'x' * MAX_LABEL_CHARS}\n", encoding="utf-8")
    assert len(read_labels(tmp_path)[0][1]) == MAX_LABEL_CHARS
    # the limit holds for the text as scored: NFKC writes U+FDFA as 18 characters, 15 of them not blank
    (tmp_path / "labels.tsv").write_text(f"a.png\t{chr(0xFDFA) * 1000}\n", encoding="utf-8")
    with pytest.raises(HwocrError, match=r"labels.tsv:1: label of 15000 characters as scored \(NFKC\)"):
        read_labels(tmp_path)
    (tmp_path / "labels.tsv").write_text(f"a.png\tok\na.png\t{'字' * 5_000_000}\n", encoding="utf-8")
    with pytest.raises(HwocrError, match=r"labels.tsv:2: label of 5000000 characters"):
        read_labels(tmp_path)
    t = time.monotonic()
    one_line_error(hwocr("eval", str(tmp_path)), "labels.tsv:2", "limit 10000")
    assert time.monotonic() - t < 30


def test_one_renderer_serves_documents_in_turn_and_survives_a_bomb():
    """A batch worker keeps one rendering child: documents in turn, and a fresh child after one
    that had to be stopped."""
    from hwocr.errors import ImageError
    from hwocr.pages.inputs import load_pages, load_pdf
    from hwocr.pages.pdfrender import PdfRenderer

    buf = io.BytesIO()
    Image.new("RGB", (90, 60), (200, 10, 10)).save(buf, "PDF")
    red, blank = buf.getvalue(), blank_pages_pdf(2)
    with PdfRenderer() as r:
        (a,) = load_pages(red, dpi=72, renderer=r)
        child = r._proc.pid
        b = load_pages(blank, dpi=72, renderer=r)
        assert r._proc.pid == child  # the same child read both documents
        with pytest.raises(ImageError, match="refused"):
            load_pages(laughs_pdf(), dpi=72, renderer=r)
        (c,) = load_pages(red, dpi=72, renderer=r)
    assert tuple(a.rgb[30, 45]) == tuple(c.rgb[30, 45]) and a.rgb[30, 45, 0] > 150 > a.rgb[30, 45, 1]
    assert [p.index for p in b] == [0, 1] and b[0].rgb.min() == 255
    assert load_pdf(red, dpi=72)[0].rgb.shape == a.rgb.shape


def test_a_shared_renderer_is_safe_across_threads():
    from concurrent.futures import ThreadPoolExecutor

    from hwocr.pages.inputs import load_pages
    from hwocr.pages.pdfrender import PdfRenderer

    docs = []
    for colour in ((200, 10, 10), (10, 200, 10), (10, 10, 200)):
        buf = io.BytesIO()
        Image.new("RGB", (90, 60), colour).save(buf, "PDF")
        docs.append(buf.getvalue())
    with PdfRenderer() as r, ThreadPoolExecutor(3) as ex:
        got = list(ex.map(lambda k: load_pages(docs[k % 3], dpi=72, renderer=r)[0].rgb[30, 45].argmax(), range(12)))
    assert got == [k % 3 for k in range(12)]


def test_label_names_outside_their_folder_are_refused(tmp_path):
    """A labels file from elsewhere must not make eval (or finetune) read files outside its folder."""
    from hwocr.errors import HwocrError
    from hwocr.metrics import read_labels

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.png").write_bytes(_png())
    (tmp_path / "labels.tsv").write_text("sub/a.png\tx\n", encoding="utf-8")
    assert read_labels(tmp_path) == [(tmp_path / "sub" / "a.png", "x")]
    for name in ("../a.png", "/etc/passwd", "sub/../../a.png", "C:\\a.png", "..\\a.png"):
        (tmp_path / "labels.tsv").write_text(f"sub/a.png\tx\n{name}\ty\n", encoding="utf-8")
        with pytest.raises(HwocrError, match=r"labels.tsv:2: image name .* is not inside the labels' folder"):
            read_labels(tmp_path)
    (tmp_path / "labels.tsv").write_text("\ty\n", encoding="utf-8")
    with pytest.raises(HwocrError, match=r"labels.tsv:1: no image name"):
        read_labels(tmp_path)
    (tmp_path / "labels.tsv").write_text("../../etc/passwd\ty\n", encoding="utf-8")
    one_line_error(hwocr("eval", str(tmp_path)), "labels.tsv:1", "not inside the labels' folder")
