"""CTC prefix beam search (synthetic posteriors; fast, no network)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hwocr.beam import DEFAULTS, beam_decode, greedy_decode
from hwocr.lm import CharLM


def _text(path, charset):
    return "".join(charset[c] for c, _, _ in path)


def _posteriors(labels, C, rng, peak=0.98, frames_per=3):
    """Peaked posteriors: each label active for 1-2 frames, separated by blank frames."""
    rows = []
    for lab in labels:
        for _ in range(int(rng.integers(0, frames_per))):
            rows.append(0)
        for _ in range(int(rng.integers(1, 3))):
            rows.append(lab)
    rows.append(0)
    T = len(rows)
    p = rng.random((T, C)).astype(np.float32)
    p[np.arange(T), rows] = 0.0
    p *= (1 - peak) / p.sum(axis=1, keepdims=True)
    p[np.arange(T), rows] = peak
    return p


CHARSET = [""] + list("abcdefghij")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 10), min_size=0, max_size=12), st.integers(0, 2**31 - 1))
def test_no_lm_equals_greedy_on_peaked(labels, seed):
    rng = np.random.default_rng(seed)
    p = _posteriors(labels, len(CHARSET), rng)
    g = greedy_decode(p)
    assert [c for c, _, _ in beam_decode(p, CHARSET, None, beam_width=1)] == [c for c, _, _ in g]
    assert beam_decode(p, CHARSET, None, beam_width=1) == g
    assert [c for c, _, _ in beam_decode(p, CHARSET, None, beam_width=8)] == [c for c, _, _ in g]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(0, 2**31 - 1))
def test_width_one_is_greedy_on_any_posteriors(T, seed):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(len(CHARSET), 0.3), size=T).astype(np.float32)
    assert beam_decode(p, CHARSET, None, beam_width=1) == greedy_decode(p)


def test_greedy_collapses_repeats_and_blanks():
    p = np.zeros((7, 3), np.float32)
    for t, c in enumerate([1, 1, 0, 1, 2, 2, 0]):
        p[t, c] = 1.0
    assert greedy_decode(p) == [(1, 0, 1), (1, 3, 3), (2, 4, 5)]


def test_doubled_character_needs_blank():
    cs = ["", "a", "b"]
    p = np.full((5, 3), 0.001, np.float32)
    seq = [1, 0, 1, 0, 2]  # a _ a _ b -> "aab"
    for t, c in enumerate(seq):
        p[t, c] = 0.998
    out = beam_decode(p, cs, None)
    assert _text(out, cs) == "aab"
    assert [(c, f) for c, f, _ in out] == [(1, 0), (1, 2), (2, 4)]
    p2 = np.full((5, 3), 0.001, np.float32)
    for t, c in enumerate([1, 1, 1, 0, 2]):  # a a a _ b -> "ab"
        p2[t, c] = 0.998
    out2 = beam_decode(p2, cs, None)
    assert _text(out2, cs) == "ab"
    assert out2[0] == (1, 0, 2) and out2[1][1] == 4


def test_prefix_sum_beats_best_path():
    # best single path is blank-blank ("") but "a" collects more total probability
    cs = ["", "a"]
    p = np.array([[0.4, 0.6], [0.4, 0.6]], np.float32)[:, ::-1].copy()  # blank .6, a .4
    p = np.array([[0.6, 0.4], [0.6, 0.4]], np.float32)
    assert _text(greedy_decode(p), cs) == ""
    assert _text(beam_decode(p, cs, None, beam_width=4, prune_min=0.0), cs) == "a"  # .64 vs .36


def test_allowed_mask_respected():
    cs = ["", "a", "b", "c"]
    rng = np.random.default_rng(0)
    p = _posteriors([1, 2, 3, 1, 2], len(cs), rng, peak=0.7)
    p[:, 2] += 0.2  # make b attractive everywhere
    p /= p.sum(axis=1, keepdims=True)
    allowed = np.array([False, True, False, True])
    for lm in (None, CharLM.for_lang("zh")):
        out = beam_decode(p, cs, lm, allowed=allowed)
        assert all(c != 2 for c, _, _ in out)
        assert out  # other characters still emitted
    assert all(c != 2 for c, _, _ in beam_decode(p, cs, None, beam_width=1, allowed=allowed))


def _clean(seq: str, extra: str = "") -> tuple[np.ndarray, list[str], dict[str, int]]:
    """One frame per character of ``seq`` at probability ~1, blank frames between (unnormalised)."""
    cs = [""] + list(dict.fromkeys(seq + extra))
    idx = {c: i for i, c in enumerate(cs)}
    p = np.full((2 * len(seq) + 1, len(cs)), 1e-4, np.float32)
    p[::2, 0] = 1.0
    for i, ch in enumerate(seq):
        p[2 * i + 1, idx[ch]] = 1.0
    return p, cs, idx


def _ambiguous(seq: str, at: str, distractor: str, p_right: float) -> tuple[np.ndarray, list[str]]:
    """Clean one-frame-per-character posteriors for ``seq`` (blanks between), except that character
    ``at`` is ``p_right`` vs ``1 - p_right`` against ``distractor``."""
    p, cs, idx = _clean(seq, distractor)
    t = 2 * seq.index(at) + 1
    p[t, idx[at]], p[t, idx[distractor]] = p_right, 1 - p_right
    return p / p.sum(axis=1, keepdims=True), cs


@pytest.mark.parametrize("lang, seq, at, distractor", [
    ("zh", "中华人民共和国", "民", "氏"),  # visually similar hanzi
    ("ja", "ありがとうございます", "と", "ペ"),
])
def test_lm_resolves_ambiguity(lang, seq, at, distractor):
    lm = CharLM.for_lang(lang)
    alpha, beta = DEFAULTS[lang]
    # the acoustic evidence slightly favours the wrong character; without an LM it wins
    p, cs = _ambiguous(seq, at, distractor, 0.49)
    assert _text(beam_decode(p, cs, None), cs) == seq.replace(at, distractor)
    assert _text(beam_decode(p, cs, lm, lm_weight=alpha, insertion_bonus=beta), cs) == seq


def test_spans_are_ordered_and_in_range():
    rng = np.random.default_rng(3)
    cs = [""] + [chr(0x4E00 + i) for i in range(300)]
    labels = list(rng.integers(1, len(cs), size=15))
    p = _posteriors(labels, len(cs), rng, peak=0.9)
    out = beam_decode(p, cs, CharLM.for_lang("zh"))
    prev = -1
    for c, f, l in out:
        assert 0 <= f <= l < p.shape[0] and f > prev
        prev = l


def test_empty_and_all_blank():
    cs = ["", "a"]
    assert beam_decode(np.zeros((0, 2), np.float32), cs) == []
    p = np.tile(np.array([[1.0, 0.0]], np.float32), (10, 1))
    assert beam_decode(p, cs, CharLM.for_lang("zh")) == []


def test_bad_shapes():
    with pytest.raises(ValueError):
        beam_decode(np.zeros(5, np.float32), ["", "a"])
    with pytest.raises(ValueError):
        beam_decode(np.zeros((3, 2), np.float32), ["", "a"], allowed=np.ones(3, bool))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(0, 2**31 - 1), st.sampled_from(["zh", "ja"]),
       st.floats(-0.5, 0.5), st.floats(0.0, 1.0))
def test_lazy_lm_lookup_gives_the_same_result(T, seed, lang, first_weight, lm_weight):
    # LM terms are looked up only for hypotheses that could be kept; the result must not change
    rng = np.random.default_rng(seed)
    cs = [""] + list("的一是了我不人在有这中大来上国个到说们为子和你地出道也时年のにてはがたとしい")
    p = rng.dirichlet(np.full(len(cs), 0.2), size=T).astype(np.float32)
    lm = CharLM.for_lang(lang)
    kw = dict(beam_width=4, prune_top=4, lm_weight=lm_weight, insertion_bonus=0.5, first_weight=first_weight)
    assert beam_decode(p, cs, lm, **kw) == beam_decode(p, cs, lm, lazy_lm=False, **kw)


def _one_char(cs, probs):
    """Three frames: blank, one character frame with class probabilities ``probs``, blank."""
    p = np.full((3, len(cs)), 1e-6, np.float32)
    p[0, 0] = p[2, 0] = 1.0
    for c, v in probs.items():
        p[1, cs.index(c)] = v
    return p / p.sum(axis=1, keepdims=True)


def test_first_character_prior_weight_sign():
    # an isolated character read as two equally likely hanzi: a frequent one and a rare one
    lm = CharLM.for_lang("zh")
    cs = ["", "的", "宓"]
    assert lm.score("", "的") > lm.score("", "宓") + 5
    p = _one_char(cs, {"的": 0.45, "宓": 0.45, "": 0.1})
    pick = lambda w: _text(beam_decode(p, cs, lm, first_weight=w, insertion_bonus=0.2), cs)  # noqa: E731
    assert pick(0.3) == "的"  # a unigram prior favours the frequent one
    assert pick(-0.2) == "宓"  # a prior correction divides the recogniser's own bias out


@pytest.mark.parametrize("w", [-0.5, -0.2, 0.0, 0.1, 0.3])
def test_first_character_prior_never_rewards_emitting(w):
    # a faint trace of a character (blank 0.7 on its frame): no first-character weight may turn the
    # empty reading into a character, however rare (or unknown to the LM) the character is
    lm = CharLM.for_lang("zh")
    cs = ["", "宓", "\U0002A6A5"]
    for ch in cs[1:]:
        p = _one_char(cs, {"": 0.7, ch: 0.3})
        assert beam_decode(p, cs, lm, first_weight=w, insertion_bonus=0.0) == []


def _one_weak(seq: str, at: int, peak: float, alt: str = "") -> tuple[np.ndarray, list[str]]:
    """One frame per character (blanks between); character ``at`` is a single-frame peak of ``peak``,
    the rest of that frame on the blank (and ``alt``, if given)."""
    p, cs, idx = _clean(seq, alt)
    t = 2 * at + 1
    p[t, idx[seq[at]]], p[t, 0] = peak, (1 - peak) / (2 if alt else 1)
    if alt:
        p[t, idx[alt]] = (1 - peak) / 2
    return p / p.sum(axis=1, keepdims=True), cs


@pytest.mark.parametrize("peak", [0.74, 0.55])
@pytest.mark.parametrize("lang, seq, at, alt", [
    ("zh", "我们今天去公园散步", 4, ""),     # the old fusion (weight 0.3, bonus 0.5, no cap) read 我们今天公园散步
    ("zh", "我们今天鼗公园散步", 4, ""),     # a rare character, no context for it
    ("zh", "我们今天去公园散步", 4, "云"),
    ("ja", "わたしはがっこうへいきます", 5, ""),  # the old fusion dropped the small っ at 0.55
    ("ja", "わたしはがっこうへいきます", 5, "つ"),
])
def test_shipped_fusion_never_deletes_a_confident_character(lang, seq, at, alt, peak):
    from hwocr.beam import PARAMS

    p, cs = _one_weak(seq, at, peak, alt)
    assert _text(beam_decode(p, cs, CharLM.for_lang(lang), **PARAMS[lang].kwargs()), cs) == seq


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(list("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年鼗鼙氐氏")), min_size=1,
                max_size=10), st.floats(0.5, 0.99), st.integers(0, 2**31 - 1))
def test_relative_lm_keeps_every_unambiguous_character(chars, peak, seed):
    """Relative LM terms only rank the recogniser's own candidates: with one candidate per frame
    (the rest on the blank), beam with the LM reads what beam without it reads, whatever the LM
    thinks of the characters (an absolute LM term deletes unlikely ones)."""
    from hwocr.beam import PARAMS

    rng = np.random.default_rng(seed)
    seq = "".join(c for i, c in enumerate(chars) if i == 0 or c != chars[i - 1])  # 的的 is summed over paths
    cs = [""] + list(dict.fromkeys(seq))
    idx = {c: i for i, c in enumerate(cs)}
    p = np.full((2 * len(seq) + 1, len(cs)), 1e-5, np.float32)
    p[:, 0] = 1.0
    for i, ch in enumerate(seq):
        pk = float(rng.uniform(peak, 0.995))
        p[2 * i + 1, 0], p[2 * i + 1, idx[ch]] = 1 - pk, pk
    p /= p.sum(axis=1, keepdims=True)
    kw = {**PARAMS["zh"].kwargs(), "relative": True, "lm_cap": math.inf, "first_weight": 0.0, "insertion_bonus": 0.0}
    no_lm = {k: kw[k] for k in ("beam_width", "prune_top")}
    assert _text(beam_decode(p, cs, CharLM.for_lang("zh"), **kw), cs) == _text(beam_decode(p, cs, None, **no_lm), cs)
