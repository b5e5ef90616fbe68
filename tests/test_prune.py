"""Cutting the classifier head to a language gives the same restricted probabilities as masking."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import EVAL, stroke_line
from hwocr.engines import factory


@pytest.fixture(scope="module")
def readers():
    from hwocr import Reader

    pruned = Reader(lang="ja", decoder="greedy")
    orig = factory.prune_head
    factory.prune_head = lambda model, keep: False  # force the fallback: mask in numpy
    try:
        masked = Reader(lang="ja", decoder="greedy")
    finally:
        factory.prune_head = orig
    return pruned, masked


def test_head_is_cut_to_the_language(readers):
    pruned, masked = readers
    assert pruned.engine.info.pruned and pruned.mask is None
    assert not masked.engine.info.pruned and masked.mask is not None
    kept = [c for c, m in zip(masked.charset, masked.mask) if m]
    assert list(pruned.charset) == kept
    assert len(pruned.charset) < len(masked.charset) / 2


def test_same_results_as_masking(readers):
    pruned, masked = readers
    lines = [stroke_line(n, h=48, seed=n) for n in (1, 3, 7)]
    real = sorted((EVAL / "zh-lines").glob("*.jpg"))[:6] if EVAL.exists() else []
    for a, b in zip(pruned.read_batch([*lines, *real]), masked.read_batch([*lines, *real])):
        assert a.text == b.text
        assert np.allclose([c.confidence for c in a.chars], [c.confidence for c in b.chars], atol=1e-4)
        assert np.allclose([c.x0 for c in a.chars], [c.x0 for c in b.chars])


def test_pruning_refuses_an_unknown_head_shape():
    import openvino as ov
    import openvino.opset13 as ops

    from hwocr.engines.prune import prune_head

    x = ops.parameter([1, 4, 3], np.float32)
    model = ov.Model([ops.relu(x)], [x])
    assert prune_head(model, np.array([0, 1])) is False
