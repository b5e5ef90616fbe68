"""The accuracy metric (OMZ's 1 - corpus CER) and the character calibration error."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hwocr.metrics import calibration_error, char_calibration, edit_distance, matched_chars, normalize, score
from hwocr.results import CharResult, LineResult

text = st.text(alphabet="的一是了我不人在他有ａＢ 1", max_size=12)


def test_score_normalises_like_omz():
    s = score(["今天 天气", "ＡＢ"], ["今天天气", "AB"])  # white space and NFKC width do not count
    assert s.accuracy == 1.0 and s.exact == 1.0
    s = score(["今天天汽", ""], ["今天天气", "好"])
    assert s.edits == 2 and s.ref_chars == 5 and abs(s.accuracy - 0.6) < 1e-9 and s.exact == 0.0


def test_matched_chars_golden():
    assert matched_chars("今天天汽好", "今天天气很好") == [True, True, True, False, True]
    assert matched_chars("", "abc") == [] and matched_chars("ab", "") == [False, False]


@given(text, text)
def test_matched_chars_is_an_alignment(p, r):
    p, r = normalize(p), normalize(r)
    ok = matched_chars(p, r)
    assert len(ok) == len(p)
    matched = "".join(c for c, k in zip(p, ok) if k)
    it = iter(r)
    assert all(c in it for c in matched)  # matched characters appear in r, in order
    assert edit_distance(p, r) >= max(len(p), len(r)) - len(matched)
    assert all(matched_chars(p, p))


def test_calibration_error():
    assert calibration_error([0.9] * 10, [True] * 9 + [False]) < 1e-9
    assert abs(calibration_error([1.0, 1.0], [False, False]) - 1.0) < 1e-9
    assert abs(calibration_error([0.95, 0.15], [True, True]) - (0.05 + 0.85) / 2) < 1e-9
    assert calibration_error([], []) == 0.0


def test_char_calibration_uses_the_alignment():
    def line(chars):
        cs = tuple(CharResult(c, p, 0, 1, ()) for c, p in chars)
        return LineResult("".join(c for c, _ in chars), 0.0, cs, "t")

    # 天 right at 0.9 and 汽 wrong at 0.9: one bin, accuracy 0.5 -> gap 0.4; the space is skipped
    assert abs(char_calibration([line([("天", 0.9), (" ", 0.5), ("汽", 0.9)])], ["天气"]) - 0.4) < 1e-9
