"""Hostile options, side files and outputs (found by a second audit with inputs written outside the
tests): FIFOs and devices where a small file is expected, NaN options, typos in on/off variables, a
damaged batch output, a full disk; each one line, nothing hangs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT

LINE = str(ROOT / "samples" / "zh-line.png")


def hwocr(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    e = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HWOCR_PRECISION": "f32", **(env or {})}
    return subprocess.run([sys.executable, "-m", "hwocr", *args], capture_output=True, text=True, env=e,
                          timeout=timeout)


def one_line(r: subprocess.CompletedProcess, code: int, *words: str) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("hwocr: reading")]
    assert r.returncode == code and len(lines) == 1 and "Traceback" not in r.stderr, (r.returncode, r.stderr)
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


def test_small_side_files_must_be_regular_and_small(tmp_path):
    from hwocr.errors import HwocrError
    from hwocr.files import read_small

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    zero = tmp_path / "zero"
    zero.symlink_to("/dev/zero")
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2000)
    for p, why in ((fifo, "not a regular file"), (zero, "not a regular file"), (big, "over the"),
                   (tmp_path / "missing", "no such file")):
        with pytest.raises(HwocrError, match=why):
            read_small(p, "manifest", 1000)
    assert read_small(big, "manifest", 4000) == b"x" * 2000
    # where the CLI reads such files
    one_line(hwocr("read", LINE, "--allow", str(fifo)), 1, "--allow", "not a regular file")
    one_line(hwocr("read", LINE, "--charlist", str(zero)), 1, "charlist is not a regular file")
    one_line(hwocr("batch", f"@{fifo}", "-o", str(tmp_path / "o"), "--runner", "local", "--workers", "1"), 1,
             "manifest", "not a regular file")


def test_batch_records_special_input_files_instead_of_hanging(tmp_path):
    fifo = tmp_path / "in.png"
    os.mkfifo(fifo)
    r = hwocr("batch", str(fifo), "-o", str(tmp_path / "o"), "--runner", "local", "--workers", "1", "--no-progress",
              timeout=60)
    assert r.returncode == 1 and "not a regular file" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_nan_options_and_on_off_typos_are_usage_errors(tmp_path):
    one_line(hwocr("page", LINE, "--dpi", "nan"), 2, "--dpi", "NaN")
    one_line(hwocr("read", LINE, env={"HWOCR_OFFLINE": "maybe"}), 1, "HWOCR_OFFLINE", "expected 1 or 0")
    line = one_line(hwocr("read", LINE, "--input-spec", "height=" + "9" * 5000), 2, "--input-spec")
    assert len(line) < 300


def test_bad_option_values_are_usage_errors_and_long_ones_are_cut(tmp_path):
    """Command-line mistakes exit 2 (a bad --input-spec field, '-' twice, an option given as ''); an
    empty --mirror used to mean no mirror (a download from the network), an empty --engine the current
    folder. An error line echoing a value of thousands of characters is cut to MAX_MESSAGE."""
    for args, words in ((("--input-spec", "foo=1"), ("--input-spec", "unknown input field 'foo'")),
                        (("--input-spec", "mean=NaN"), ("--input-spec", "mean")),
                        (("--engine", ""), ("--engine", "empty")),
                        (("--engine", "omz", "--mirror", ""), ("--mirror", "empty")),
                        (("--model-dir", ""), ("--model-dir", "empty")),
                        (("--device", " "), ("--device", "empty"))):
        one_line(hwocr("read", LINE, *args), 2, *words)
    one_line(hwocr("read", "-", "-"), 2, "'-' (standard input) can be given only once")
    one_line(hwocr("page", LINE, "--detector", ""), 2, "--detector", "empty")
    one_line(hwocr("models", "download", "--mirror", "", "omz"), 2, "--mirror", "empty")
    line = one_line(hwocr("read", LINE, "--engine", "E" * 3000), 1, "EEEE")
    assert len(line) <= 420 and " ... " in line
    assert hwocr("read", LINE, "--input-spec", "char_views=[0.2,0.4]").returncode == 0  # a list keeps its commas


def test_a_damaged_batch_output_is_one_line(tmp_path):
    out = tmp_path / "o"
    args = ("batch", LINE, "-o", str(out), "--runner", "local", "--workers", "1", "--no-progress")
    assert hwocr(*args).returncode == 0
    shard = next(out.glob("pages-*.jsonl"))
    index = out / "index" / (shard.stem + ".keys")
    index.write_text("no tab here\n")
    one_line(hwocr(*args), 1, "index", "corrupt batch output")
    index.unlink()
    shard.write_bytes(shard.read_bytes()[:50])  # a write cut short
    one_line(hwocr(*args), 1, shard.name, "not a JSON record")


def test_a_batch_output_inside_its_input_folder_is_not_read_again(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.png").write_bytes((ROOT / "samples" / "zh-line.png").read_bytes())
    args = ("batch", str(inp), "-o", str(inp / "out"), "--pdf", "--runner", "local", "--workers", "1",
            "--no-progress")
    assert hwocr(*args).returncode == 0
    assert list((inp / "out").rglob("*.pdf"))  # the export the next run must not take as input
    r = hwocr(*args)
    assert r.returncode == 0 and "1 pages: 0 read" in r.stderr + r.stdout, r.stderr


def test_a_full_output_is_one_line():
    r = subprocess.run(f"{sys.executable} -m hwocr read {LINE} > /dev/full", shell=True, capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "HWOCR_PRECISION": "f32"},
                       timeout=120)
    one_line(r, 1, "cannot write the output")


def test_a_line_break_in_a_file_name_stays_on_one_line():
    from hwocr.batch.inputs import WorkItem
    from hwocr.batch.work import failure

    item = WorkItem(path="bad\nname.png", page=0, pages=1, key="k")
    rec = failure(item, "bad\nname.png: not an image")
    assert "\n" not in rec["error"] and rec["error"].endswith("not an image"), rec["error"]


def test_finetune_device_and_seed_are_checked():
    pytest.importorskip("torch")
    from hwocr.errors import HwocrError
    from hwocr.train.loop import pick_device

    assert str(pick_device("cpu")) == "cpu"
    for bad in ("garbage", "cuda:99", "mps", "", " "):
        with pytest.raises(HwocrError, match="--device"):
            pick_device(bad)
    one_line(hwocr("finetune", str(ROOT / "samples"), "-o", "/tmp/never", "--seed", "-1"), 2, "--seed")
    # refused before the samples are read (it was taken as "choose one")
    one_line(hwocr("finetune", str(ROOT / "samples"), "-o", "/tmp/never", "--device", ""), 1, "--device ''",
             "empty device name")


def test_a_model_cache_that_is_a_file_is_one_line(tmp_path):
    f = tmp_path / "cache"
    f.write_text("not a folder")
    env = {"HWOCR_MODEL_DIR": str(f)}
    one_line(hwocr("models", "verify", env=env), 1, "model cache", "is not a folder")
    one_line(hwocr("read", LINE, "--engine", "omz", "--lang", "zh", "--offline", env=env), 1, "is not a folder")
    assert hwocr("read", LINE, env=env).returncode == 0  # the embedded default needs no cache


def test_a_picture_output_must_name_a_picture_format_before_anything_is_read(tmp_path):
    """--preview / --overlay with a suffix Pillow cannot write is a usage error at once (before, the
    line was read and then the write failed)."""
    for cmd, opt in (("read", "--preview"), ("page", "--overlay")):
        for name in ("out.txt", "out", "out.jpgx"):
            r = hwocr(cmd, LINE, opt, str(tmp_path / name), "--engine", str(tmp_path / "no-such-model"))
            one_line(r, 2, opt, "name a picture file")  # refused before the (missing) model is looked at
    r = hwocr("read", LINE, "--preview", str(tmp_path / "ok.webp"))
    assert r.returncode == 0 and (tmp_path / "ok.webp").stat().st_size > 0, r.stderr


def test_an_output_over_an_input_or_in_no_folder_is_refused_before_anything_is_read(tmp_path):
    """A preview, overlay or -o that would overwrite an image being read (itself, or a numbered sibling
    OUT-2.png of several), that is empty, or whose folder does not exist: a usage error at once, the
    input untouched (before: the image was replaced, exit 0; a missing folder was found after every
    page was read)."""
    import shutil

    z = tmp_path / "z.png"
    shutil.copy(LINE, z)
    shutil.copy(LINE, tmp_path / "p-2.png")
    before = z.read_bytes()
    nomodel = ("--engine", str(tmp_path / "no-such-model"))  # refused before the (missing) model is looked at
    for args, words in ((("read", str(z), "--preview", str(z)), ("would overwrite the input",)),
                        (("read", str(z), str(tmp_path / "p-2.png"), "--preview", str(tmp_path / "p.png")),
                         ("p-2.png",)),
                        (("page", str(z), "-o", str(tmp_path / "." / "z.png")), ("-o", "would overwrite")),
                        (("page", str(z), "--overlay", str(z)), ("--overlay", "would overwrite")),
                        (("page", str(z), "-o", ""), ("-o", "empty file name")),
                        (("page", str(z), "-o", str(tmp_path / "nowhere" / "out.txt")), ("does not exist",)),
                        (("read", str(z), "--preview", str(tmp_path / "nowhere" / "p.png")), ("does not exist",))):
        one_line(hwocr(*args, *nomodel), 2, *words)
    assert z.read_bytes() == before
    r = hwocr("read", str(tmp_path / "p-2.png"), "--preview", str(tmp_path / "p.png"))  # one image: p.png only
    assert r.returncode == 0 and (tmp_path / "p.png").is_file(), r.stderr


def test_a_closed_standard_output_is_an_error_only_when_written_to(tmp_path):
    """Started with stdout closed, `hwocr read` used to exit 0 with its results lost."""

    def closed(*args):
        e = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HWOCR_PRECISION": "f32"}
        return subprocess.run([sys.executable, "-m", "hwocr", *args], stdout=None, stderr=subprocess.PIPE,
                              text=True, env=e, timeout=120, preexec_fn=lambda: os.close(1))

    one_line(closed("read", LINE), 1, "cannot write the output", "closed")
    one_line(closed("--version"), 1, "cannot write the output")
    out = tmp_path / "page.txt"
    r = closed("page", LINE, "-o", str(out))
    assert r.returncode == 0 and out.read_text(encoding="utf-8").strip(), r.stderr  # files only: fine
