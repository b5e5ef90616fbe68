"""The command line as people use it: usage errors, several files, stdin, models, mirrors, pictures."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from hwocr.cli import cli

from conftest import ROOT, blank_ctc_model

SAMPLES = ROOT / "samples"
ZH = SAMPLES / "zh-line.png"
JA = SAMPLES / "ja-line.png"
ZH_TEXT = "今天天气很好我们去公园散步"
ARTIFACTS = ROOT / "test-artifacts"


def run(*args: str, input: bytes | None = None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def one_line_error(r, code: int, *needles: str) -> None:
    assert r.exit_code == code, (r.exit_code, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("hwocr: error: "), r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


# -- usage errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("args, needle", [
    (["read", "--lang", "xx", ZH], "--lang"),
    (["read", "--top-k", "-1", ZH], "--top-k"),
    (["page", "--dpi", "5", ZH], "--dpi"),
    (["read"], "IMAGES"),
    (["read", "--nonsense", ZH], "--nonsense"),
])
def test_usage_errors_are_one_line_with_exit_2(args, needle):
    one_line_error(run(*args), 2, needle, "--help")


def test_a_bare_group_shows_its_help():
    r = run("models")
    assert r.exit_code == 2 and "Commands:" in r.output and "hwocr: error" not in r.output


def test_lang_choices_are_the_languages():
    from hwocr.charsets import LANG_CHOICES

    for name in ("read", "eval", "page"):
        (opt,) = [p for p in cli.commands[name].params if p.name == "lang"]
        assert tuple(opt.type.choices) == LANG_CHOICES


def test_allow_missing_file_names_the_option():
    r = run("read", "--allow", "nothere.txt", ZH)
    one_line_error(r, 1, "nothere.txt", "--allow")
    assert "charlist" not in r.stderr


def test_device_error_is_cut_between_words():
    from hwocr.engines.runtime import _first_line

    msg = _first_line(RuntimeError("Exception from src/x.cpp:1:\n" + "word " * 100))
    assert len(msg) <= 200 and msg.endswith("…") and msg[:-1].endswith("word")


# -- several inputs, stdin, folders --------------------------------------------------------------
def test_plain_output_of_several_files_names_them_and_top_k_shows():
    r = run("read", ZH, ZH)
    assert r.exit_code == 0 and r.stdout.splitlines() == [f"{ZH}\t{ZH_TEXT}"] * 2
    assert run("read", "--no-filenames", ZH, ZH).stdout.splitlines() == [ZH_TEXT] * 2
    r = run("read", "--top-k", "2", ZH)
    text, alts = r.stdout.rstrip("\n").split("\t")
    groups = alts.split(" ")
    assert text == ZH_TEXT and len(groups) == len(ZH_TEXT) and groups[0].startswith("今:")
    assert all(1 <= len(g.split(",")) <= 2 for g in groups)


def test_stdin_and_gif_in_a_folder(tmp_path):
    r = run("read", "-", input=ZH.read_bytes())
    assert r.exit_code == 0 and r.stdout.strip() == ZH_TEXT
    r = run("read", "-", input=b"not an image")
    one_line_error(r, 1, "<stdin>")
    Image.open(ZH).save(tmp_path / "b.gif")
    Image.open(ZH).save(tmp_path / "a.png")
    r = run("read", tmp_path)
    assert r.stdout.splitlines() == [f"{tmp_path / 'a.png'}\t{ZH_TEXT}", f"{tmp_path / 'b.gif'}\t{ZH_TEXT}"]


def test_page_takes_folders_and_separates_files(tmp_path):
    for n in ("a", "b"):
        Image.open(ZH).save(tmp_path / f"{n}.png")
    r = run("page", "--detector", "ppocr", tmp_path, "--overlay", tmp_path / "o.png")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"==> {tmp_path / 'a.png'} <==\n{ZH_TEXT}\n\n==> {tmp_path / 'b.png'} <==\n{ZH_TEXT}\n\n"
    assert sorted(p.name for p in tmp_path.glob("o*.png")) == ["o-1.png", "o-2.png"]
    r = run("page", str(tmp_path / "[ab].png"), "--no-filenames")
    assert r.stdout == f"{ZH_TEXT}\n\f{ZH_TEXT}\n"


def test_page_error_names_the_file(tmp_path):
    bad = tmp_path / "cut.png"
    bad.write_bytes(ZH.read_bytes()[:3000])
    r = run("page", bad)
    one_line_error(r, 1, str(bad))
    assert "PIL image" not in r.stderr


def test_preview_numbering_matches_overlays(tmp_path):
    r = run("read", "--preview", tmp_path / "p.png", ZH, JA)
    assert r.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p-1.png", "p-2.png"]


def test_hocr_confidences_are_per_character(tmp_path):
    r = run("page", ZH, "--format", "hocr")
    line = re.search(r'class="ocr_line"[^>]*title="([^"]*)"', r.stdout).group(1)
    confs = line.split("x_confs ")[1].split()
    assert len(confs) == len(ZH_TEXT) and all(0 <= float(c) <= 100 for c in confs)


# -- the preview font --------------------------------------------------------------------------
def test_preview_draws_characters_without_any_system_font(monkeypatch):
    """Only hwocr's own font may be opened (as on a machine without CJK fonts); every character
    must come out as its own glyph, not one repeated box. Writes test-artifacts/preview-no-system-font.png."""
    from PIL import ImageFont

    from hwocr import Reader, render
    from hwocr.results import CharResult, LineResult

    real = ImageFont.truetype
    pkg = str(ROOT / "src" / "hwocr")

    def only_ours(path, *a, **k):
        if not str(path).startswith(pkg) and "site-packages/hwocr" not in str(path):
            raise OSError(f"system font {path} not available")
        return real(path, *a, **k)

    monkeypatch.setattr(ImageFont, "truetype", only_ours)
    for f in (render.cjk_font_path, render.font, render.font_chars):
        f.cache_clear()
    res = Reader(lang="ja").read(JA)
    img = render.preview(np.asarray(Image.open(JA).convert("RGB")), res)
    ARTIFACTS.mkdir(exist_ok=True)
    img.save(ARTIFACTS / "preview-no-system-font.png")
    band = np.asarray(img.convert("L"))[96 + 4:]
    glyphs = []
    for c in res.chars:
        x0, x1 = int(c.x0 * 96 / Image.open(JA).height), int(c.x1 * 96 / Image.open(JA).height)
        g = band[:, x0:x1] < 128
        glyphs.append(g.sum())
    assert all(n > 20 for n in glyphs)  # something is drawn under every character ...
    ink = [render.font(40).getmask(ch).getbbox() for ch in "東京は今日も晴れです"]
    masks = {bytes(render.font(40).getmask(ch)) for ch in "東京は今日も晴れです"}
    assert all(ink) and len(masks) == 10  # ... and each character is its own glyph (tofu boxes are all alike)
    # a character the font lacks is drawn as its code point, and named
    assert render.missing_glyphs("今\U0001F600") == {"\U0001F600"}
    odd = LineResult("\U0001F600", 0.9, (CharResult("\U0001F600", 0.9, 0, 80, ()),), "x")
    render.preview(np.full((80, 80, 3), 255, np.uint8), odd)


# -- models and mirrors --------------------------------------------------------------------------
def test_models_verify_info_for_embedded_and_empty_cache(tmp_path):
    r = run("models", "verify", "--model-dir", tmp_path)
    assert r.exit_code == 0 and "embedded PP-OCRv6_rec_small" in r.stdout and "absent" in r.stdout
    r = run("models", "verify", "PP-OCRv6_rec_small")
    assert r.exit_code == 0 and r.stdout.startswith("ok ")
    r = run("models", "verify", "ja", "--model-dir", tmp_path)
    assert r.exit_code == 1 and r.stdout.startswith("absent")
    for name in ("horizontal-text-detection-0001", "PP-OCRv6_det_small", "ppocr"):
        out = run("models", "info", name).stdout
        assert "None" not in out and not re.search(r"accuracy:\s*$", out, re.M) and "input: " in out


def test_models_verify_reports_a_model_cached_in_part(tmp_path):
    """A cached .xml without its .bin (a download cut short by hand, a deleted file) cannot load: verify
    says which file is missing and exits 1 (it printed "ok" for the .xml and exited 0)."""
    from hwocr.registry import DETECTION_MODELS
    from hwocr.store import Store

    m = DETECTION_MODELS["horizontal-text-detection-0001"]
    xml, binf = next(iter(m.files.values()))
    path = Store(tmp_path).path(xml)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"<net/>")
    r = run("models", "verify", m.name, "--model-dir", tmp_path)
    assert r.exit_code == 1, r.stdout
    assert f"BAD      {Store(tmp_path).path(binf)}: missing, though other files" in r.stdout
    assert sum(ln.startswith("BAD") for ln in r.stdout.splitlines()) == 2  # the .bin missing, the .xml wrong


def _spec(tmp_path, data: bytes, rel: str = "m/sub/w.bin"):
    from hwocr.registry import FileSpec

    return FileSpec(rel, "http://127.0.0.1:9/unused", len(data), hashlib.sha384(data).hexdigest())


@pytest.mark.parametrize("as_url", [False, True])
def test_folder_and_file_url_mirrors(tmp_path, as_url):
    from hwocr.errors import DownloadError
    from hwocr.store import Store

    data = b"weights" * 100
    spec = _spec(tmp_path, data)
    mirror = tmp_path / "mirror"
    (mirror / "m" / "sub").mkdir(parents=True)
    (mirror / spec.relpath).write_bytes(data)
    m = mirror.as_uri() if as_url else str(mirror)
    st = Store(tmp_path / "cache", mirror=m)
    assert st.ensure(spec).read_bytes() == data
    # tampered or missing on the mirror: one line, nothing left, not even empty folders
    bad = _spec(tmp_path, b"x" * 700, "n/deep/w.bin")
    (mirror / "n" / "deep").mkdir(parents=True)
    (mirror / bad.relpath).write_bytes(b"y" * 700)
    with pytest.raises(DownloadError, match="sha384 mismatch"):
        st.ensure(bad)
    missing = _spec(tmp_path, b"z", "q/w.bin")
    with pytest.raises(DownloadError, match="not in the mirror"):
        st.ensure(missing)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["m"]


@pytest.mark.parametrize("how", ["option", "env", "folder"])
def test_bad_mirror_is_one_line(tmp_path, how, monkeypatch):
    args = ["models", "download", "ja", "--model-dir", str(tmp_path / "c")]
    if how == "option":
        args += ["--mirror", "notaurl"]
    elif how == "folder":
        args += ["--mirror", "some/folder"]
    else:
        monkeypatch.setenv("HWOCR_MIRROR", "notaurl")
    one_line_error(run(*args), 1, "mirror", "URL")
    assert not (tmp_path / "c").exists()


# -- custom models: an empty reading of an inked line is flagged -------------------------------
@pytest.fixture(scope="module")
def blank_model(tmp_path_factory):
    """A tiny IR whose every frame is the CTC blank, with a sidecar card."""
    d = tmp_path_factory.mktemp("blank")
    blank_ctc_model(d / "blank.xml")
    (d / "chars.txt").write_text("a\nb\n")
    (d / "blank.xml.hwocr.json").write_text(json.dumps({
        "format": "hwocr-model/1", "name": "blank", "model": "blank.xml", "charlist": "chars.txt", "lang": "zh",
        "input": {"height": 32, "channels": 1, "pad": "edge", "interpolation": "area"}}))
    return d / "blank.xml"


def test_empty_reading_of_an_inked_line_is_flagged(blank_model):
    r = run("read", "--engine", blank_model, "--json", ZH)
    assert r.exit_code == 3, r.stderr
    d = json.loads(r.stdout)
    assert d["text"] == "" and d["engine"] == "blank" and "read nothing" in d["warnings"][0]
    assert "hwocr: warning:" in r.stderr
    blank = Image.new("RGB", (300, 60), "white")
    ImageDraw.Draw(blank)
    import io

    buf = io.BytesIO()
    blank.save(buf, "PNG")
    r = run("read", "--engine", blank_model, "-", input=buf.getvalue())  # a blank image may read empty
    assert r.exit_code == 0 and not r.stderr


def test_samples_readme_names_the_default_decoder():
    from hwocr.engines.factory import engine_defaults

    text = (SAMPLES / "README.md").read_text(encoding="utf-8")
    assert engine_defaults("ppocr")[0] == "beam"
    assert "greedy decoder, CPU" not in text and "its default decoder, CTC beam search" in text
