"""The command line as a user runs it: output, exit codes, one-line errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from conftest import CHARLISTS, OMZ_JA, ROOT, needs_shared

SAMPLES = ROOT / "samples"
ZH_TEXT = "今天天气很好我们去公园散步"
JA_TEXT = "東京は今日も晴れです"


def hwocr(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "hwocr", *args], capture_output=True, text=True, env=e, timeout=300)


def assert_one_line_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("hwocr: error:") for ln in lines), r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


def test_read_bundled_samples():
    r = hwocr("read", str(SAMPLES / "zh-line.png"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ZH_TEXT
    r = hwocr("read", "--lang", "ja", str(SAMPLES / "ja-line.png"))
    assert r.stdout.strip() == JA_TEXT


def test_read_json_and_preview(tmp_path):
    out = tmp_path / "preview.png"
    r = hwocr("read", "--json", "--top-k", "3", "--preview", str(out), str(SAMPLES / "zh-line.png"))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["text"] == ZH_TEXT and 0 < d["confidence"] <= 1
    assert len(d["chars"]) == len(ZH_TEXT)
    c = d["chars"][0]
    assert set(c) == {"char", "confidence", "x0", "x1", "alternatives"}
    assert 1 <= len(c["alternatives"]) <= 3 and c["alternatives"][0]["char"] == c["char"]
    w = Image.open(SAMPLES / "zh-line.png").width
    assert all(0 <= ch["x0"] <= ch["x1"] <= w + 1 for ch in d["chars"])
    im = Image.open(out)
    assert im.height > 96 and im.width > 100


@needs_shared(OMZ_JA)
def test_hint_decides_the_lines_and_blocks_that_say_little(tmp_path):
    """The OMZ name (kanji only, written alike in both languages) read alone guesses Chinese
    (tests/test_reader.py); --hint ja reads it as Japanese, in read and in page; a line whose own
    kana decide keeps its language against the hint; the JSON says what decided; a hint with a fixed
    --lang or an unknown hint is a usage error."""
    r = hwocr("read", "--json", "--hint", "zh", str(SAMPLES / "ja-line.png"), str(OMZ_JA))
    assert r.returncode == 0, r.stderr
    kept, name = map(json.loads, r.stdout.splitlines())
    assert (kept["text"], kept["lang"], kept["lang_by"]) == (JA_TEXT, "ja", "evidence")
    assert (name["lang"], name["lang_by"]) == ("zh", "hint")
    r = hwocr("page", "--format", "json", "--hint", "ja", str(OMZ_JA))
    assert r.returncode == 0, r.stderr
    lines = json.loads(r.stdout)["pages"][0]["lines"]
    assert lines and [(ln["lang"], ln["lang_by"]) for ln in lines] == [("ja", "hint")] * len(lines)
    for args, needle in ((("read", "--lang", "zh", "--hint", "ja"), "--lang auto only"),
                         (("page", "--lang", "ja", "--hint", "ja"), "--lang auto only"),
                         (("read", "--hint", "en"), "--hint")):
        r = hwocr(*args, str(OMZ_JA))
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and not r.stdout, r.stderr


def test_missing_and_corrupt_files_continue_then_fail(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    r = hwocr("read", str(tmp_path / "missing.png"), str(bad), str(SAMPLES / "zh-line.png"))
    assert r.stdout.strip() == f"{SAMPLES / 'zh-line.png'}\t{ZH_TEXT}"  # the good image is still read
    assert_one_line_error(r, "missing.png: no such file", "bad.jpg")


def test_non_image_file(tmp_path):
    f = tmp_path / "doc.txt"
    f.write_text("hello")
    assert_one_line_error(hwocr("read", str(f)), "doc.txt: not an image")


def test_elongated_line_is_an_error(tmp_path):
    f = tmp_path / "strip.png"
    Image.new("L", (100_000, 20), 255).save(f)
    assert_one_line_error(hwocr("read", str(f)), "strip.png", "too elongated")


@pytest.mark.skipif(not CHARLISTS.exists(), reason="../shared not present")
def test_charlist_mismatch_is_one_line(omz_graph_dir):
    xml = omz_graph_dir / "handwritten-simplified-chinese-recognition-0001.FP16.xml"
    r = hwocr("read", "--engine", str(xml), "--charlist", str(CHARLISTS / "kondate_nakayosi.txt"),
              str(SAMPLES / "zh-line.png"))
    assert_one_line_error(r, "kondate_nakayosi.txt: charlist does not fit the model")


def test_omz_offline_without_cache(tmp_path):
    r = hwocr("read", "--engine", "omz", "--offline", "--model-dir", str(tmp_path), str(SAMPLES / "zh-line.png"))
    assert_one_line_error(r, "offline")
    assert not any(tmp_path.rglob("*.part"))


def test_eval_prints_the_omz_metric(tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    (d / "a.png").write_bytes((SAMPLES / "zh-line.png").read_bytes())
    (d / "labels.tsv").write_text(f"a.png\t{ZH_TEXT[:-1]}步\n", encoding="utf-8")
    r = hwocr("eval", str(d), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["n"] == 1 and s["accuracy"] == 1.0 and s["exact"] == 1.0 and s["median_ms_per_line"] > 0


def test_eval_errors_are_one_line_each_whatever_the_label_holds(tmp_path):
    """--errors prints each wrong line's name, reading and label: control characters and line
    separators in a label (or a name) are escaped, not written to the terminal."""
    d = tmp_path / "set"
    d.mkdir()
    (d / "a\u2028b.png").write_bytes((SAMPLES / "zh-line.png").read_bytes())
    (d / "labels.tsv").write_text("a\u2028b.png\tx\x07\x1b[31my\u2029z\n", encoding="utf-8")
    r = hwocr("eval", str(d), "--errors")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines() == [f"a\\u2028b.png\tpred={ZH_TEXT}\tref=x\\x07\\x1b[31my\\u2029z"]


def test_eval_reports_an_unreadable_image_and_scores_the_others(tmp_path):
    """A missing or broken image among the labels is one error line each; the rest is scored (it used to
    stop at the first one, after reading every line before it, with no score) and the status is 1."""
    d = tmp_path / "set"
    d.mkdir()
    (d / "a.png").write_bytes((SAMPLES / "zh-line.png").read_bytes())
    (d / "bad.png").write_bytes(b"not an image")
    (d / "labels.tsv").write_text(f"gone.png\tx\na.png\t{ZH_TEXT}\nbad.png\ty\n", encoding="utf-8")
    r = hwocr("eval", str(d), "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    errors = r.stderr.strip().splitlines()
    assert len(errors) == 2 and "gone.png" in errors[0] and "bad.png" in errors[1], r.stderr
    s = json.loads(r.stdout)
    assert s["n"] == 1 and s["accuracy"] == 1.0


def test_names_that_are_not_utf8_or_hold_control_characters_give_valid_json_and_hocr(tmp_path):
    """A Shift-JIS archive's file name (not UTF-8) and a name with a control character: --json and the
    page JSON stay valid UTF-8 JSON that gives the name back; hOCR stays well-formed XML."""
    import xml.etree.ElementTree as ET

    raw = os.fsencode(tmp_path) + b"/\x93\xfa\x96\x7b\x01.png"
    with open(raw, "wb") as f:
        f.write((SAMPLES / "ja-line.png").read_bytes())
    name = os.fsdecode(raw)
    r = subprocess.run([sys.executable, "-m", "hwocr", "read", "--json", name], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout.decode("utf-8"))
    assert d["file"] == name and d["text"] == JA_TEXT
    r = subprocess.run([sys.executable, "-m", "hwocr", "page", "--format", "json", name], capture_output=True,
                       timeout=300)
    assert json.loads(r.stdout.decode("utf-8"))["pages"][0]["source"] == name
    r = subprocess.run([sys.executable, "-m", "hwocr", "page", "--format", "hocr", name], capture_output=True,
                       timeout=300)
    title = ET.fromstring(r.stdout).find(".//{http://www.w3.org/1999/xhtml}div").get("title")
    assert "\\udc93\\udcfa\\udc96{\\x01.png" in title, title


def test_a_pattern_does_not_follow_a_folder_linked_into_itself(tmp_path):
    """'**' walks folders without following links: two links of a folder to itself made Python's glob
    walk an exponential tree (hung); the real file is found once."""
    (tmp_path / "ok.png").write_bytes((SAMPLES / "zh-line.png").read_bytes())
    for n in ("x", "y"):
        (tmp_path / n).symlink_to(".")
    r = hwocr("read", str(tmp_path / "**" / "*.png"))
    assert r.returncode == 0 and r.stdout.strip() == ZH_TEXT, r.stderr


def test_eval_without_labels(tmp_path):
    assert_one_line_error(hwocr("eval", str(tmp_path)), "labels.tsv")


def test_models_list_info_and_devices():
    r = hwocr("models", "list")
    assert r.returncode == 0 and "handwritten-japanese-recognition-0001" in r.stdout and "embedded" in r.stdout
    r = hwocr("models", "info", "handwritten-simplified-chinese-recognition-0001")
    assert "75a89bd4e29776d99167728e514450fb8e99d7c076caae6ae5a247d42c3d40a84d54d50da45a612897c7a5434b0dfb83" in r.stdout
    assert "storage.openvinotoolkit.org/repositories/open_model_zoo/2023.0/models_bin/1/" in r.stdout
    r = hwocr("devices")
    assert r.returncode == 0 and "CPU" in r.stdout.split()
    assert_one_line_error(hwocr("models", "info", "nonsense"), "unknown model")


def test_models_download_from_a_tampered_mirror_leaves_nothing(tmp_path):
    """A mirror serving a wrong file at the right place: one-line error, exit 1, no partial file."""
    import functools
    import http.server
    import threading

    from hwocr.registry import HJR, MODELS

    served = tmp_path / "mirror"
    for f in MODELS[HJR].files["FP16"]:
        p = served / f.relpath
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\0" * f.size)  # right size, wrong bytes
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    cache = tmp_path / "cache"
    try:
        r = hwocr("models", "download", "ja", "--mirror", f"http://127.0.0.1:{srv.server_address[1]}",
                  "--model-dir", str(cache))
    finally:
        srv.shutdown()
    assert_one_line_error(r, "sha384 mismatch")
    assert not [p for p in cache.rglob("*") if p.is_file()]


def test_sigterm_is_an_exception_only_while_the_cli_runs():
    """The library installs no signal handler (on import or while reading); ``hwocr.cli.main`` turns
    SIGTERM into :class:`hwocr.cli.Terminated` (a SystemExit, so every cleanup runs) for as long as it
    runs, and a second SIGTERM kills at once."""
    import signal

    from hwocr import cli

    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    seen = []
    cli.cli.add_command(cli.click.Command("_peek", callback=lambda: seen.append(signal.getsignal(signal.SIGTERM))))
    try:
        with pytest.raises(SystemExit) as e:
            cli.main(["_peek"])
    finally:
        cli.cli.commands.pop("_peek")
    assert e.value.code == 0 and seen == [cli._on_sigterm]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    try:
        with pytest.raises(cli.Terminated) as e:
            cli._on_sigterm(signal.SIGTERM, None)
        assert e.value.code == 143 and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
