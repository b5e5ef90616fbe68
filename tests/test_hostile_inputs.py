"""Hostile inputs through the Python API and the CLI: refused cheaply, in one line, before any work."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT


def tiny_png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), 255).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def hwocr(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "hwocr", *args], capture_output=True, text=True, env=e, timeout=300)


@pytest.mark.parametrize("spec_name", ["_PPOCR_INPUT", "OMZ_INPUT"])
def test_count_windows_is_what_make_windows_cuts(spec_name):
    from hwocr import registry
    from hwocr.preprocess import count_windows, make_windows

    spec = getattr(registry, spec_name)
    rng = np.random.default_rng(0)
    sizes = [(2000, 4), (4, 2000), (96, 96), (1307, 44), (8000, 40), (300, 7)]
    sizes += [tuple(int(v) for v in rng.integers([4, 4], [9000, 400])) for _ in range(25)]
    for w, h in sizes:
        n = len(make_windows(np.full((h, w, 3), 255, np.uint8), spec))
        assert count_windows(w, h, spec) == n, (w, h)


def test_a_tiny_png_of_a_very_long_line_is_refused_before_any_inference(zh_reader):
    from hwocr.errors import InputTooLarge
    from hwocr.reader import MAX_WINDOWS

    data = tiny_png(2000, 4)
    assert len(data) < 100  # the 86-byte file: 6 windows, seconds of CPU and +355 MB before
    calls = []
    engine = zh_reader.engine
    real = type(engine).__call__
    t = time.perf_counter()
    try:
        type(engine).__call__ = lambda self, x: calls.append(x.shape) or real(self, x)
        with pytest.raises(InputTooLarge, match=rf"in [5-9] windows of the model \(limit {MAX_WINDOWS}\)"):
            zh_reader.read(data)
    finally:
        type(engine).__call__ = real
    assert not calls and time.perf_counter() - t < 1.0
    # a long but plausible line still reads (split into windows)
    from hwocr.preprocess import count_windows

    n = count_windows(6000, 30, zh_reader.engine.info.input)
    assert 1 < n <= MAX_WINDOWS
    assert zh_reader.read(np.full((30, 6000, 3), 255, np.uint8)).policy == f"split:{n}"


def test_cli_refuses_the_long_line_and_eps_in_one_line(tmp_path):
    from test_imageio import EPS_LOOP

    (tmp_path / "strip.png").write_bytes(tiny_png(2000, 4))
    (tmp_path / "loop.eps").write_bytes(EPS_LOOP)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "gs-ran"
    (bin_dir / "gs").write_text(f"#!/bin/sh\ntouch {marker}\nsleep 30\n")
    (bin_dir / "gs").chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    r = hwocr("read", str(tmp_path / "strip.png"), str(tmp_path / "loop.eps"), env=env)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 1 and len(lines) == 2 and all(ln.startswith("hwocr: error:") for ln in lines), r.stderr
    assert re.search(r"strip\.png: a 2000x4 px line would be read in [5-9] windows of the model", lines[0])
    assert "loop.eps: PostScript/EPS is not accepted" in lines[1]
    r = hwocr("page", str(tmp_path / "loop.eps"), env=env)  # (a page may be any shape: its lines are bounded)
    assert r.returncode == 1 and r.stderr.strip().startswith("hwocr: error:") and "EPS is not accepted" in r.stderr
    assert "ghostscript" not in r.stderr.lower() and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not marker.exists(), "Ghostscript was run"


def test_the_detector_input_is_bounded_whatever_the_page_size():
    from hwocr.pages.detect import DETECTOR_SIDES, DBDetector

    det = object.__new__(DBDetector)  # the geometry only: no model
    det.max_side = 1600
    det.sides = DETECTOR_SIDES
    for w, h in ((6000, 6000), (20000, 300), (300, 20000), (100, 80)):
        x, _, _ = det._input(np.full((h, w, 3), 255, np.uint8))
        assert max(x.shape[2:]) <= 1600 + 32 and min(x.shape[2:]) >= 32, (w, h, x.shape)
