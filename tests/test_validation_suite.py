"""The validation suite's running-text lines (benchmarks/validation.py) and the renderer's marks
(scripts/make_samples.py): pure helpers, no stroke data needed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "scripts"))

import make_samples as ms  # noqa: E402
import validation as val  # noqa: E402

MARKS = "。，、？！"


class FakeSource:
    """Strokes for a few characters (a short horizontal stroke each), KeyError for the rest."""

    NOTICE = {"Copyright": "fake", "License": "none"}

    def __init__(self, chars: str) -> None:
        self.chars = set(chars)

    def strokes(self, ch: str):
        if ch not in self.chars:
            raise KeyError(ch)
        return [np.array([[0.1, 0.8], [0.3, 0.9]])]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="我们去公园" + MARKS, min_size=0, max_size=300), st.integers(0, 2**32 - 1),
       st.integers(1, 60))
def test_cut_lines_are_consecutive_and_no_line_but_the_first_opens_with_a_mark(stream, seed, n):
    lines = val.cut_lines(stream, n, np.random.default_rng(seed))
    assert len(lines) <= n
    assert stream.startswith("".join(lines))
    if len(lines) < n:
        assert "".join(lines) == stream  # stopped only because the text ran out
    for k, line in enumerate(lines):
        assert line
        if k:
            assert line[0] not in MARKS
        body = line.rstrip(MARKS)
        assert len(body) <= 22
        if k < len(lines) - 1 and len(line) < 8:
            pytest.fail(f"a line shorter than 8 before the last: {line!r}")


def test_running_text_keeps_the_marks_it_can_draw_and_refuses_latin():
    src = FakeSource("我们去公园了。，")
    assert val.running_text("我们 去公园了。", src) == "我们去公园了。"
    assert val.running_text("我们“去”公园了，", src) == "我们去公园了，"  # quotes: no strokes, dropped
    assert val.running_text("我们去公园了？", src) == "我们去公园了"  # an undrawable mark is dropped too
    assert val.running_text("我们去ABC公园", src) is None
    assert val.running_text("我们去北京", src) is None  # a character without strokes: the sentence is skipped


def test_mark_key_folds_full_width_forms():
    assert ms.mark_key("，") == ","
    assert ms.mark_key("？") == "?"
    assert ms.mark_key("１") == "1"
    assert ms.mark_key("。") == "。"
    assert ms.mark_key("我") is None
    assert ms.mark_key("あ") is None


def test_marks_are_centred_and_narrow_other_characters_come_from_the_source():
    kvg = FakeSource("。?1")
    src = ms.WithMarks(FakeSource("我"), kvg)
    assert "punctuation and digits: fake" in src.NOTICE["Copyright"]
    assert np.array_equal(np.concatenate(src.strokes("我")), [[0.1, 0.8], [0.3, 0.9]])  # not moved
    for ch in "。？１":
        pts = np.concatenate(src.strokes(ch))
        assert (pts[:, 0].min() + pts[:, 0].max()) / 2 == pytest.approx(0.5)
        assert np.allclose(pts[:, 1], [0.8, 0.9])  # the height in the box is kept
        assert ms.WithMarks.advance(ch, src.strokes(ch)) == pytest.approx(0.2 + ms.MARK_GAP)
    comma = np.concatenate(src.strokes("，"))  # drawn by hand: KanjiVG has none
    assert comma[:, 1].min() > 0.6
    assert ms.WithMarks.advance("我", src.strokes("我")) is None
    with pytest.raises(KeyError):
        src.strokes("、")  # a mark the stroke data lacks stays missing
