from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HWOCR_SHARED", ROOT.parent / "shared"))
EVAL = SHARED / "eval"
GRAPHS = SHARED / "omz" / "graphs"
CHARLISTS = SHARED / "omz" / "charlists"

# golden texts were read in f32: pin it, so that the suite gives the same results on every CPU
# (``--precision auto`` picks bf16 on CPUs with AMX; tests of auto/bf16 ask for them explicitly)
os.environ.setdefault("HWOCR_PRECISION", "f32")

NB209 = EVAL / "zh-lines" / "nb209_handwritten_chinese_test.jpg"
NB209_TEXT = "人有悲欢离合，月有阴晴圆缺，此事古难全。"
OMZ_JA = EVAL / "ja-lines" / "omz_handwritten_japanese_test.png"


def needs_shared(*paths: Path):
    missing = [p for p in paths if not p.exists()]
    return pytest.mark.skipif(bool(missing), reason=f"../shared not present ({missing[0] if missing else ''})")


@pytest.fixture(scope="session")
def zh_reader():
    from hwocr import Reader

    return Reader(lang="zh")


@pytest.fixture(scope="session")
def ja_reader():
    from hwocr import Reader

    return Reader(lang="ja")


def stroke_line(text_like: int = 6, h: int = 64, seed: int = 0) -> np.ndarray:
    """A synthetic RGB line of pen-like strokes (not real text): for shape/property tests."""
    import cv2

    rng = np.random.default_rng(seed)
    w = h * text_like
    img = np.full((h, w, 3), 250, np.uint8)
    for k in range(text_like):
        x0 = k * h + h // 6
        for _ in range(3):
            p = rng.integers([x0, h // 6], [x0 + 2 * h // 3, 5 * h // 6], size=(2, 2))
            cv2.line(img, tuple(map(int, p[0])), tuple(map(int, p[1])), (20, 20, 20), max(2, h // 16))
    return img


@pytest.fixture(scope="session")
def omz_graph_dir(tmp_path_factory):
    """The authentic OMZ graphs from ../shared with random weights of the right size."""
    if not GRAPHS.exists():
        pytest.skip("../shared/omz/graphs not present: the OMZ graph tests need it")
    d = tmp_path_factory.mktemp("omz")
    for xml in GRAPHS.glob("*.xml"):
        (d / xml.name).write_bytes(xml.read_bytes())
        subprocess.run([sys.executable, str(GRAPHS / "make_random_bin.py"), str(d / xml.name),
                        str(d / xml.with_suffix(".bin").name)], check=True, capture_output=True)
    return d


def blank_ctc_model(xml: Path, input_meta: str | None = None) -> Path:
    """A tiny IR (grey, height 32, 3 classes) whose every frame is the CTC blank; ``input_meta``:
    InputSpec fields as JSON in its rt_info (hwocr/input)."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([-1, 1, 32, -1], np.float32, name="x")
    pooled = ops.avg_pool(x, [32, 4], [0, 0], [0, 0], [32, 4], exclude_pad=True)  # N x 1 x 1 x W/4
    zero = ops.multiply(ops.transpose(ops.squeeze(pooled, [1]), [0, 2, 1]), np.float32(0))  # N x T x 1
    model = ov.Model([ops.concat([ops.add(zero, np.float32(10)), zero, zero], 2)], [x], "blank")
    if input_meta:
        model.set_rt_info(input_meta, ["hwocr", "input"])
    ov.save_model(model, xml)
    return xml
