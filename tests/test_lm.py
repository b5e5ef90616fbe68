"""Character n-gram LM: loading, scoring, normalisation (no network, fast)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from hwocr.errors import ModelError
from hwocr.lm import CharLM, norm_text


@pytest.fixture(scope="module", params=["zh", "ja"])
def lm(request):
    return CharLM.for_lang(request.param)


def test_load_is_fast(tmp_path):
    from importlib import resources

    data = resources.files("hwocr").joinpath("data", "lm-zh.bin").read_bytes()
    p = tmp_path / "lm.bin"
    p.write_bytes(data)
    t = time.perf_counter()
    m = CharLM.load(p)
    assert time.perf_counter() - t < 0.3
    assert 3 <= m.order <= 5


def test_scores_are_finite_log_probs(lm):
    for ctx, c in [("", "的"), ("我们", "的"), ("", "の"), ("これは", "ペ"), ("abc", "d"), ("", "\U0002a6a5"), ("", "😀")]:
        s = lm.score(ctx, c)
        assert math.isfinite(s) and s <= 0.0


def test_distribution_roughly_normalised(lm):
    import unicodedata

    vocab = [chr(o) for o in range(0x3041, 0x30FF)] + [chr(o) for o in range(0x4E00, 0x9FA6)]
    vocab += [chr(o) for o in range(0x21, 0x7F)] + list("、。「」，！？：；（）")
    vocab = sorted({unicodedata.normalize("NFKC", c) for c in vocab})
    for ctx in ["", "我们", "日本"]:
        total = float(np.exp(lm.score_many(ctx, vocab)).sum())
        assert 0.85 < total < 1.15, (ctx, total)


def test_nfkc_folding(lm):
    assert lm.score("", "Ａ") == lm.score("", "A")
    assert lm.score("ＡＢ", "Ｃ") == lm.score("AB", "C")
    assert lm.score("１２", "３") == lm.score("12", "3")
    assert norm_text("Ａ Ｂ") == "AB"
    assert lm.score("", " ") == 0.0  # whitespace is not modelled


def test_context_matters_and_prefers_frequent():
    zh = CharLM.for_lang("zh")
    assert zh.score("中华人", "民") > zh.score("", "民") + 2
    assert zh.score("我们", "的") > zh.score("我们", "钉")
    assert zh.log_prob("我们的国家") > zh.log_prob("我们钉国家")
    ja = CharLM.for_lang("ja")
    assert ja.score("ありがと", "う") > ja.score("ありがと", "ペ")
    assert ja.log_prob("日本語") > ja.log_prob("日本詰")


def test_score_many_and_pairs_match_score(lm):
    chars = list("的一是了我不人在のにてはがたＡ12、。ペ") + ["", "ab"]
    ctxs = ["", "我", "我们", "中华人", "日本", "ＡＢ", "xyz", "。"]
    for ctx in ctxs:
        many = lm.score_many(ctx, chars)
        single = [lm.score(ctx, c) for c in chars]
        assert np.allclose(many, single)
    cs = [lm.next_context("", c) for c in ctxs]
    pairs = lm.score_pairs([cs[i % len(cs)] for i in range(len(chars))], chars)
    assert np.allclose(pairs, [lm.score(cs[i % len(cs)], c) for i, c in enumerate(chars)])


def test_score_pairs_on_a_cold_cache_matches_score(lm):
    # many pairs, contexts repeated and new, the context caches emptied first
    rng = np.random.default_rng(7)
    alphabet = list("的一是了我不人在有这中大来上国个到说们为のにてはがたＡ12、。ペ")
    ctxs = [lm.next_context("", "".join(rng.choice(alphabet, size=int(rng.integers(0, 6)))))
            for _ in range(120)]
    chars = [str(rng.choice(alphabet)) for _ in ctxs]
    want = [lm.score(x, c) for x, c in zip(ctxs, chars)]
    lm._state_cache.clear()
    assert np.allclose(lm.score_pairs(ctxs, chars), want)
    assert np.allclose(lm.score_pairs(ctxs[:3], chars[:3]), want[:3])  # now from the cache
    # a full cache is emptied on the way, while the call needs both cached and new contexts
    lm._state_cache.update({f"junk{i}": ([], [], 0) for i in range(200_001)})
    fresh = lm.next_context("", "天气很")
    lm._state_cache.pop(fresh, None)
    assert np.allclose(lm.score_pairs(ctxs + [fresh], chars + ["好"]), want + [lm.score(fresh, "好")])
    assert len(lm._state_cache) < 1000


def test_only_last_order_minus_one_chars_matter(lm):
    n = lm.order - 1
    assert lm.score("一二三四五六" + "我们", "的") == lm.score(("x" * 10 + "一二三四五六" + "我们")[-n:], "的")


def test_missing_file_is_one_line_model_error(tmp_path):
    with pytest.raises(ModelError) as ei:
        CharLM.load(tmp_path / "nope.bin")
    assert "\n" not in str(ei.value) and "nope.bin" in str(ei.value)


def test_corrupt_file_is_one_line_model_error(tmp_path):
    p = tmp_path / "bad.bin"
    p.write_bytes(b"garbage" * 10)
    with pytest.raises(ModelError) as ei:
        CharLM.load(p)
    assert "\n" not in str(ei.value)
    p.write_bytes(b"HWLM2\n" + b"\x05\x00\x00\x00{}xyz")
    with pytest.raises(ModelError) as ei:
        CharLM.load(p)
    assert "\n" not in str(ei.value)


def test_unknown_language_is_model_error():
    with pytest.raises(ModelError) as ei:
        CharLM.for_lang("xx")
    assert "\n" not in str(ei.value) and "xx" in str(ei.value)
