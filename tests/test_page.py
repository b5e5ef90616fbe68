"""Whole-page reading: detection, reading order (horizontal and vertical), inputs (PDF, multi-page
TIFF, EXIF rotation), outputs (JSON, text, hOCR, overlay, PDF). Pages are synthesised here with
rendered digits (every machine has DejaVu Sans), so no network and no eval data are needed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from hwocr.pages.detect import TextBox
from hwocr.errors import HwocrError
from hwocr.pages.layout import build_lines, column_cells, crop_line, reflow_column, reflow_quads, span_to_quad

FONT_PATHS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)


def _font(size: int = 40):
    for p in FONT_PATHS:
        if Path(p).is_file():
            return ImageFont.truetype(p, size)
    return ImageFont.load_default(size)


def hpage() -> Image.Image:
    """Four lines; the second row holds two lines far apart (left one first)."""
    im = Image.new("RGB", (900, 560), "white")
    d = ImageDraw.Draw(im)
    f = _font()
    d.text((60, 60), "31415926", font=f, fill="black")
    d.text((80, 200), "2718", font=f, fill="black")
    d.text((560, 205), "1414", font=f, fill="black")
    d.text((70, 360), "57721566", font=f, fill="black")
    return im


H_TEXTS = ["31415926", "2718", "1414", "57721566"]


def vpage(cols=("3141", "592653", "5897")) -> Image.Image:
    """Columns of upright digits, written right to left (tategaki)."""
    im = Image.new("RGB", (700, 520), "white")
    d = ImageDraw.Draw(im)
    f = _font()
    x = 600
    for c in cols:
        for k, ch in enumerate(c):
            d.text((x, 40 + k * 52), ch, font=f, fill="black")
        x -= 110
    return im


@pytest.fixture(scope="module")
def reader():
    from hwocr.reader import Reader

    return Reader(lang="zh")


def texts(res):
    return [ln.text for ln in res.lines]


# -- geometry only (no models) -------------------------------------------------------------------


def _box(x0, y0, x1, y1, s=0.9):
    return TextBox(((x0, y0), (x1, y0), (x1, y1), (x0, y1)), s)


def test_layout_merges_pieces_and_orders_rows():
    boxes = [_box(500, 100, 700, 140), _box(100, 300, 400, 340), _box(100, 100, 460, 140), _box(600, 302, 800, 338)]
    lines = build_lines(boxes, "auto")
    # pieces of the first row (gap 40 px < 1.2 x height) merge; the second row's pieces are far apart
    assert [ln.direction for ln in lines] == ["horizontal"] * 3
    xs = [(ln.quad[:, 0].min(), ln.quad[:, 1].min()) for ln in lines]
    assert xs[0][1] < 150 and xs[0][0] == pytest.approx(100, abs=1) and lines[0].quad[:, 0].max() == pytest.approx(700, abs=1)
    assert xs[1][0] < xs[2][0] and xs[1][1] > 250  # second row: left before right


def test_layout_vertical_columns_right_to_left():
    cols = [_box(x, 50, x + 50, 400) for x in (100, 200, 300, 400)]
    lines = build_lines(cols, "auto")
    assert [ln.direction for ln in lines] == ["vertical"] * 4
    assert [round(float(ln.quad[:, 0].min())) for ln in lines] == [400, 300, 200, 100]
    # square pieces stacked in columns: "auto" decides vertical from how they line up
    pieces = [_box(x, y, x + 48, y + 48) for x in (100, 200) for y in (50, 110, 170, 230)]
    lines = build_lines(pieces, "auto")
    assert len(lines) == 2 and all(ln.direction == "vertical" for ln in lines)
    assert lines[0].quad[:, 0].min() > lines[1].quad[:, 0].min()


def test_layout_rejects_unknown_direction():
    with pytest.raises(HwocrError):
        build_lines([_box(0, 0, 100, 20)], "diagonal")


def test_crop_deskews_and_maps_back():
    img = np.full((300, 400, 3), 255, np.uint8)
    quad = np.array([[50, 100], [350, 130], [347, 160], [47, 130]], np.float32)  # ~5.7 degrees
    c = crop_line(img, quad, vertical=False, tight=False)
    assert c.image.shape[0] < 50 and c.image.shape[1] > 300  # upright strip
    q = span_to_quad(c, 0, c.size[0])
    assert np.allclose(q[:, 1].mean(), quad[:, 1].mean(), atol=3)
    cv = crop_line(img, np.array([[100, 20], [140, 20], [140, 280], [100, 280]], np.float32), vertical=True)
    assert cv.image.shape[1] > cv.image.shape[0]  # column turned to a row
    top = span_to_quad(cv, 0, 10)  # the start of the recogniser's row is the top of the column
    assert top[:, 1].max() < 60


def _column(glyphs):
    """An upright column image of filled shapes: (height, [gaps inside the glyph]) per glyph."""
    W = 60
    rows = []
    for h, holes in glyphs:
        g = np.zeros((h, W), bool)
        g[:, 10:50] = True
        for a, b in holes:
            g[a:b] = False
        rows += [g, np.zeros((12, W), bool)]
    m = np.concatenate([np.zeros((8, W), bool)] + rows)
    img = np.where(m[:, :, None], 20, 240).astype(np.uint8).repeat(3, axis=2)
    return img


def test_column_cells_merge_and_split():
    # a 40 px wide column: a normal glyph, one in two pieces (like 二), a tall blob of two glyphs
    # touching (split at its weakest row), a small one
    tall = (84, [])
    img = _column([(40, []), (40, [(6, 34)]), tall, (38, [])])
    img[8 + 52 + 52 + 41: 8 + 52 + 52 + 43, 10:48] = 240  # weak row inside the tall blob
    img[8 + 52 + 52 + 41: 8 + 52 + 52 + 43, 48:50] = 20
    cells, ref = column_cells(img)
    assert ref == pytest.approx(40, abs=1)
    assert len(cells) == 5
    sizes = [b - a for a, b in cells]
    assert sizes[1] == 40  # the two strokes of one glyph stay together
    assert abs(cells[3][0] - (8 + 52 + 52 + 42)) <= 2  # split where the ink is thinnest
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(cells, cells[1:]))


def test_reflow_lays_cells_out_and_maps_back():
    page = np.full((400, 300, 3), 240, np.uint8)
    col = _column([(40, []), (40, []), (40, [])])
    page[50:50 + col.shape[0], 100:160] = col
    quad = np.array([[100, 50], [160, 50], [160, 50 + col.shape[0]], [100, 50 + col.shape[0]]], np.float32)
    c = crop_line(page, quad, vertical=True)
    r = reflow_column(c)
    assert r is not None and len(r.cells) == 3 and r.turn == "ccw"
    h, w = r.image.shape[:2]
    assert w > 3 * h and h < 70  # one row of upright cells
    # a character read in each slot maps back to its glyph's rows on the page, top to bottom
    spans = [(s0 + 5, s1 - 5) for _, _, s0, s1 in r.cells]
    qs = reflow_quads(r, spans)
    tops = [q[:, 1].min() for q in qs]
    assert tops == sorted(tops)
    for k, q in enumerate(qs):
        assert q[:, 1].min() == pytest.approx(58 + 52 * k, abs=3) and q[:, 1].max() == pytest.approx(98 + 52 * k, abs=3)
        assert 95 < q[:, 0].mean() < 165
    # two characters read in one cell share it out; span_to_quad follows the cells too
    two = reflow_quads(r, [(r.cells[0][2] + 2, r.cells[0][2] + 10), (r.cells[0][3] - 10, r.cells[0][3] - 2)])
    assert two[0][:, 1].max() == pytest.approx(two[1][:, 1].min(), abs=0.5)
    assert span_to_quad(r, r.cells[1][2], r.cells[1][3])[:, 1].min() == pytest.approx(qs[1][:, 1].min(), abs=1)
    assert reflow_column(crop_line(page, quad, vertical=False)) is None  # horizontal crops are left alone
    assert reflow_column(crop_line(np.full((400, 300, 3), 240, np.uint8), quad, vertical=True)) is None


# -- with the models ----------------------------------------------------------------------------


def test_horizontal_page_order_and_text(reader):
    res = reader.read_page(hpage())
    assert texts(res) == H_TEXTS
    assert all(ln.direction == "horizontal" for ln in res.lines)
    ln = res.lines[0]
    assert len(ln.chars) == 8
    cx = [np.mean([p[0] for p in c.polygon]) for c in ln.chars]
    assert cx == sorted(cx) and 60 <= cx[0] < cx[-1] <= 260  # character cells in page pixels
    assert 0 < ln.confidence <= 1 and res.width == 900 and res.height == 560


@pytest.mark.parametrize("direction", ["vertical", "auto"])
def test_vertical_page_read_right_to_left(reader, direction):
    res = reader.read_page(vpage(), direction=direction)
    assert texts(res) == ["3141", "592653", "5897"]
    assert all(ln.direction == "vertical" for ln in res.lines)
    col = res.lines[1]
    cy = [np.mean([p[1] for p in c.polygon]) for c in col.chars]
    assert cy == sorted(cy)  # characters top to bottom on the page
    assert res.lines[0].bbox[0] > res.lines[1].bbox[0] > res.lines[2].bbox[0]


@pytest.mark.parametrize("vertical", ["rotate", "reflow", "both"])
def test_vertical_modes(reader, vertical):
    from hwocr.pages.document import read_image

    res = read_image(reader, np.asarray(vpage()), vertical=vertical)
    assert texts(res) == ["3141", "592653", "5897"]
    col = res.lines[1]
    cy = [np.mean([p[1] for p in c.polygon]) for c in col.chars]
    assert cy == sorted(cy) and cy[0] == pytest.approx(40 + 26, abs=15) and cy[-1] == pytest.approx(40 + 5 * 52 + 26, abs=15)
    with pytest.raises(HwocrError):
        read_image(reader, np.asarray(vpage()), vertical="sideways")


def test_forced_direction_is_obeyed(reader):
    res = reader.read_page(vpage(), direction="horizontal")
    assert all(ln.direction == "horizontal" for ln in res.lines)
    assert texts(res) != ["3141", "592653", "5897"]


def test_empty_page_is_an_empty_result(reader):
    res = reader.read_page(np.full((400, 300, 3), 250, np.uint8))
    assert res.lines == () and res.text == ""
    from hwocr.pages import export

    assert json.loads(export.to_json([res]))["pages"][0]["lines"] == []
    ET.fromstring(export.to_hocr([res]))


class _CountingDetector:
    """The reader's own detector, counting the pages it is asked to detect."""

    def __init__(self, det):
        self.det, self.calls, self.name, self.max_side = det, 0, det.name, det.max_side

    def detect(self, rgb):
        self.calls += 1
        return self.det.detect(rgb)


def test_a_blank_page_is_not_sent_to_the_detector_and_one_small_character_is(reader):
    """A scanned blank (paper tint, noise, light falling off, JPEG) reads as no lines without the
    detector, which found noise to read there and took most of the page's time; one small real-looking
    character on the same page still goes to the detector."""
    import cv2

    from hwocr.pages.document import read_image

    det = _CountingDetector(reader.detector("ppocr"))
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:1754, 0:1240].astype(np.float32)
    paper = 235 - 30 * (xx / 1240) * (yy / 1754) + rng.normal(0, 4, (1754, 1240)).astype(np.float32)
    blank = np.repeat(np.clip(paper, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    blank = cv2.imdecode(cv2.imencode(".jpg", blank, [cv2.IMWRITE_JPEG_QUALITY, 70])[1], cv2.IMREAD_COLOR)
    res = read_image(reader, blank, detector=det)
    assert res.lines == () and det.calls == 0
    one = blank.copy()
    ImageDraw.Draw(img := Image.fromarray(one)).text((900, 1300), "7", fill=(150, 150, 150), font=_font(20))
    res = read_image(reader, np.asarray(img), detector=det)
    assert det.calls == 1


def test_pdf_input(reader, tmp_path):
    pytest.importorskip("pypdfium2")
    p = tmp_path / "two.pdf"
    hpage().save(p, "PDF", resolution=100, save_all=True, append_images=[vpage()])
    from hwocr.pages.document import read_document

    pages = read_document(reader, p, dpi=100)
    assert len(pages) == 2
    assert texts(pages[0]) == H_TEXTS
    assert texts(pages[1]) == ["3141", "592653", "5897"] and pages[1].page == 1
    assert pages[0].width == 900  # 100 dpi render of a page written at 100 dpi
    assert texts(reader.read_page(str(p), page=1, dpi=100)) == texts(pages[1])
    with pytest.raises(HwocrError, match=r"no page 2 \(its 2 pages are numbered 0 to 1\)"):
        reader.read_page(p, page=2, dpi=100)


def test_broken_pdf_is_a_one_line_error(reader, tmp_path):
    p = tmp_path / "bad.pdf"
    p.write_bytes(b"%PDF-1.4\nthis is not a pdf")
    with pytest.raises(HwocrError) as e:
        reader.read_page(p)
    assert "\n" not in str(e.value)


def test_multipage_tiff(reader, tmp_path):
    p = tmp_path / "pages.tif"
    hpage().save(p, save_all=True, append_images=[vpage().convert("L")])
    from hwocr.pages.document import read_document

    pages = read_document(reader, p)
    assert [texts(pg) for pg in pages] == [H_TEXTS, ["3141", "592653", "5897"]]
    assert pages[1].source.endswith("#2")


def test_exif_orientation(reader, tmp_path):
    # stored rotated 90 degrees clockwise, with EXIF orientation 8 telling viewers to turn it back
    stored = hpage().transpose(Image.Transpose.ROTATE_270)
    exif = Image.Exif()
    exif[0x0112] = 8
    p = tmp_path / "rot.jpg"
    stored.save(p, exif=exif.tobytes(), quality=95)
    res = reader.read_page(p)
    assert (res.width, res.height) == (900, 560)
    assert texts(res) == H_TEXTS


def test_outputs_well_formed(reader, tmp_path):
    from hwocr.pages import export

    pages = [reader.read_page(hpage()), reader.read_page(vpage())]
    d = json.loads(export.to_json(pages))
    assert [ln["text"] for ln in d["pages"][1]["lines"]] == ["3141", "592653", "5897"]
    c = d["pages"][0]["lines"][0]["chars"][0]
    assert len(c["polygon"]) == 4 and 0 <= c["confidence"] <= 1
    assert export.to_text(pages).split("\f")[0].splitlines() == H_TEXTS
    root = ET.fromstring(export.to_hocr(pages).encode("utf-8"))
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    assert len(root.findall(".//h:div[@class='ocr_page']", ns)) == 2
    lines = root.findall(".//h:span[@class='ocr_line']", ns)
    assert ["".join(w.text for w in ln) for ln in lines] == H_TEXTS + ["3141", "592653", "5897"]
    assert "textangle 90" in lines[-1].get("title")
    assert all(w.get("title").startswith("bbox ") for w in root.findall(".//h:span[@class='ocrx_word']", ns))
    img = export.overlay(np.asarray(hpage()), pages[0])
    assert img.size == (900, 560)


def test_searchable_pdf(reader, tmp_path):
    pdfium = pytest.importorskip("pypdfium2")
    from hwocr.pages import export

    rgbs = [np.asarray(hpage()), np.asarray(vpage())]
    pages = [reader.read_page(im) for im in rgbs]
    data = export.to_pdf(pages, rgbs, dpi=100)
    doc = pdfium.PdfDocument(data)
    assert len(doc) == 2
    w, h = doc[0].get_size()
    assert (round(w), round(h)) == (648, 403)  # 900 x 560 px at 100 dpi, in points
    p0, p1 = doc[0], doc[1]
    assert p0.get_textpage().get_text_range().split("\r\n") == ["31415926", "2718 1414", "57721566"]
    assert "592653" in p1.get_textpage().get_text_range().replace("\r\n", "").replace(" ", "")
    # CJK text survives too (PDFium drops non-embedded Identity CID text when no CJK font is installed)
    from hwocr.pages.document import PageChar, PageLine, PageResult

    cells = tuple(PageChar(ch, 0.9, ((50 + 40 * i, 50), (90 + 40 * i, 50), (90 + 40 * i, 90), (50 + 40 * i, 90)))
                  for i, ch in enumerate("漢字こんにちは"))
    pg = PageResult(600, 400, (PageLine("漢字こんにちは", 0.9, cells[0].polygon, "horizontal", cells),))
    d2 = pdfium.PdfDocument(export.to_pdf([pg], [np.full((400, 600, 3), 255, np.uint8)], dpi=100))
    page0 = d2[0]
    assert page0.get_textpage().get_text_range() == "漢字こんにちは"
    # ... with or without a CJK font installed (the PDF embeds its own), and the layer stays invisible
    assert int(np.asarray(page0.render(scale=1).to_pil().convert("L")).min()) == 255


def test_glyphless_font_is_one_square_that_the_script_builds():
    from importlib import resources

    from hwocr.pages import pdfwrite

    shipped = resources.files("hwocr").joinpath(pdfwrite.FONT_RESOURCE).read_bytes()
    assert shipped[:4] == b"\x00\x01\x00\x00" and len(shipped) < 2048  # a small TrueType file
    pytest.importorskip("fontTools")
    import importlib.util
    import io

    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(shipped))
    assert font.getGlyphOrder()[pdfwrite.CELL_GLYPH] == "cell"
    coords, _, _ = font["glyf"]["cell"].getCoordinates(font["glyf"])
    assert sorted(map(tuple, coords)) == [(0, 0), (0, 1000), (1000, 0), (1000, 1000)]
    spec = importlib.util.spec_from_file_location("mgf", Path(__file__).parents[1] / "scripts" / "make_glyphless_font.py")
    mgf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mgf)
    rebuilt = TTFont(io.BytesIO(mgf.build()))
    assert rebuilt.getGlyphOrder() == font.getGlyphOrder()
    assert rebuilt["glyf"]["cell"].getCoordinates(rebuilt["glyf"])[0] == font["glyf"]["cell"].getCoordinates(font["glyf"])[0]


def test_cli_page(tmp_path):
    from click.testing import CliRunner

    from hwocr.cli import cli

    p = tmp_path / "p.png"
    hpage().save(p)
    ov = tmp_path / "ov.png"
    r = CliRunner().invoke(cli, ["page", str(p), "--format", "txt", "--overlay", str(ov)])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == H_TEXTS
    assert Image.open(ov).size == (900, 560)
    r = CliRunner().invoke(cli, ["page", str(p), "--format", "json"])
    line = json.loads(r.output)["pages"][0]["lines"][0]
    assert line["text"] == H_TEXTS[0] and line["lang"] in ("zh", "ja") and line["lang_by"] == "block"  # lang auto
    r = CliRunner().invoke(cli, ["page", str(tmp_path / "missing.png")])
    assert r.exit_code == 1 and "no such file" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(cli, ["page", str(p), "--format", "pdf"])
    assert r.exit_code == 1 and "-o" in r.output
    out = tmp_path / "o.pdf"
    r = CliRunner().invoke(cli, ["page", str(p), "--format", "pdf", "-o", str(out)])
    assert r.exit_code == 0 and out.read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize("filenames", [None, True, False])
@pytest.mark.parametrize("texts", [[], ["一行"], ["一行\n二行", "", "三"]])
def test_page_output_streamed_a_page_at_a_time_is_the_documents_export(capsys, filenames, texts):
    """`hwocr page` prints txt and json page by page as they are read: the same bytes as exporting
    the whole document at the end (headers by default only with several pages)."""
    from hwocr.cli_page import _Printer
    from hwocr.pages import export
    from hwocr.pages.document import PageLine, PageResult

    box = ((0.0, 0.0), (9.0, 0.0), (9.0, 9.0), (0.0, 9.0))
    pages = [PageResult(10, 10, tuple(PageLine(t, 0.9, box, "horizontal") for t in txt.split("\n") if t),
                        f"doc.pdf#{k + 1}", k) for k, txt in enumerate(texts)]
    for fmt in ("txt", "json"):
        printer = _Printer(fmt, filenames)
        for p in pages:
            printer.add(p)
        printer.close()
        want = (export.to_json(pages) + "\n" if fmt == "json"
                else export.to_text(pages, filenames if filenames is not None else len(pages) > 1))
        assert capsys.readouterr().out == want


def test_a_page_wider_than_jpeg_allows_is_embedded_scaled_in_the_pdf(monkeypatch):
    """JPEG holds at most 65 500 px a side: a wider (valid) page is embedded scaled down, its page size
    and text layer in page units (the whole PDF failed, after every page was read)."""
    import pypdfium2 as pdfium

    from hwocr.pages import pdfwrite
    from hwocr.pages.document import PageResult

    monkeypatch.setattr(pdfwrite, "JPEG_MAX_SIDE", 100)
    enc = pdfwrite.encode_page(np.full((50, 300, 3), 255, np.uint8))
    assert (enc.width, enc.height, enc.jpeg_width, enc.jpeg_height) == (300, 50, 100, 16)
    pdf = pdfwrite.write_searchable_pdf([PageResult(300, 50, (), "wide.png", 0, "e", "d", "auto")], [enc], dpi=72)
    assert pdfium.PdfDocument(pdf).get_page_size(0) == (300.0, 50.0)


def test_the_detector_keeps_the_largest_candidates_when_there_are_too_many():
    """Past max_candidates regions the largest are kept, not the first OpenCV lists: a page whose text
    sits above thousands of specks lost every line of it."""
    from hwocr.pages.detect import db_boxes

    prob = np.zeros((400, 400), np.float32)
    prob[20:40, 20:300] = 1.0  # a line of text at the top
    for y in range(100, 400, 6):  # specks below it, listed first by OpenCV (bottom to top)
        for x in range(0, 400, 6):
            prob[y : y + 3, x : x + 3] = 1.0
    boxes = db_boxes(prob, min_size=1.0, max_candidates=50)
    assert len(boxes) <= 50 and any(b[:, 1].max() < 60 and b[:, 0].max() > 250 for b, _ in boxes)


def test_text_xml_cannot_hold_gives_valid_hocr_and_pdf():
    """A control character or U+FFFE in the text (a custom model's charlist holds any line) made the
    whole hOCR unreadable, as did U+FFFE in a (valid UTF-8) file name; a NaN confidence raised in
    round(); an empty character showed as a stray katakana in the PDF and a lone surrogate (a
    hand-edited batch record) failed it."""
    import pypdfium2 as pdfium

    from hwocr.pages import export
    from hwocr.pages.document import PageChar, PageLine, PageResult

    def cell(i):
        return ((10 + 20 * i, 10), (30 + 20 * i, 10), (30 + 20 * i, 30), (10 + 20 * i, 30))

    text = ["a", "\x0c", "\x00", "\ufffe", "<&>", "", "\ud800", "\u202e", "e\u0301"]
    chars = tuple(PageChar(c, float("nan") if i == 0 else 0.9, cell(i)) for i, c in enumerate(text))
    pg = PageResult(200, 40, (PageLine("".join(text), 0.9, cell(0), "horizontal", chars),), "scan\ufffe.png")
    root = ET.fromstring(export.to_hocr([pg]).encode("utf-8"))
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    words = root.findall(".//h:span[@class='ocrx_word']", ns)
    assert [w.text or "" for w in words] == ["a", "\ufffd", "\ufffd", "\ufffd", "<&>", "", "\ufffd", "\u202e", "e\u0301"]
    assert "x_wconf 0" in words[0].get("title") and "\\ufffe" in root.find(".//h:div", ns).get("title")
    doc = pdfium.PdfDocument(export.to_pdf([pg], [np.full((40, 200, 3), 255, np.uint8)], dpi=72))
    got = doc[0].get_textpage().get_text_range()
    assert got.startswith("a") and "<&>" in got and "\ufffd" in got and "e\u0301" in got
    assert not any("\u30a0" <= c <= "\u30ff" for c in got)  # (no glyph of the font's collection)


def test_a_pdf_is_written_page_by_page_from_an_iterable_of_images(tmp_path):
    """``write_searchable_pdf_to`` takes each page's image only when the page before it is written (a
    batch export of a long document held every page's JPEG and then the whole PDF); the file reads as
    the bytes version's, and a count of images unlike the pages' is one line."""
    import io

    import pypdfium2 as pdfium

    from hwocr.pages import pdfwrite
    from hwocr.pages.document import PageChar, PageLine, PageResult

    box = ((10, 10), (30, 10), (30, 30), (10, 30))
    pages = [PageResult(200, 40, (PageLine(t, 0.9, box, "horizontal", (PageChar(t, 0.9, box),)),), f"p{i}.png", i)
             for i, t in enumerate("一二三四")]
    out = io.BytesIO()
    written = []

    def images():
        for _ in pages:
            written.append(out.tell())
            yield pdfwrite.encode_page(np.full((40, 200, 3), 255, np.uint8))

    pdfwrite.write_searchable_pdf_to(out, pages, images(), dpi=72)
    assert all(b > a for a, b in zip(written, written[1:]))  # each page out before the next image is made
    doc = pdfium.PdfDocument(out.getvalue())
    assert [doc[i].get_textpage().get_text_range() for i in range(4)] == list("一二三四")
    assert out.getvalue() == pdfwrite.write_searchable_pdf(pages, [np.full((40, 200, 3), 255, np.uint8)] * 4, dpi=72)
    for n in (3, 5):
        with pytest.raises(HwocrError, match="one image per page result"):
            pdfwrite.write_searchable_pdf_to(io.BytesIO(), pages, [np.zeros((40, 200, 3), np.uint8)] * n)
