"""Traditional kanji against their Japanese forms (hwocr.variants): the shipped pairs, their costs, and
the beam decoder's use of them."""

from __future__ import annotations

import numpy as np

from hwocr.beam import PARAMS, beam_decode
from hwocr.lm import CharLM
from hwocr.variants import CAP, pair_costs, pairs


def _jis(c: str) -> bool:
    try:
        return len(c.encode("shift_jis")) == 2
    except UnicodeEncodeError:
        return False


def test_the_shipped_pairs():
    got = dict(pairs())
    assert len(got) == 310 and got["讓"] == "譲" and got["壤"] == "壌" and got["儉"] == "倹"
    assert all(t != j and _jis(t) and _jis(j) for t, j in got.items())


def test_costs_follow_how_often_japanese_writes_each_form():
    lm = CharLM.for_lang("ja")
    cs = ["", "讓", "譲", "凛", "凜", "澤", "沢", "あ"]
    cost = pair_costs(cs, lm, 1.0)
    u = dict(zip(cs[1:], lm.score_pairs([""] * 7, cs[1:])))
    assert cost[1] == min(CAP, u["譲"] - u["讓"]) > 4  # 讓 is rare in Japanese
    assert cost[2] == cost[4] == cost[6] == cost[7] == 0 and cost[0] == 0  # Japanese forms, kana, blank
    assert cost[3] == 0 and 0 < cost[5] < cost[1] / 4  # Japanese writes 凛 more than 凜; 澤 (names) far more than 讓
    assert pair_costs(cs, lm, 0.0) is None and pair_costs(["", "あ"], lm, 1.0) is None
    assert np.allclose(pair_costs(cs, lm, 0.5), cost / 2)


def _one_char(probs: dict[int, float], cs: list[str]) -> np.ndarray:
    p = np.full((5, len(cs)), 1e-6)
    p[[0, 1, 3, 4], 0] = 1.0
    for c, v in probs.items():
        p[2, c] = v
    p[2, 0] = 1e-3
    return p / p.sum(axis=1, keepdims=True)


def test_the_beam_reads_the_japanese_form_unless_the_traditional_one_is_sure():
    lm = CharLM.for_lang("ja")
    cs = ["", "讓", "譲", "澤", "沢"]
    kw = {**PARAMS["ja"].kwargs(), "costs": pair_costs(cs, lm, 1.0)}
    read = lambda p, **k: "".join(cs[c] for c, _, _ in beam_decode(p, cs, lm, **{**kw, **k}))
    p = _one_char({1: 0.9, 2: 0.1}, cs)
    assert read(p) == "譲" and read(p, costs=None) == "讓"
    assert read(_one_char({3: 0.999, 4: 0.001}, cs)) == "澤"  # a name written in its traditional form
    assert read(_one_char({1: 0.999}, cs)) == "讓"  # no Japanese form in sight: nothing to prefer


def test_the_default_reader_reads_japanese_forms_and_greedy_is_untouched():
    """The shipped Japanese beam carries the costs (its charset's traditional forms); greedy has none."""
    from hwocr import Reader

    r = Reader(lang="ja", ensemble=False)
    cs = r.charset
    p = np.full((5, len(cs)), 1e-7, np.float32)
    p[[0, 1, 3, 4], 0] = 1.0
    p[2, cs.index("讓")], p[2, cs.index("譲")] = 0.75, 0.25
    p /= p.sum(axis=1, keepdims=True)
    assert PARAMS["ja"].variant_weight > 0 and PARAMS["zh"].variant_weight == 0
    assert [cs[c] for c, _, _ in r._beams["ja"](p)] == ["譲"]
    assert [cs[e.cls] for e in r.with_decoder("greedy")._emissions(p, "ja")] == ["讓"]
