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


def test_shipped_models_carry_their_sources_licences():
    for lang in ("zh", "ja"):
        meta = CharLM.for_lang(lang).meta
        assert meta["lang"] == lang
        srcs = meta["sources"]
        assert srcs and all(s["licence"] and s["attribution"] and s["source"] for s in srcs)
        assert abs(sum(s["share"] for s in srcs) - 1) < 0.01
        for s in srcs:  # the file's licence names every source's licence
            for part in s["licence"].split(" AND "):
                assert part in meta["licence"]
    from importlib import resources

    text = resources.files("hwocr").joinpath("data", "lm-LICENSE.txt").read_text("utf-8")
    for lang in ("zh", "ja"):  # the licence texts shipped beside the files cover their licences
        lic = CharLM.for_lang(lang).meta["licence"]
        assert f"lm-{lang}.bin: {lic.split(' AND ')[0]}" in text
        for name in ("GPL-3.0", "LGPL-2.1", "CC-BY-SA-4.0"):
            assert name not in lic or name in text
    assert "GNU GENERAL PUBLIC LICENSE" in text and "GNU LESSER GENERAL PUBLIC LICENSE" in text


def test_everyday_sentences_score_better_than_the_same_characters_shuffled():
    rng = np.random.default_rng(3)
    for lang, sents in [("zh", ["我今天很高兴认识你。", "明天下午我们去商店买东西", "请问火车站怎么走？"]),
                        ("ja", ["今日はいい天気ですね", "明日の会議は何時からですか", "駅まで歩いて行きます"])]:
        lm = CharLM.for_lang(lang)
        for s in sents:
            shuffled = "".join(rng.permutation(list(s)))
            assert lm.log_prob(s) > lm.log_prob(shuffled) + 5, (lang, s, shuffled)


# --------------------------------------------------------------------------- build-time tools

def _scripts():
    import sys
    from pathlib import Path

    p = str(Path(__file__).resolve().parents[1] / "scripts")
    if p not in sys.path:
        sys.path.insert(0, p)


ARPA = """
\\data\\
ngram 1=5
ngram 2=3

\\1-grams:
-0.30103\ta\t-0.30103
-0.60206\tb\t0
-0.60206\t</s>\t0
-99\t<s>\t-0.1
-1.5\t<unk>\t0

\\2-grams:
-0.30103\ta b
-0.69897\ta a
-0.30103\t<s> a

\\end\\
"""


def test_backoff_sampler_draws_the_models_distribution(tmp_path):
    _scripts()
    from lm_sampler import _draw, read_arpa, sample_lines
    import random

    p = tmp_path / "m.arpa"
    p.write_text(ARPA)
    lm = read_arpa(p)
    a, b, eos = (lm.word_id(t) for t in ("a", "b", "</s>"))
    rng = random.Random(0)
    draws = [_draw(lm, (), rng) for _ in range(20000)]
    uni = {a: 0.5, b: 0.25, eos: 0.25}  # <unk> is never drawn, <s> has no probability
    for w, want in uni.items():
        assert abs(draws.count(w) / len(draws) - want) < 0.015
    bos = lm.word_id("<s>")
    draws = [_draw(lm, (bos,), rng) for _ in range(20000)]
    # explicit a = 0.5; backed-off mass 0.5 spread over b and </s> only (a is excluded): 0.25 each
    for w, want in {a: 0.5, b: 0.25, eos: 0.25}.items():
        assert abs(draws.count(w) / len(draws) - want) < 0.015
    draws = [_draw(lm, (a,), rng) for _ in range(20000)]
    # explicit b 0.5 and a 0.2; the rest (0.3) backs off, and only </s> is not explicit there
    for w, want in {a: 0.2, b: 0.5, eos: 0.3}.items():
        assert abs(draws.count(w) / len(draws) - want) < 0.015
    one = sample_lines(lm, 500, seed=5)
    assert one == sample_lines(lm, 500, seed=5) and one != sample_lines(lm, 500, seed=6)
    assert set("".join(one)) <= {"a", "b"}


def test_interpolated_model_is_the_mixture_and_normalised(tmp_path):
    _scripts()
    import build_lm as bl

    rng = np.random.default_rng(0)
    t1 = ["".join(rng.choice(list("abcde"), size=12, p=[.4, .3, .1, .1, .1])) for _ in range(400)]
    t2 = ["".join(rng.choice(list("cdefg"), size=12)) for _ in range(400)]
    m1, m2 = (bl.build_model(t, 3, {1: 1, 2: 1, 3: 2}, verbose=False) for t in (t1, t2))
    mix = bl.interpolate_models([m1, m2], [0.3, 0.7], verbose=False)
    for gs in (["ab", "ca", "ff", "\x02a"], ["abc", "efg", "ggf", "\x02ab"]):
        C = np.array([[ord(x) for x in g] for g in gs], np.uint32)
        want = 0.3 * np.exp(bl._lookup_rows(m1["tables"], C, m1["unk_logp"])) \
            + 0.7 * np.exp(bl._lookup_rows(m2["tables"], C, m2["unk_logp"]))
        got = np.exp(bl._lookup_rows(mix["tables"], C, mix["unk_logp"]))
        assert np.allclose(got, want, rtol=1e-6), (C, got, want)
    path = tmp_path / "mix.bin"
    bl.write_lm(path, mix)
    lm = CharLM.load(path)
    vocab = list("abcdefg")
    rest = bl.UNK_VOCAB - len(vocab)  # symbols never seen share the floor probability
    for ctx in ["", "a", "ab", "gg", "\x02"]:
        total = float(np.exp(lm.score_many(ctx, vocab)).sum()) + rest * float(np.exp(lm.score(ctx, "z")))
        assert 0.97 < total < 1.03, (ctx, total)
