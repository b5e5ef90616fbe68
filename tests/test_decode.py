"""CTC decoding: golden cases, the reference designated-characters filter, spans, confidences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwocr import decode as dec

CHARSET = ("", "a", "b", "c", "d")


def onehot(path: list[int], c: int = len(CHARSET), p: float = 0.9) -> np.ndarray:
    out = np.full((len(path), c), (1 - p) / (c - 1), np.float32)
    out[np.arange(len(path)), path] = p
    return out


def text(ems) -> str:
    return "".join(CHARSET[e.cls] for e in ems)


@pytest.mark.parametrize(
    "path, expected",
    [
        ([0, 0, 0], ""),
        ([1, 1, 0, 2, 2, 2, 0], "ab"),
        ([1, 0, 1], "aa"),  # a genuine double letter survives: a blank separates it
        ([1, 1, 1], "a"),  # repeats without a blank collapse
        ([0, 3, 0, 3, 3, 0, 4], "ccd"),
    ],
)
def test_greedy_golden(path, expected):
    assert text(dec.greedy(onehot(path))) == expected


def test_greedy_frames_and_peak():
    p = onehot([0, 2, 2, 2, 0])
    p[3, 2] = 0.99
    (e,) = dec.greedy(p)
    assert (e.cls, e.t0, e.t1, e.peak) == (2, 1, 3, 3)


@given(st.lists(st.integers(0, 4), min_size=1, max_size=60))
@settings(max_examples=200, deadline=None)
def test_greedy_matches_reference_collapse(path):
    import itertools

    ref = "".join(CHARSET[k] for k, _ in itertools.groupby(path) if k != 0)
    assert text(dec.greedy(onehot(path))) == ref


def test_designate_walks_top_k_like_the_reference_demo():
    p = onehot([0, 1, 0, 2, 0], p=0.6)
    p[1, 3] = 0.3  # second choice at frame 1 is 'c'
    allowed = np.array([True, False, False, True, False])
    ems = dec.designate(dec.greedy(p), p, allowed)
    # 'a' -> 'c' (allowed, in top-k); 'b' has no allowed candidate above blank order -> best allowed in top-k
    assert text(ems)[0] == "c"
    ems = dec.designate(dec.greedy(p), p, allowed, top_k=1)
    assert text(ems) == "ab"  # nothing allowed within top-1: keep the original characters


def test_restrict_masks_and_renormalises():
    p = np.array([[0.1, 0.6, 0.3, 0.0, 0.0]], np.float32)
    m = np.array([True, False, True, True, True])
    r = dec.restrict(p, m)
    assert r[0, 1] == 0 and np.isclose(r.sum(), 1) and np.isclose(r[0, 2], 0.75)
    assert dec.restrict(p, None) is p


def test_describe_confidence_spans_and_alternatives():
    p = onehot([0, 1, 1, 0, 0, 2, 0, 0, 3, 0], p=0.7)
    ems = dec.greedy(p)
    info = dec.describe(ems, p, top_k=2)
    assert [i.cls for i in info] == [1, 2, 3]
    assert all(np.isclose(i.confidence, 0.7) for i in info)
    spans = [(i.f0, i.f1) for i in info]
    assert all(a < b for a, b in spans)
    assert all(spans[k][1] == spans[k + 1][0] for k in range(2))  # contiguous, in order
    assert spans[0][0] >= 0 and spans[-1][1] <= p.shape[0]
    assert info[0].alternatives[0][0] == 1 and len(info[0].alternatives) == 2
    assert all(c != 0 for i in info for c, _ in i.alternatives)


def test_fix_peaks_from_triples():
    p = onehot([0, 1, 1, 0])
    p[2, 1] = 0.95
    (e,) = dec.fix_peaks([(1, 1, 2)], p)
    assert e.peak == 2


def test_class_mask_keeps_blank_and_space():
    m = dec.class_mask(("", "a", " ", "b"), lambda c: c == "b")
    assert m.tolist() == [True, False, True, True]


def test_describe_maps_a_flattened_grid_to_columns():
    # 2 rows x 5 columns flattened row-major (as the OMZ models' 3 x 62 map): frame 7 is column 2
    path = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
    p = onehot(path)
    (info,) = dec.describe(dec.greedy(p), p, frame_rows=2)
    assert info.f0 <= 2 < info.f1 <= 5


def test_describe_spans_stay_ordered_when_columns_go_backwards():
    p = onehot([0, 0, 0, 2, 0, 1, 0, 0])  # 'b' at column 3 of row 0, 'a' at column 1 of row 1
    info = dec.describe(dec.greedy(p), p, frame_rows=2)
    bounds = [b for i in info for b in (i.f0, i.f1)]
    assert bounds == sorted(bounds) and bounds[0] >= 0 and bounds[-1] <= 4


def test_guess_reads_the_most_probable_character_of_an_all_blank_line():
    p = np.full((6, 4), 0.0, np.float32)
    p[:, 0] = 1.0
    p[3] = [0.6, 0.1, 0.3, 0.0]  # blank wins every frame; class 2 is the best character
    p[1] = [0.9, 0.08, 0.0, 0.02]
    assert dec.greedy(p) == []
    assert dec.guess(p) == dec.Emission(2, 3, 3, 3)
    allowed = np.array([True, True, False, True])
    assert dec.guess(p, allowed) == dec.Emission(1, 3, 3, 3)
    # nothing near the floor (blank and noise images): still nothing
    assert dec.guess(p, floor=0.31) is None
    assert dec.guess(np.eye(4, dtype=np.float32)[[0, 0, 0]]) is None
