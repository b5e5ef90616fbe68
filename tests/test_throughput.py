"""Batched, parallel reading: same results as one line at a time, in input order; CLI inputs.

Fast and without timing assertions (timings live in benchmarks/)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import CHARLISTS, stroke_line

OMZ_ZH = "handwritten-simplified-chinese-recognition-0001.FP16.xml"


@pytest.fixture(scope="module")
def greedy_reader():
    from hwocr import Reader

    return Reader(lang="zh", decoder="greedy")


def mixed_lines(n: int = 9) -> list[np.ndarray]:
    """Lines of many widths and heights, including two pairs of identical padded width (batched together)."""
    out = []
    for k in range(n):
        out.append(stroke_line(text_like=2 + (k * 5) % 13, h=40 + 7 * (k % 4), seed=k))
    out.append(stroke_line(text_like=6, h=64, seed=100))
    out.append(stroke_line(text_like=6, h=64, seed=101))  # same shape as the previous one
    out.append(stroke_line(text_like=1, h=48, seed=102))  # narrower than the minimum width
    out.append(stroke_line(text_like=1, h=50, seed=103))
    return out


def assert_same_results(a, b, tol: float = 1e-4) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.text == y.text
        assert x.policy == y.policy
        assert abs(x.confidence - y.confidence) <= tol
        assert len(x.chars) == len(y.chars)
        for c, d in zip(x.chars, y.chars):
            assert c.char == d.char
            assert abs(c.confidence - d.confidence) <= tol
            assert abs(c.x0 - d.x0) <= 1e-3 and abs(c.x1 - d.x1) <= 1e-3


def test_batch_equals_single_mixed_widths(greedy_reader):
    lines = mixed_lines()
    single = [greedy_reader.read_arrays([im])[0] for im in lines]
    for bs in (1, 3, 8):
        assert_same_results(greedy_reader.read_arrays(lines, batch_size=bs), single)


def test_padding_to_a_wider_batch_would_change_ppocr(greedy_reader):
    """Why batches never mix widths: PP-OCRv6's attention sees the padding columns."""
    from hwocr.preprocess import make_windows

    w = make_windows(stroke_line(text_like=5, h=48, seed=3), greedy_reader.engine.info.input)[0].tensor
    wide = np.zeros((3, 48, w.shape[-1] + 160), np.float32)
    wide[:, :, : w.shape[-1]] = w
    own = greedy_reader.engine(w[None])[0]
    padded = greedy_reader.engine(wide[None])[0][: own.shape[0]]
    assert np.abs(own - padded).max() > 1e-3


def test_order_restored(greedy_reader):
    lines = mixed_lines()
    fwd = greedy_reader.read_arrays(lines)
    rev = greedy_reader.read_arrays(lines[::-1])
    assert_same_results(rev[::-1], fwd)
    posts = greedy_reader.posteriors(lines)
    assert [p.windows[0].line_width for p in posts] == [p.windows[0].line_width for p in
                                                         (greedy_reader.posteriors([im])[0] for im in lines)]


def test_parallel_path_equals_sync_path(greedy_reader):
    lines = mixed_lines() + [stroke_line(text_like=200, h=48, seed=7)]  # one line split into windows
    greedy_reader._parallel = True
    try:
        par = greedy_reader.read_arrays(lines)
    finally:
        greedy_reader._parallel = False
    seq = greedy_reader.read_arrays(lines)
    assert par[-1].policy.startswith("split:")
    assert_same_results(par, seq, tol=1e-6)


def test_async_infer_queue_equals_sync_session(greedy_reader):
    from hwocr.preprocess import make_windows

    sess = greedy_reader.engine.session
    xs = [make_windows(im, greedy_reader.engine.info.input)[0].tensor[None] for im in mixed_lines(5)]
    sync = [sess(x) for x in xs]
    got = dict(sess.infer_async(iter(xs)))
    assert sorted(got) == list(range(len(xs)))
    for k, ref in enumerate(sync):
        assert got[k].shape == ref.shape
        assert np.abs(got[k] - ref).max() <= 1e-6
    # a second call reuses the queue; an abandoned call leaves it usable
    gen = sess.infer_async(iter(xs))
    next(gen)
    gen.close()
    assert len(dict(sess.infer_async(iter(xs[:2])))) == 2


def test_results_stream_before_the_input_ends(greedy_reader):
    pulled = []

    def source():
        for k, im in enumerate(mixed_lines(6)):
            pulled.append(k)
            yield im

    greedy_reader._CHUNK_LINES = 2
    try:
        it = greedy_reader._iter_results(source())
        first = next(it)
        assert len(pulled) < 6
        rest = list(it)
    finally:
        del greedy_reader._CHUNK_LINES
    assert_same_results([first, *rest], greedy_reader.read_arrays(mixed_lines(6)))


def test_in_place_restrict_matches_decode_restrict(greedy_reader):
    from hwocr import decode as dec
    from hwocr.reader import _restrict_own

    rng = np.random.default_rng(0)
    p = rng.random((30, len(greedy_reader.charset)), dtype=np.float32)
    p /= p.sum(-1, keepdims=True)
    ref = dec.restrict(p, greedy_reader.mask)
    assert np.array_equal(_restrict_own(p.copy(), greedy_reader.mask), ref)


def test_omz_graph_parallel_equals_sync(omz_graph_dir):
    from hwocr import Reader

    r = Reader(lang="zh", engine=str(omz_graph_dir / OMZ_ZH), charlist=str(CHARLISTS / "scut_ept.txt"), parallel=True)
    lines = [stroke_line(text_like=4, h=60, seed=1), stroke_line(text_like=9, h=40, seed=2)]
    par = r.read_arrays(lines)
    r._parallel = False
    assert_same_results(par, r.read_arrays(lines), tol=1e-6)


# -- CLI: folders, globs, JSON lines ---------------------------------------------------------------
@pytest.fixture()
def image_dir(tmp_path):
    for k, name in enumerate(["b.png", "a.JPG", "c.webp", "d.tiff"]):
        Image.fromarray(stroke_line(text_like=3 + k, h=48, seed=k)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    Image.fromarray(stroke_line(text_like=2, h=48, seed=9)).save(tmp_path / "sub" / "e.png")
    return tmp_path


def test_expand_directory_and_glob(image_dir):
    from hwocr.cli import expand_images
    from hwocr.errors import HwocrError

    d = str(image_dir)
    assert expand_images([d]) == ([f"{d}/a.JPG", f"{d}/b.png", f"{d}/c.webp", f"{d}/d.tiff"], 0)
    assert expand_images([f"{d}/*.png"]) == ([f"{d}/b.png"], 0)
    assert expand_images([f"{d}/**/*.png"]) == ([f"{d}/b.png", f"{d}/sub/e.png"], 0)
    assert expand_images([f"{d}/b.png", d + "/sub"]) == ([f"{d}/b.png", f"{d}/sub/e.png"], 0)
    assert expand_images(["missing.png"]) == (["missing.png"], 0)  # reported as unreadable later
    (image_dir / "empty").mkdir()
    with pytest.raises(HwocrError, match=r"no files match .*; .*empty: no images"):  # nothing at all: one line
        expand_images([f"{d}/*.gif", d + "/empty"])
    # among other inputs, one that gives nothing is reported and counted, and the rest is kept
    assert expand_images([f"{d}/*.gif", f"{d}/b.png", d + "/empty"]) == ([f"{d}/b.png"], 2)
    with pytest.raises(HwocrError, match="^an empty file name$"):  # not the current folder (Path(""))
        expand_images([""])


def test_cli_read_folder_streams_json_lines_in_order(image_dir, greedy_reader):
    from hwocr.cli import cli

    r = CliRunner().invoke(cli, ["read", "--lang", "zh", "--decoder", "greedy", "--json", "--no-progress", str(image_dir),
                                 str(image_dir / "missing.png")])
    assert r.exit_code == 1  # the missing file fails, the others are read
    rows = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
    names = [row["file"].rsplit("/", 1)[-1] for row in rows]
    assert names == ["a.JPG", "b.png", "c.webp", "d.tiff"]
    from hwocr.imageio import load_image

    expect = greedy_reader.read_arrays([load_image(image_dir / n).rgb for n in names])
    assert [row["text"] for row in rows] == [e.text for e in expect]


def test_cli_read_and_page_go_on_past_an_empty_folder_or_pattern(image_dir, greedy_reader):
    """An archive's empty folder, or a pattern that matches nothing, is one error line: the other
    inputs are still read, and the exit status says something failed."""
    from hwocr.cli import cli

    (image_dir / "empty").mkdir()
    args = [str(image_dir / "empty"), f"{image_dir}/*.gif", str(image_dir / "b.png")]
    r = CliRunner().invoke(cli, ["read", "--lang", "zh", "--decoder", "greedy", "--json", "--no-progress", *args])
    assert r.exit_code == 1, r.output
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert [row["file"] for row in rows] == [str(image_dir / "b.png")]
    from hwocr.imageio import load_image

    assert rows[0]["text"] == greedy_reader.read_arrays([load_image(image_dir / "b.png").rgb])[0].text
    errors = r.stderr.splitlines()
    assert errors == [f"hwocr: error: {image_dir / 'empty'}: no images in this folder "
                      "(.png, .jpg, .jpeg, .jpe, .jfif, .tif, .tiff, .bmp, .dib, .webp, .gif)",
                      f"hwocr: error: {image_dir}/*.gif: no files match this pattern"], r.stderr
    r = CliRunner().invoke(cli, ["page", "--lang", "zh", "--decoder", "greedy", "--format", "json", *args])
    assert r.exit_code == 1, r.output
    assert [p["source"] for p in json.loads(r.stdout)["pages"]] == [str(image_dir / "b.png")]
    assert len(r.stderr.splitlines()) == 2
    r = CliRunner().invoke(cli, ["read", *args[:2]])  # nothing at all: one line, before any model loads
    assert r.exit_code == 1 and len(r.stderr.splitlines()) == 1 and "no files match" in r.stderr


def test_file_names_with_tabs_or_newlines_cannot_split_an_output_line(image_dir):
    """One plain output line per image, one header line per page, one line per error, whatever the
    file names hold: a TAB, a newline or a carriage return in a name is written as \\t, \\n, \\r."""
    from hwocr.cli import cli
    from hwocr.files import shown

    assert shown("a\tb\nc\rd\x1be\x7f.png") == "a\\tb\\nc\\rd\\x1be\\x7f.png"
    assert shown("普通の名前 (1).png") == "普通の名前 (1).png"
    odd = "a\u2028b\u2029c\x85d\x9b31m\x0be\x0cf.png"  # each of these ends a line for str.splitlines
    assert shown(odd) == "a\\u2028b\\u2029c\\x85d\\x9b31m\\x0be\\x0cf.png" and len(shown(odd).splitlines()) == 1
    odd = [image_dir / "tab\there.png", image_dir / "new\nline.png"]
    for f in odd:
        f.write_bytes((image_dir / "b.png").read_bytes())
    args = [str(f) for f in odd]
    r = CliRunner().invoke(cli, ["read", "--lang", "zh", "--decoder", "greedy", "--no-progress", *args,
                                 str(image_dir / "gone\n.png")])
    assert r.exit_code == 1
    rows = r.stdout.splitlines()
    assert [row.split("\t")[0] for row in rows] == [shown(a) for a in args]
    assert len({row.split("\t", 1)[1] for row in rows}) == 1  # the same image, read the same
    assert r.stderr.splitlines() == [f"hwocr: error: {image_dir}/gone\\n.png: no such file"]
    r = CliRunner().invoke(cli, ["page", "--lang", "zh", "--decoder", "greedy", *args])
    assert r.exit_code == 0
    assert [ln for ln in r.stdout.splitlines() if ln.startswith("==> ")] == [f"==> {shown(a)} <==" for a in args]


def test_cli_read_progress_bar_goes_to_stderr(image_dir):
    from hwocr.cli import cli

    r = CliRunner().invoke(cli, ["read", "--decoder", "greedy", "--progress", f"{image_dir}/*.png"])
    assert r.exit_code == 0, r.output
    assert len(r.stdout.splitlines()) == 1
    assert "img" in r.stderr  # tqdm's bar with unit "img"
