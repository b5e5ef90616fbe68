"""The accuracy metric (OMZ's 1 - corpus CER) and the character calibration error."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hwocr.metrics import calibration_error, char_calibration, edit_distance, matched_chars, normalize, paired, score
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


def test_paired_counts_net_characters_and_lines():
    refs = ["今天天气", "很好", "我们"]
    a = ["今天天", "很好", "我门"]  # 2 edits
    b = ["今天天气", "很妤", "我们"]  # 1 edit
    p = paired(a, b, refs, rounds=500)
    assert (p.net, p.better, p.worse) == (1, 2, 1)
    assert p.lo <= score(b, refs).accuracy - score(a, refs).accuracy <= p.hi
    assert p == paired(a, b, refs, rounds=500)  # seeded: the same interval on every run


def test_paired_interval_separates_a_real_gain_from_noise():
    refs = ["字"] * 400
    noise_a = ["字"] * 399 + ["宇"]
    noise_b = ["宇"] + ["字"] * 399
    same = paired(noise_a, noise_b, refs)
    assert same.net == 0 and same.lo < 0 < same.hi
    worse = ["宇"] * 100 + ["字"] * 300
    gain = paired(worse, refs, refs)
    assert gain.net == 100 and gain.lo > 0.15 and gain.better == 100 and gain.worse == 0
    assert paired(refs, worse, refs).hi < -0.15
