"""HTTP API tests with the real app (real Readers, real models) through FastAPI's TestClient / httpx ASGI transport."""

from __future__ import annotations

import asyncio
import io
import re
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")
httpx = pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

from hwocr.server import ServerConfig, create_app  # noqa: E402
from hwocr.server.app import MAX_TOP_K  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# strokes of 十, 二, 三 in a unit box: (x0, y0, x1, y1)
GLYPHS = {
    "十": [(0.12, 0.45, 0.88, 0.45), (0.5, 0.1, 0.5, 0.9)],
    "二": [(0.25, 0.3, 0.75, 0.3), (0.12, 0.72, 0.88, 0.72)],
    "三": [(0.25, 0.22, 0.75, 0.22), (0.3, 0.5, 0.7, 0.5), (0.12, 0.8, 0.88, 0.8)],
}


def draw_line(text: str = "十二三", h: int = 64) -> np.ndarray:
    """A synthetic pen-drawn line of simple characters (black strokes on white)."""
    import cv2

    img = np.full((h, h * len(text), 3), 255, np.uint8)
    for k, ch in enumerate(text):
        for a, b, c, d in GLYPHS[ch]:
            cv2.line(img, (int(k * h + a * h), int(b * h)), (int(k * h + c * h), int(d * h)), (0, 0, 0),
                     max(3, h // 12), cv2.LINE_AA)
    return img


def png(a: np.ndarray | Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    (a if isinstance(a, Image.Image) else Image.fromarray(a)).save(buf, "PNG", **kw)
    return buf.getvalue()


LINE_PNG = png(draw_line())


def png_with_size(w: int, h: int) -> bytes:
    """A tiny PNG whose header claims w x h pixels (a decompression-bomb header)."""
    small = png(Image.new("L", (8, 8), 255))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    patched = struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF)
    return small[:8] + patched + small[8 + 25:]


# -- fixtures: one real Reader per (lang, decoder), shared by all the apps of this module ----------------
_READERS: dict = {}
_LOCK = threading.Lock()


def shared_factory(lang: str, decoder: str, max_pixels: int):
    from hwocr.server.app import default_reader_factory

    with _LOCK:
        key = (lang, decoder)
        if key not in _READERS:
            _READERS[key] = default_reader_factory()(lang, decoder, max_pixels)
        return _READERS[key]


class SlowReader:
    """Wraps a Reader; each read sleeps first (timeouts and back-pressure)."""

    def __init__(self, inner, delay: float) -> None:
        self.inner = inner
        self.delay = delay

    def read_arrays(self, rgbs, batch_size=None):
        time.sleep(self.delay)
        return self.inner.read_arrays(rgbs, batch_size)


def make_client(**cfg) -> TestClient:
    cfg.setdefault("langs", ("zh",))
    cfg.setdefault("warmup", False)
    factory = cfg.pop("factory", shared_factory)
    return TestClient(create_app(ServerConfig(**cfg), reader_factory=factory), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client():
    with make_client() as c:
        yield c


def post_line(client, data=LINE_PNG, ctype="image/png", **params):
    return client.post("/v1/line", params=params, content=data, headers={"Content-Type": ctype} if ctype else {})


def assert_error(r, status: int, contains: str = "") -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}, body
    msg = body["error"]
    assert isinstance(msg, str) and msg and "\n" not in msg and len(msg) <= 300
    assert contains.lower() in msg.lower(), msg
    return msg


# -- the line endpoint ---------------------------------------------------------------------------------------
def test_line_raw_body(client):
    r = post_line(client)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["text"] == "十二三"
    assert d["lang"] in ("zh", "ja") and d["width"] == 192 and d["height"] == 64  # auto: the language used
    assert len(d["chars"]) == 3 and 0.5 < d["confidence"] <= 1
    xs = [(c["x0"], c["x1"]) for c in d["chars"]]
    assert all(0 <= a <= b <= 192 for a, b in xs) and xs == sorted(xs)
    assert all(c["alternatives"] == [] for c in d["chars"])  # top_k=0


def test_line_multipart_with_alternatives(client):
    r = client.post("/v1/line", params={"top_k": 3}, files={"file": ("line.png", LINE_PNG, "image/png")})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["text"] == "十二三"
    for c in d["chars"]:
        assert len(c["alternatives"]) == 3
        assert c["alternatives"][0]["char"] == c["char"]
        confs = [a["confidence"] for a in c["alternatives"]]
        assert confs == sorted(confs, reverse=True)


def test_line_multipart_other_field_name_and_octet_stream(client):
    r = client.post("/v1/line", files={"image": ("x", LINE_PNG, "application/octet-stream")})
    assert r.status_code == 200 and r.json()["text"] == "十二三"
    r = post_line(client, ctype="application/octet-stream")
    assert r.status_code == 200 and r.json()["text"] == "十二三"
    r = post_line(client, ctype=None)  # no Content-Type at all: taken as the raw image
    assert r.status_code == 200 and r.json()["text"] == "十二三"


def test_line_matches_library(client):
    from hwocr import Reader

    lib = Reader(top_k=2).read(draw_line()).to_dict()  # lang auto, as the API's default
    d = post_line(client, top_k=2).json()
    for k in ("text", "confidence", "chars", "engine", "policy"):
        assert d[k] == lib[k]


def test_line_sample_if_present(client):
    sample = ROOT / "samples" / "zh-line.png"
    if not sample.exists():
        pytest.skip("samples/zh-line.png not present")
    r = post_line(client, sample.read_bytes())
    assert r.status_code == 200 and r.json()["text"]


def test_a_hint_decides_a_line_whose_characters_do_not(client):
    """十二三 is written alike in both languages: alone it is a guess; with the hint of the lines before
    it, it reads as their language; a fixed lang ignores the hint; the answer says what decided."""
    guess = post_line(client).json()
    assert guess["lang_by"] == "guess"
    for hint in ("zh", "ja"):
        d = post_line(client, hint=hint).json()
        assert (d["text"], d["lang"], d["lang_by"]) == ("十二三", hint, "hint")
    d = post_line(client, lang="zh", hint="ja").json()
    assert (d["lang"], d["lang_by"]) == ("zh", "")


def test_japanese_loads_on_demand(client):
    r = post_line(client, lang="ja")
    assert r.status_code == 200, r.text
    assert r.json()["lang"] == "ja" and r.json()["text"]
    assert "ja" in client.get("/healthz").json()["langs"]


def test_concurrent_requests_give_identical_results():
    app = create_app(ServerConfig(langs=("zh",), warmup=False, workers=2), reader_factory=shared_factory)
    imgs = [png(draw_line(t)) for t in ("十二三", "三二十", "二十", "三")]

    async def go():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                serial = [(await c.post("/v1/line", content=b, headers={"Content-Type": "image/png"})).json()["text"]
                          for b in imgs]
                rs = await asyncio.gather(*[c.post("/v1/line", content=imgs[k % 4], headers={"Content-Type": "image/png"})
                                            for k in range(24)])
                return serial, rs

    serial, rs = asyncio.run(go())
    assert serial == ["十二三", "三二十", "二十", "三"]
    assert all(r.status_code == 200 for r in rs)
    assert [r.json()["text"] for r in rs] == [serial[k % 4] for k in range(24)]


# -- health, metrics, OpenAPI, the page ----------------------------------------------------------------------
def test_healthz(client):
    d = client.get("/healthz").json()
    assert d["status"] == "ok" and "zh" in d["langs"] and isinstance(d["page"], bool) and d["workers"] >= 1
    head = client.head("/healthz")  # what load balancers and monitors send
    assert head.status_code == 200 and head.content == b""


def test_metrics(client):
    post_line(client)
    post_line(client, b"")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    t = r.text
    assert 'hwocr_requests_total{endpoint="/v1/line",method="POST",status="200"}' in t
    assert 'hwocr_requests_total{endpoint="/v1/line",method="POST",status="400"}' in t
    assert 'hwocr_request_duration_seconds_bucket{endpoint="/v1/line",le="0.5"}' in t
    assert 'hwocr_errors_total{endpoint="/v1/line",kind="empty"}' in t
    assert "hwocr_busy_requests" in t
    client.get("/no/such/path/1234")
    assert 'endpoint="other"' in client.get("/metrics").text  # unknown paths share one label
    h = client.head("/metrics")  # a scraper's probe: 200 without the body, not 405
    assert h.status_code == 200 and not h.content and h.headers["content-type"].startswith("text/plain")


def test_openapi(client):
    s = client.get("/openapi.json").json()
    assert {"/v1/line", "/v1/page", "/healthz", "/metrics"} <= set(s["paths"])
    line = s["paths"]["/v1/line"]["post"]
    assert {"multipart/form-data", "image/png", "application/octet-stream"} <= set(line["requestBody"]["content"])
    assert line["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/LineOut")
    assert {"400", "413", "415", "422", "504"} <= set(line["responses"])
    params = {p["name"] for p in line["parameters"]}
    assert params == {"lang", "top_k", "decoder", "hint"}
    comps = s["components"]["schemas"]
    assert {"text", "confidence", "chars"} <= set(comps["LineOut"]["properties"])
    assert {"char", "confidence", "x0", "x1", "alternatives"} <= set(comps["CharOut"]["properties"])
    assert "APIKeyHeader" in s["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 200
    h = client.head("/docs")
    assert h.status_code == 200 and not h.content and "text/html" in h.headers["content-type"]


def test_web_page_served(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert 'id="pad"' in r.text and "/static/app.js" in r.text
    h = client.head("/")  # what an uptime monitor sends
    assert h.status_code == 200 and not h.content and "text/html" in h.headers["content-type"]
    for f in ("app.js", "style.css"):
        assert client.get(f"/static/{f}").status_code == 200


def test_the_web_pages_files_are_served_whole_whatever_the_range(client):
    """Starlette answers a bad or unsatisfiable Range with a plain-text 400 / 416 of its own; the files
    are small, so ranges are not offered and any Range header is ignored: the whole file, 200."""
    whole = {p: client.get(p).content for p in ("/", "/static/app.js")}
    for path, body in whole.items():
        for rng in ("bytes=abc", "bytes=99999999-", "bytes=0-9", "bytes=5-1,0-0", "x" * 2000):
            r = client.get(path, headers={"Range": rng, "If-Range": "nonsense"})
            assert r.status_code == 200 and r.content == body, (path, rng, r.status_code)
            assert "accept-ranges" not in r.headers and "content-range" not in r.headers


def page_image() -> bytes:
    sample = ROOT / "samples" / "zh-line.png"
    if sample.exists():
        return sample.read_bytes()
    return png(np.pad(draw_line("十二三", 96), ((200, 200), (100, 100), (0, 0)), constant_values=255))


def test_page_endpoint(client):
    data = page_image()
    r = client.post("/v1/page", content=data, headers={"Content-Type": "image/png"})
    if not client.get("/healthz").json()["page"]:
        assert_error(r, 501, "not available")
        return
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["lang"] == "auto" and isinstance(d["lines"], list) and d["lines"]
    assert all(ln["lang"] in ("zh", "ja") for ln in d["lines"])  # each line says the language used
    w, h = Image.open(io.BytesIO(data)).size
    assert (d["width"], d["height"]) == (w, h)
    assert d["text"] and d["text"] == "\n".join(ln["text"] for ln in d["lines"])
    for ln in d["lines"]:
        pts = np.asarray(ln["polygon"])
        assert pts.shape == (4, 2) and (pts[:, 0] >= -1).all() and (pts[:, 0] <= w + 1).all()
    # multipart and the direction option
    r2 = client.post("/v1/page", params={"direction": "horizontal"}, files={"file": ("p.png", data, "image/png")})
    assert r2.status_code == 200 and r2.json()["text"] == d["text"]
    assert_error(client.post("/v1/page", params={"direction": "diagonal"}, content=data), 422, "direction")
    assert_error(client.post("/v1/page", content=b"junk", headers={"Content-Type": "image/png"}), 400, "upload")


def test_page_hint_decides_a_block_whose_characters_do_not(client):
    """十二三 on a page says nothing of its language: with the hint of the document around the page its
    block reads as the hint; a fixed lang ignores it; an unknown hint is a 422."""
    if not client.get("/healthz").json()["page"]:
        pytest.skip("this build has no page reader")
    data = png(np.pad(draw_line("十二三", 96), ((200, 200), (100, 100), (0, 0)), constant_values=255))
    for hint in ("zh", "ja"):
        r = client.post("/v1/page", params={"hint": hint}, content=data, headers={"Content-Type": "image/png"})
        assert r.status_code == 200, r.text
        lines = r.json()["lines"]
        assert lines and [(ln["lang"], ln["lang_by"]) for ln in lines] == [(hint, "hint")] * len(lines)
    r = client.post("/v1/page", params={"lang": "zh", "hint": "ja"}, content=data, headers={"Content-Type": "image/png"})
    assert r.status_code == 200 and {(ln["lang"], ln["lang_by"]) for ln in r.json()["lines"]} == {("zh", "")}
    assert_error(client.post("/v1/page", params={"hint": "en"}, content=data), 422, "hint")


def test_page_pdf(client):
    pytest.importorskip("pypdfium2")
    if not client.get("/healthz").json()["page"]:
        pytest.skip("this build has no page reader")
    buf = io.BytesIO()
    Image.open(io.BytesIO(page_image())).convert("RGB").save(buf, "PDF", resolution=150)
    r = client.post("/v1/page", content=buf.getvalue(), headers={"Content-Type": "application/pdf"})
    assert r.status_code == 200, r.text
    assert r.json()["lines"]
    r = client.post("/v1/page", params={"page": 3}, content=buf.getvalue(), headers={"Content-Type": "application/pdf"})
    assert 400 <= r.status_code < 500, r.text  # a page the document lacks
    assert_error(r, r.status_code)
    # a PDF is not a line image
    assert_error(client.post("/v1/line", content=buf.getvalue(), headers={"Content-Type": "application/pdf"}), 415)


def test_hostile_documents_are_json_errors_and_the_server_goes_on(client):
    """A 2.4 KB PDF whose page needs gigabytes to draw, a PDF with a looping page tree and a TIFF whose
    second page is 50000 x 50000: one JSON error each (not a 500, not a dead server)."""
    pytest.importorskip("pypdfium2")
    if not client.get("/healthz").json()["page"]:
        pytest.skip("this build has no page reader")
    from test_hostile_documents import laughs_pdf, pdf, tiff, white

    pdf_type = {"Content-Type": "application/pdf"}
    assert_error(client.post("/v1/page", content=laughs_pdf(), headers=pdf_type), 400, "refused")
    loop = pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"])
    assert_error(client.post("/v1/page", content=loop, headers=pdf_type), 400, "corrupt")
    two = tiff([(64, 64, white(64 * 64)), (50000, 50000, white(50000 * 50000))])
    assert_error(client.post("/v1/page", params={"page": 1}, content=two, headers={"Content-Type": "image/tiff"}),
                 413, "too large")
    assert client.get("/healthz").status_code == 200


# -- bad input ---------------------------------------------------------------------------------------------
def test_empty_body(client):
    assert_error(post_line(client, b""), 400, "empty")
    assert_error(client.post("/v1/line", files={"file": ("a.png", b"", "image/png")}), 400, "empty")


def test_wrong_content_type(client):
    assert_error(post_line(client, b"hello", "text/plain"), 415, "content type")
    assert_error(client.post("/v1/line", json={"image": "x"}), 415, "content type")
    assert_error(client.post("/v1/line", data={"a": "b"}), 415, "content type")


def test_not_an_image(client):
    msg = assert_error(post_line(client, b"this is not an image at all"), 400, "not an image")
    assert msg.startswith("upload:")


def test_truncated_image(client):
    jpg = io.BytesIO()
    Image.fromarray(draw_line()).save(jpg, "JPEG")
    assert_error(post_line(client, LINE_PNG[: len(LINE_PNG) // 2]), 400, "truncated")
    assert_error(post_line(client, jpg.getvalue()[:300], "image/jpeg"), 400)


def test_malformed_multipart(client):
    h = {"Content-Type": "multipart/form-data; boundary=XyZ"}
    assert_error(client.post("/v1/line", content=b"--XyZ\r\ngarbage without headers", headers=h), 400, "multipart")
    assert_error(client.post("/v1/line", content=b"no boundary here",
                             headers={"Content-Type": "multipart/form-data"}), 400, "boundary")
    body = b'--XyZ\r\nContent-Disposition: form-data; name="lang"\r\n\r\nzh\r\n--XyZ--\r\n'
    assert_error(client.post("/v1/line", content=body, headers=h), 400, "no file part")
    two = [("file", ("a.png", LINE_PNG, "image/png")), ("file", ("b.svg", b"<svg/>", "image/svg+xml"))]
    assert_error(client.post("/v1/line", files=two), 400, "2 files")  # not whichever came last
    assert client.post("/v1/line", files=two[:1]).status_code == 200


def test_huge_image_pixels():
    with make_client(max_pixels=1_000_000) as c:
        big = png(Image.new("L", (2000, 1000), 255), optimize=True)
        assert len(big) < 100_000
        assert_error(post_line(c, big), 413, "too large")
        assert post_line(c).status_code == 200


def test_decompression_bomb(client):
    # 10 MB limit is not reached (the file is ~70 bytes) but the header claims 50 gigapixels
    bomb = png_with_size(250_000, 200_000)
    assert len(bomb) < 200
    assert_error(post_line(client, bomb), 413, "too large")
    # a real one: 6000 x 8000 white pixels compress to a few kB, above the default 40 MP
    real = png(Image.new("1", (6000, 8000), 1), optimize=True)
    assert len(real) < 200_000
    assert_error(post_line(client, real), 413, "too large")


def test_too_small_image(client):
    assert_error(post_line(client, png(np.full((2, 2, 3), 255, np.uint8))), 400, "too small")


def test_bad_parameters(client):
    assert_error(post_line(client, lang="fr"), 422, "lang")
    assert_error(post_line(client, top_k=MAX_TOP_K + 1), 422, "top_k")
    assert_error(post_line(client, top_k="many"), 422, "top_k")
    assert_error(post_line(client, decoder="magic"), 422, "decoder")
    assert_error(post_line(client, hint="en"), 422, "hint")
    # a parameter named twice is refused, not settled by taking the last
    r = client.post("/v1/line?lang=zh&decoder=greedy&lang=ja", content=LINE_PNG, headers={"Content-Type": "image/png"})
    assert_error(r, 422, "query parameter 'lang' given more than once")
    assert 'kind="duplicate_parameter"' in client.get("/metrics").text
    assert post_line(client, lang="zh", decoder="greedy").status_code == 200


def test_decoders(client):
    for dec in ("greedy", "beam"):
        r = post_line(client, decoder=dec)
        if r.status_code == 400:  # a build without the beam decoder's language model
            assert dec == "beam"
            continue
        assert r.status_code == 200 and r.json()["text"] == "十二三", r.text


def test_unavailable_decoder_is_a_client_error(client):
    r = post_line(client, decoder="beam")
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert_error(r, 400)


def test_upload_limit():
    with make_client(max_upload_bytes=2000) as c:
        assert len(LINE_PNG) < 2000
        assert post_line(c).status_code == 200
        big = LINE_PNG + b"\0" * 5000
        assert_error(post_line(c, big), 413, "upload too large")
        assert_error(c.post("/v1/line", files={"file": ("a.png", big, "image/png")}), 413, "upload too large")
        fits = LINE_PNG + b"\0" * (2000 - len(LINE_PNG))  # exactly the limit: accepted sent either way
        assert post_line(c, fits).status_code == 200
        assert c.post("/v1/line", files={"file": ("a.png", fits, "image/png")}).status_code == 200
        huge = LINE_PNG + b"\0" * 200_000  # past the multipart allowance too: refused while streaming
        assert_error(c.post("/v1/line", files={"file": ("a.png", huge, "image/png")}), 413, "(limit 2000 bytes)")

        def chunks():  # no Content-Length: the limit holds while streaming
            for _ in range(10):
                yield b"\0" * 1000

        assert_error(c.post("/v1/line", content=chunks(), headers={"Content-Type": "image/png"}), 413, "too large")
        assert post_line(c).status_code == 200


def test_server_keeps_serving_after_bad_input(client):
    bad = [b"", b"xx", LINE_PNG[:100], png_with_size(100_000, 100_000), b"\x89PNG\r\n\x1a\n" + b"\xff" * 500]
    for b in bad:
        assert 400 <= post_line(client, b).status_code < 500
    r = post_line(client)
    assert r.status_code == 200 and r.json()["text"] == "十二三"


def test_unknown_route_and_method(client):
    assert_error(client.get("/v1/nope"), 404)
    assert_error(client.get("/v1/line"), 405)


# -- API key ------------------------------------------------------------------------------------------------
def test_api_key():
    with make_client(api_key="s3cret") as c:
        assert_error(post_line(c), 401, "API key")
        assert_error(c.post("/v1/line", content=LINE_PNG, headers={"X-API-Key": "wrong"}), 401, "API key")
        assert_error(c.post("/v1/page", content=LINE_PNG, headers={"X-API-Key": "wrong"}), 401)
        r = c.post("/v1/line", content=LINE_PNG, headers={"X-API-Key": "s3cret", "Content-Type": "image/png"})
        assert r.status_code == 200 and r.json()["text"] == "十二三"
        assert c.get("/healthz").status_code == 200  # health and the page stay open
        assert c.get("/").status_code == 200


# -- time limits and back-pressure ------------------------------------------------------------------------------
def test_timeout_gives_504_and_server_recovers():
    def slow(lang, decoder, max_pixels):
        return SlowReader(shared_factory(lang, decoder, max_pixels), 1.0)

    with make_client(factory=slow, timeout_s=0.3, workers=1) as c:
        assert_error(post_line(c), 504, "limit")
        time.sleep(1.0)
        assert post_line(c).status_code == 504  # still slow, but still answering
    with make_client(factory=slow, timeout_s=5, workers=1) as c:
        assert post_line(c).status_code == 200


def test_busy_gives_503():
    def slow(lang, decoder, max_pixels):
        return SlowReader(shared_factory(lang, decoder, max_pixels), 0.5)

    app = create_app(ServerConfig(langs=("zh",), warmup=False, workers=1, max_queue=1), reader_factory=slow)

    async def go():
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                return await asyncio.gather(*[c.post("/v1/line", content=LINE_PNG,
                                                     headers={"Content-Type": "image/png"}) for _ in range(5)])

    rs = asyncio.run(go())
    codes = sorted(r.status_code for r in rs)
    assert codes.count(200) == 2 and codes.count(503) == 3, codes
    r503 = next(r for r in rs if r.status_code == 503)
    assert_error(r503, 503, "busy")
    assert r503.headers.get("retry-after") == "1"


# -- the command ------------------------------------------------------------------------------------------------
def test_serve_command_options():
    from click.testing import CliRunner

    from hwocr.cli import cli

    r = CliRunner().invoke(cli, ["serve", "--help"])
    assert r.exit_code == 0 and "--lang-preload" in r.output and "--api-key" in r.output
    r = CliRunner().invoke(cli, ["serve", "--lang-preload", "zh,fr"])
    assert r.exit_code == 2 and "fr" in r.output
    assert "--precision" in CliRunner().invoke(cli, ["serve", "--help"]).output
    for opt in ("--upload-timeout", "--send-timeout"):
        assert opt in r.output or opt in CliRunner().invoke(cli, ["serve", "--help"]).output
        bad = CliRunner().invoke(cli, ["serve", opt, "nan"])
        assert bad.exit_code == 2 and opt in bad.output


def test_serve_with_a_model_it_cannot_load_fails_in_one_line():
    # the models load before the server starts, so a bad precision is a CLI error, not a traceback
    proc = subprocess.run([sys.executable, "-m", "hwocr", "serve", "--precision", "FP16", "--port", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "hwocr: error: the ppocr engine has no FP16 model (one of auto, f32, bf16, INT8)"
    assert "Traceback" not in proc.stdout + proc.stderr


# -- fuzzing from the OpenAPI schema ------------------------------------------------------------------------------
class LiveServer:
    """The app under uvicorn in a thread, on 127.0.0.1 and a free port."""

    def __init__(self, app) -> None:
        import socket

        import uvicorn

        from hwocr.server.run import uvicorn_config

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn_config(app, app.state.config, "127.0.0.1", self.port, "warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        t = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > t or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


def test_fuzz_openapi_no_server_errors():
    """Schemathesis generates requests from /openapi.json and sends them over real HTTP; none may get a 5xx
    (except 501 from /v1/page while this build has no page reader), every error is {"error": ...}."""
    schemathesis = pytest.importorskip("schemathesis", reason="schemathesis not installed (pip install schemathesis)")
    pytest.importorskip("uvicorn")
    from hypothesis import HealthCheck, given, settings

    app = create_app(ServerConfig(langs=("zh",), warmup=False, timeout_s=20), reader_factory=shared_factory)
    with LiveServer(app) as live:
        import requests

        page_ok = requests.get(f"{live.url}/healthz", timeout=10).json()["page"]
        schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
        failures: list = []
        t_end = time.monotonic() + 45  # keep the whole test well under a minute
        n = 0
        for result in schema.get_all_operations():
            op = result.ok()

            @settings(max_examples=40, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy())
            def check(case):
                nonlocal n
                if time.monotonic() > t_end:
                    return
                r = case.call(base_url=live.url, timeout=30)
                n += 1
                allowed = {501} if (op.path == "/v1/page" and not page_ok) else set()
                if r.status_code >= 500 and r.status_code not in allowed:
                    failures.append((case.method, case.path, case.query, r.status_code, r.text[:200]))
                if r.status_code >= 400:
                    body = r.json()
                    if set(body) != {"error"}:
                        failures.append((case.method, case.path, r.status_code, r.text[:200]))

            check()
        assert not failures, failures[:5]
        assert n >= 20
        assert requests.get(f"{live.url}/healthz", timeout=10).status_code == 200


# == issue 12: safe to expose =====================================================================================
class FakeReader:
    """No model: each read runs ``steps`` steps of ``step_s`` seconds, checking for cancellation between
    them (as the real Reader does between batches) unless ``cooperative`` is False; counts the steps run."""

    decoder = "greedy"

    def __init__(self, steps: int = 1, step_s: float = 0.0, cooperative: bool = True, gate=None) -> None:
        self.steps, self.step_s, self.cooperative, self.gate = steps, step_s, cooperative, gate
        self.done = 0

    def read_arrays(self, rgbs, batch_size=None):
        from hwocr import cancel
        from hwocr.results import LineResult

        if self.gate is not None:
            self.gate.wait(30)
        for _ in range(self.steps):
            if self.cooperative:
                cancel.check()
            time.sleep(self.step_s)
            self.done += 1
        return [LineResult(text="x", confidence=1.0, engine="fake") for _ in rgbs]


def fake_client(reader: FakeReader | None = None, **cfg) -> TestClient:
    r = reader or FakeReader()
    return make_client(factory=lambda *a: r, **cfg)


# -- formats and bounded work ----------------------------------------------------------------------------------
def test_eps_upload_is_refused_without_running_ghostscript(client, tmp_path, monkeypatch):
    from test_imageio import EPS_LOOP, _fake_gs

    marker = _fake_gs(tmp_path, monkeypatch)
    for path in ("/v1/line", "/v1/page"):
        msg = assert_error(client.post(path, content=EPS_LOOP, headers={"Content-Type": "application/postscript"}
                                       if False else {"Content-Type": "application/octet-stream"}), 400, "EPS")
        assert "not accepted" in msg and "ghostscript" not in msg.lower() and "<" not in msg
    assert not marker.exists()
    assert post_line(client).status_code == 200  # and the worker is free


def test_a_tiny_png_of_a_very_long_line_is_refused_at_once(client):
    buf = io.BytesIO()
    Image.new("L", (2000, 4), 255).save(buf, "PNG", optimize=True)
    t = time.perf_counter()
    msg = assert_error(post_line(client, buf.getvalue()), 413, "windows of the model (limit 2)")
    assert time.perf_counter() - t < 1.0 and msg.startswith("upload: ")
    buf = io.BytesIO()
    Image.new("L", (1000, 1000), 255).save(buf, "PNG", optimize=True)
    with make_client(max_line_pixels=500_000) as c:
        assert_error(post_line(c, buf.getvalue()), 413, "too large")


def test_page_output_and_errors_carry_no_internal_names(client):
    r = client.post("/v1/page", content=page_image(), headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    assert "<array" not in r.text and "uint8" not in r.text and r.json().get("source", "upload") == "upload"
    tiny = png(Image.new("L", (2, 2), 255))
    for path in ("/v1/line", "/v1/page"):
        msg = assert_error(client.post(path, content=tiny, headers={"Content-Type": "image/png"}), 400, "too small")
        assert "<" not in msg and msg.startswith("upload")


def test_timed_out_work_stops():
    reader = FakeReader(steps=40, step_s=0.025)
    with fake_client(reader, timeout_s=0.2, workers=1) as c:
        assert_error(post_line(c), 504, "limit")
        time.sleep(0.4)
        done = reader.done
        time.sleep(0.3)
        assert reader.done == done and done < 20, done  # stopped, well before its 40 steps


def test_a_cancelled_read_stops_before_the_model_runs(zh_reader):
    from hwocr.cancel import Cancelled, Token, running_under

    token = Token()
    token.cancel("timed out")
    with running_under(token), pytest.raises(Cancelled, match="timed out"):
        zh_reader.read_arrays([draw_line()])
    assert zh_reader.read_arrays([draw_line()])[0].text  # no token: reads


def test_healthz_is_degraded_while_workers_are_stuck(monkeypatch):
    import hwocr.server.app as appmod

    monkeypatch.setattr(appmod, "STUCK_GRACE_S", 0.2)
    gate = threading.Event()
    with fake_client(FakeReader(cooperative=False, gate=gate), timeout_s=0.2, workers=1, max_queue=4) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        assert_error(post_line(c), 504)
        time.sleep(0.35)
        r = c.get("/healthz")
        assert r.status_code == 503 and r.json()["status"] == "degraded" and r.json()["stuck"] == 1, r.text
        gate.set()
        time.sleep(0.2)
        assert c.get("/healthz").json() | {"busy": 0} == c.get("/healthz").json() | {"busy": 0}
        r = c.get("/healthz")
        assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["stuck"] == 0


# -- metrics, key, docs, hosts, headers ---------------------------------------------------------------------------
def test_metrics_labels_stay_bounded_whatever_the_methods_and_paths():
    import random
    import string

    with fake_client() as c:
        rng = random.Random(0)
        for _ in range(60):
            method = "".join(rng.choices(string.ascii_uppercase, k=8))
            c.request(method, f"/x{rng.random()}")
            c.request(method, "/v1/line")
        t = c.get("/metrics").text
    series = [ln for ln in t.splitlines() if ln.startswith("hwocr_requests_total{")]
    assert 'method="other"' in t and len(series) <= 6, series
    assert all(m in ("GET", "POST", "other") for m in
               (ln.split('method="')[1].split('"')[0] for ln in series))


def test_api_key_guards_metrics_and_docs_unless_a_flag_says_otherwise():
    with fake_client(api_key="s3cret") as c:
        for path in ("/metrics", "/docs", "/openapi.json"):
            assert_error(c.get(path), 401, "API key")
            assert c.get(path, headers={"X-API-Key": "s3cret"}).status_code == 200
        for path in ("/metrics", "/docs"):  # HEAD too
            assert c.head(path).status_code == 401
            assert c.head(path, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/healthz").status_code == 200 and c.get("/").status_code == 200
    with fake_client(api_key="s3cret", public_metrics=True, public_docs=True) as c:
        for path in ("/metrics", "/docs", "/openapi.json"):
            assert c.get(path).status_code == 200
        assert_error(post_line(c), 401)


def test_non_ascii_api_key():
    key = "鍵-ключ-clé"
    with fake_client(api_key=key) as c:
        ok = c.post("/v1/line", content=LINE_PNG, headers=[(b"X-API-Key", key.encode()), (b"Content-Type", b"image/png")])
        assert ok.status_code == 200, ok.text
        assert c.get("/metrics", headers=[(b"X-API-Key", key.encode())]).status_code == 200
        assert_error(c.post("/v1/line", content=LINE_PNG, headers=[(b"X-API-Key", "鍵-ключ-cle".encode())]), 401)


def test_empty_key_is_an_error_and_the_key_comes_from_env_or_file(tmp_path):
    from hwocr.errors import HwocrError
    from hwocr.server.run import resolve_api_key

    with pytest.raises(HwocrError, match="empty"):
        ServerConfig(api_key="")
    with pytest.raises(HwocrError, match=r"\$HWOCR_API_KEY is empty"):
        resolve_api_key(None, None, {"HWOCR_API_KEY": ""})
    with pytest.raises(HwocrError, match="--api-key is empty"):
        resolve_api_key("  ", None, {})
    f = tmp_path / "key"
    f.write_text("\n")
    with pytest.raises(HwocrError, match="--api-key-file is empty"):
        resolve_api_key(None, str(f), {})
    f.write_text("k3y-ü\n")
    assert resolve_api_key(None, str(f), {}) == "k3y-ü"
    assert resolve_api_key(None, None, {"HWOCR_API_KEY": "e"}) == "e"
    assert resolve_api_key(None, None, {}) is None
    with pytest.raises(HwocrError, match="twice"):
        resolve_api_key("a", str(f), {})
    with pytest.raises(HwocrError, match="cannot read"):
        resolve_api_key(None, str(tmp_path / "missing"), {})


def test_serve_refuses_an_empty_key_and_warns_on_an_open_bind():
    env = {**__import__("os").environ, "HWOCR_API_KEY": ""}
    p = subprocess.run([sys.executable, "-m", "hwocr", "serve", "--port", "0"], capture_output=True, text=True,
                       timeout=120, env=env)
    assert p.returncode == 1 and p.stderr.strip() == ("hwocr: error: the API key from $HWOCR_API_KEY is empty: "
                                                       "set a non-empty key, or none to serve without one")
    env.pop("HWOCR_API_KEY")
    p = subprocess.run([sys.executable, "-m", "hwocr", "serve", "--host", "0.0.0.0", "--port", "0", "--precision",
                        "FP16"], capture_output=True, text=True, timeout=120, env=env)
    first = p.stderr.splitlines()[0]
    assert p.returncode == 1 and "WARNING: listening on 0.0.0.0 WITHOUT an API key" in first, p.stderr
    from hwocr.server.run import bind_warning

    assert bind_warning("127.0.0.1", None) is None and bind_warning("::1", None) is None
    assert bind_warning("0.0.0.0", "k") is None and bind_warning("192.168.1.5", None)


def test_docs_work_offline():
    with fake_client() as c:
        r = c.get("/docs")
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        html = r.text
        assert "POST /v1/line" in html and "top_k" in html and "/openapi.json" in html
        assert "<script" not in html and "http://" not in html and "https://" not in html  # nothing from a CDN
        assert_error(c.get("/redoc"), 404)


def test_security_headers_on_every_response():
    from hwocr.server.security import CSP

    with fake_client() as c:
        for r in (c.get("/"), c.get("/static/app.js"), c.get("/healthz"), c.get("/nope"), post_line(c, b"")):
            assert r.headers["content-security-policy"] == CSP, r.url
            assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["default-src"] == "'self'" and directives["img-src"] == "'self' blob: data:"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


def test_host_allowlist_against_dns_rebinding():
    from hwocr.server.run import default_allowed_hosts

    assert default_allowed_hosts("127.0.0.1") and default_allowed_hosts("0.0.0.0") is None
    with fake_client(allowed_hosts=default_allowed_hosts("127.0.0.1")) as c:
        assert_error(c.get("/healthz"), 400, "not allowed")  # TestClient sends Host: testserver
        assert_error(c.get("/", headers={"Host": "rebind.attacker.example:8000"}), 400, "rebind.attacker.example")
        for host in ("127.0.0.1:8000", "localhost", "[::1]:8000"):
            assert c.get("/healthz", headers={"Host": host}).status_code == 200, host


def test_errors_starlette_answers_are_json(client):
    assert_error(client.request("BREW", "/v1/line"), 405)
    assert_error(client.get("/static/nope.js"), 404)
    assert_error(client.post("/v1/line", params={"top_k": "x"}, content=LINE_PNG), 422, "top_k")


# -- connections: uvicorn with hwocr's protocol ---------------------------------------------------------------------
def _fake_live(reader: FakeReader | None = None, **cfg):
    cfg = {"langs": (), "warmup": False, "header_timeout_s": 0.5, "keep_alive_s": 1.0, **cfg}
    r = reader or FakeReader()
    return LiveServer(create_app(ServerConfig(**cfg), reader_factory=lambda *a: r))


def _closed_within(sock, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
        return True
    except OSError:  # timeout: still open
        return False


def _whole_reply(sock, limit: float = 10.0) -> bytes:
    """One HTTP answer read whole: its headers and body may come in separate segments."""
    data = b""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if m is None or len(body) >= int(m.group(1)):
                return data
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    return data


def test_slow_idle_and_excess_connections_are_cut():
    import socket

    with _fake_live(max_connections=4, max_connections_per_client=4) as live:
        def conn():
            return socket.create_connection(("127.0.0.1", live.port), timeout=5)

        # sends nothing: closed at the header deadline
        idle = conn()
        t = time.monotonic()
        assert _closed_within(idle, 3) and time.monotonic() - t < 2
        # headers begun and not finished: a JSON 408 at the deadline, then closed
        half = conn()
        half.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        reply = _whole_reply(half)
        assert reply.startswith(b"HTTP/1.1 408") and b'{"error": "the request\'s headers did not arrive' in reply, reply
        assert _closed_within(half, 2)
        # trickles a header byte every 0.1 s: still cut at the deadline, not kept alive by the bytes
        slow = conn()
        t = time.monotonic()
        closed = False
        for b in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
            try:
                slow.send(bytes([b]))
            except OSError:
                closed = True
                break
            time.sleep(0.1)
            if time.monotonic() - t > 3:
                break
        assert closed or _closed_within(slow, 0.5), "a trickling connection was kept open"
        assert time.monotonic() - t < 2.5
        # a body trickled to a route that never reads it: cut once the response is out
        body = conn()
        body.sendall(b"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n")
        t = time.monotonic()
        assert body.recv(4096).startswith(b"HTTP/1.1 405")
        closed = False
        while time.monotonic() - t < 3 and not closed:
            try:
                body.send(b"a")
            except OSError:
                closed = True
            time.sleep(0.1)
        assert closed or _closed_within(body, 0.5), "a trickling body kept its connection"
        body.close()
        # malformed request: JSON, not uvicorn's plain text
        bad = conn()
        bad.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        reply = _whole_reply(bad)
        assert reply.startswith(b"HTTP/1.1 400") and b'{"error": "malformed HTTP request"}' in reply
        head = reply.split(b"\r\n\r\n")[0].lower()
        # the headers every answer carries, though the app never saw this request
        assert b"x-content-type-options: nosniff" in head and b"content-security-policy:" in head
        # headers past h11's 16 KiB bound: a JSON 431, not a 400 that blames the request's form
        big = conn()
        big.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000)
        reply = _whole_reply(big)
        assert reply.startswith(b"HTTP/1.1 431") and b"headers are longer than 16 KiB" in reply, reply[:200]
        big.close()
        # at most max_connections open: the next gets a JSON 503, with when to retry
        held = [conn() for _ in range(4)]
        time.sleep(0.1)
        extra = conn()
        reply = _whole_reply(extra)
        assert reply.startswith(b"HTTP/1.1 503") and b"too many open connections" in reply, reply
        assert b"retry-after: 1" in reply.lower() and b"x-frame-options: deny" in reply.lower()
        for s in held + [idle, slow, bad, extra]:
            s.close()
        time.sleep(0.2)
        import requests  # both refusals are counted, though no request reached the app

        text = requests.get(f"{live.url}/metrics", timeout=10).text
        for kind in ("malformed", "connections", "headers_too_large"):
            assert f'hwocr_errors_total{{endpoint="other",kind="{kind}"}} 1.0' in text, text[-2000:]
        # a keep-alive connection idle after its response is closed too
        time.sleep(0.2)
        ka = conn()
        ka.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert ka.recv(4096).startswith(b"HTTP/1.1 200")
        assert _closed_within(ka, 3)
        ka.close()



def test_a_request_whose_client_hung_up_stops_its_work():
    """Clients that send an upload and hang up at once (fire and forget) must not keep the workers busy:
    the request sees its client gone within a poll, cancels its work, and the server is free again."""
    import socket

    import requests

    reader = FakeReader(steps=200, step_s=0.05)  # 10 s of work, checking for cancellation every step
    with LiveServer(create_app(ServerConfig(langs=(), warmup=False, workers=1, timeout_s=30),
                               reader_factory=lambda *a: reader)) as live:
        s = socket.create_connection(("127.0.0.1", live.port), timeout=5)
        s.sendall(b"POST /v1/line HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(LINE_PNG) + LINE_PNG)
        deadline = time.monotonic() + 5
        while not reader.done and time.monotonic() < deadline:
            time.sleep(0.02)
        s.close()  # the work has started: now the client goes
        t = time.monotonic()
        while requests.get(f"{live.url}/healthz", timeout=5).json()["busy"] and time.monotonic() - t < 5:
            time.sleep(0.05)
        assert time.monotonic() - t < 2 and 0 < reader.done < 60, reader.done  # stopped, not run to the end
        assert 'status="499"' in requests.get(f"{live.url}/metrics", timeout=5).text
        reader.steps = 1
        assert requests.post(f"{live.url}/v1/line", data=LINE_PNG, headers={"Content-Type": "image/png"},
                             timeout=10).json()["text"] == "x"  # the worker serves the next client


def test_a_client_that_never_reads_its_answers_loses_its_connection():
    """Requests pipelined by a client that never reads: once the answers wait in the server's buffer
    past the send deadline, the connection is dropped and its place is free again (before, it was held
    for ever, and 64 such clients from one address or 256 in all shut everyone out)."""
    import socket

    with _fake_live(max_connections=4, max_connections_per_client=1, send_timeout_s=1.0,
                    header_timeout_s=30, keep_alive_s=30) as live:
        hog = socket.socket()
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        hog.connect(("127.0.0.1", live.port))
        hog.sendall(b"GET /static/app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 400)  # ~7 MB of answers

        def second() -> bytes:
            with socket.create_connection(("127.0.0.1", live.port), timeout=5) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                return s.recv(4096)

        time.sleep(0.3)
        assert second().startswith(b"HTTP/1.1 503")  # the address's one place is the hog's
        t = time.monotonic()
        while not second().startswith(b"HTTP/1.1 200"):
            assert time.monotonic() - t < 8, "the stalled connection was not dropped"
            time.sleep(0.3)
        import requests

        assert 'kind="stalled"' in requests.get(f"{live.url}/metrics", timeout=5).text
        hog.close()



def test_a_busy_server_refuses_an_upload_before_reading_it():
    """With every place taken, the next upload gets its 503 from its headers alone: bodies held grow
    with workers + queue, not with connections."""
    import socket

    gate = threading.Event()
    with _fake_live(FakeReader(gate=gate), workers=1, max_queue=0, timeout_s=30, header_timeout_s=10) as live:
        first = socket.create_connection(("127.0.0.1", live.port), timeout=10)
        first.sendall(b"POST /v1/line HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(LINE_PNG) + LINE_PNG)
        time.sleep(0.5)  # the first holds the one place (its reader waits at the gate)
        s = socket.create_connection(("127.0.0.1", live.port), timeout=5)
        s.sendall(b"POST /v1/line HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                  b"Content-Length: 9000000\r\n\r\n" + b"x" * 1000)  # the rest never comes
        reply = _whole_reply(s)
        assert reply.startswith(b"HTTP/1.1 503") and b'"error"' in reply and b"busy" in reply, reply
        gate.set()
        assert b"HTTP/1.1 200" in first.recv(4096)
        s.close()
        first.close()


def test_one_client_address_cannot_hold_every_connection():
    import socket

    assert ServerConfig(langs=(), max_connections=256).max_connections_per_client == 64
    with _fake_live(max_connections=6, max_connections_per_client=2) as live:
        def conn(source: str):
            s = socket.socket()
            s.settimeout(5)
            s.bind((source, 0))  # Linux routes all of 127/8 to loopback: a second client address
            s.connect(("127.0.0.1", live.port))
            return s

        def answers(s) -> bytes:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            return s.recv(4096)

        mine = [conn("127.0.0.1") for _ in range(2)]
        time.sleep(0.1)
        third = conn("127.0.0.1")
        reply = _whole_reply(third)
        assert reply.startswith(b"HTTP/1.1 503") and b"from your address (limit 2)" in reply, reply
        # another address still gets in, and the first one's connections still work
        other = conn("127.0.0.2")
        assert answers(other).startswith(b"HTTP/1.1 200")
        assert answers(mine[0]).startswith(b"HTTP/1.1 200")
        # once one of its connections closes, the first address may open another
        mine.pop().close()
        time.sleep(0.2)
        again = conn("127.0.0.1")
        assert answers(again).startswith(b"HTTP/1.1 200")
        for s in mine + [third, other, again]:
            s.close()


DRAIN_SCRIPT = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
import uvicorn
from test_server import FakeReader
from hwocr.server import ServerConfig, create_app
from hwocr.server.run import uvicorn_config
cfg = ServerConfig(langs=(), warmup=False, timeout_s=6.0)
app = create_app(cfg, reader_factory=lambda *a: FakeReader(steps=15, step_s=0.1))
uvicorn.Server(uvicorn_config(app, cfg, "127.0.0.1", int(sys.argv[1]), "warning")).run()
"""


def test_sigterm_drains_requests_in_flight():
    import os
    import signal
    import socket

    from hwocr.server.run import uvicorn_config

    cfg = ServerConfig(langs=(), timeout_s=30)
    assert uvicorn_config(None, cfg, "127.0.0.1", 1).timeout_graceful_shutdown >= cfg.timeout_s
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", DRAIN_SCRIPT, str(port), str(ROOT / "tests")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
            time.sleep(0.1)
        out = {}
        t = threading.Thread(target=lambda: out.update(r=httpx.post(f"http://127.0.0.1:{port}/v1/line",
                                                                    content=LINE_PNG, timeout=30)))
        t.start()
        time.sleep(0.4)  # the request is on a worker (1.5 s of work)
        proc.send_signal(signal.SIGTERM)
        t.join(30)
        assert out["r"].status_code == 200 and out["r"].json()["text"] == "x", out
        assert proc.wait(20) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_multipart_upload_is_parsed_as_it_arrives():
    """A multipart body is parsed while it streams in (its file spooled), not held whole first: a body
    that is malformed from its first bytes gets its 400 while most of it has not been sent."""
    import socket

    with _fake_live(header_timeout_s=10) as live:
        s = socket.create_connection(("127.0.0.1", live.port), timeout=10)
        s.sendall(b"POST /v1/line HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
                  b"Content-Length: 9000000\r\n\r\n" + b"not a boundary line\r\n" * 100)  # the rest never comes
        reply = _whole_reply(s)
        assert reply.startswith(b"HTTP/1.1 400") and b"malformed multipart body" in reply, reply[:300]
        s.close()
        # a well-formed upload still reads, its file part given in pieces
        import requests

        files = {"file": ("a.png", LINE_PNG, "image/png")}
        assert requests.post(f"{live.url}/v1/line", files=files, timeout=10).status_code == 200
