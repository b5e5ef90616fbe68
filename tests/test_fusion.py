"""An isolated character read in more than one view (``InputSpec.char_views``, ``hwocr.fusion``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwocr.decode import greedy
from hwocr.fusion import fuse, peak_distribution
from hwocr.preprocess import char_views
from hwocr.registry import OMZ_INPUT, PPOCR_REC

from conftest import EVAL, needs_shared, stroke_line


def _post(reads: list[dict[int, float]], classes: int = 6, frames_per: int = 3) -> np.ndarray:
    """T x C posteriors: blank frames around each character, whose peak frame holds ``reads[k]``
    (class -> probability, the rest on the blank)."""
    rows = [np.eye(classes)[0]]
    for r in reads:
        for f in range(frames_per):
            row = np.zeros(classes)
            scale = 1.0 if f == frames_per // 2 else 0.8
            for c, p in r.items():
                row[c] = p * scale
            row[0] = 1 - row.sum()
            rows.append(row)
        rows.append(np.eye(classes)[0])
    return np.array(rows, dtype=np.float32)


def test_a_view_that_reads_the_character_better_decides_which_it_is():
    crop = _post([{1: 0.5, 2: 0.4}])  # reads 1, 2 close behind
    view = _post([{2: 0.8, 1: 0.1}], frames_per=4)  # another width: other frames
    out = fuse(crop, [view])
    assert [e.cls for e in greedy(crop)] == [1] and [e.cls for e in greedy(out)] == [2]
    np.testing.assert_array_equal(out[:, 0], crop[:, 0])  # each frame keeps its blank probability
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    # the character's distribution is the mean of the two peak distributions (blank left out)
    mean = (peak_distribution(crop) + peak_distribution(view)) / 2
    peak = greedy(out)[0].peak
    np.testing.assert_allclose(out[peak, 1:] / out[peak, 1:].sum(), mean[1:], rtol=1e-5)
    # where the character is stays the crop's
    assert (greedy(out)[0].t0, greedy(out)[0].t1) == (greedy(crop)[0].t0, greedy(crop)[0].t1)


@pytest.mark.parametrize("crop, view", [
    ([{1: 0.6}, {3: 0.7}], [{2: 0.9}]),  # the crop reads two characters
    ([{1: 0.6}], [{2: 0.9}, {3: 0.9}]),  # the view reads two
    ([{1: 0.6}], []),  # the view reads none
    ([], [{2: 0.9}]),  # the crop reads none
])
def test_views_never_decide_how_many_characters(crop, view):
    p = _post(crop)
    assert fuse(p, [_post(view)]) is p


def test_no_views_is_the_crop_itself():
    p = _post([{1: 0.6}])
    assert fuse(p, []) is p


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.floats(0.55, 0.95)), min_size=2, max_size=4))
def test_the_fused_reading_is_the_most_probable_class_of_the_mean(reads):
    posts = [_post([{c: p}]) for c, p in reads]
    out = fuse(posts[0], posts[1:])
    mean = np.mean([peak_distribution(q) for q in posts], axis=0)
    got = greedy(out)
    if got:  # a frame may now be read as blank: then the line reads nothing here (decoding guesses)
        assert got[0].cls == int(np.argmax(mean))
    assert np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_an_isolated_character_gets_views_with_a_margin_all_round():
    spec = PPOCR_REC.input
    assert spec.char_views and OMZ_INPUT.char_views == ()  # the reference stays faithful
    crop = np.full((60, 50, 3), (240, 235, 230), np.uint8)
    crop[20:40, 10:40] = 20
    (view,) = char_views(crop, replace(spec, char_views=(0.2,)))
    m = 12  # 0.2 of the height
    assert view.shape == (60 + 2 * m, 50 + 2 * m, 3)
    assert np.array_equal(view[m : m + 60, m : m + 50], crop)
    assert (view[:m] == (240, 235, 230)).all() and (view[:, :m] == (240, 235, 230)).all()
    assert len(char_views(crop, replace(spec, char_views=(0.2, 0.4)))) == 2
    assert char_views(crop, replace(spec, char_views=())) == []
    line = np.full((60, int(60 * spec.char_aspect) + 1, 3), 240, np.uint8)
    assert char_views(line, spec) == []  # a line is read once


def test_views_change_isolated_characters_only(ja_reader):
    """A line reads exactly as with no views; an isolated character reads as fusing its posteriors
    by hand; in one batch with others, each reads as alone."""
    from hwocr import Reader

    spec = ja_reader.engine.info.input
    line = stroke_line(8, 48, seed=3)
    char = stroke_line(1, 64, seed=5)
    assert char_views(char, spec) and not char_views(line, spec)
    off = Reader(lang="ja", ensemble=False)
    off.engine.info = replace(off.engine.info, input=replace(spec, char_views=()))
    plain_line, plain_char = off.posteriors([line, char])
    views = [off.posteriors([v])[0].probs[0] for v in char_views(char, spec)]
    on = Reader(lang="ja", ensemble=False)
    got_line, got_char = on.posteriors([line, char])
    np.testing.assert_array_equal(got_line.probs[0], plain_line.probs[0])
    assert got_line.views == () and len(got_char.views) == len(views)
    np.testing.assert_array_equal(got_char.probs[0], plain_char.probs[0])
    np.testing.assert_array_equal(on.window_probs(got_char)[0], fuse(plain_char.probs[0], views))
    batch = on.read_arrays([char, line, char[:, ::-1].copy()])
    alone = [on.read_arrays([x])[0] for x in (char, line, char[:, ::-1].copy())]
    assert [r.text for r in batch] == [r.text for r in alone]
    assert [r.confidence for r in batch] == pytest.approx([r.confidence for r in alone], abs=1e-6)


def test_auto_fuses_a_character_as_the_reader_forced_to_its_language(ja_reader, zh_reader):
    """With lang auto, a character's crop and view are restricted to the line's language before they
    are fused: the same probabilities (and reading) as the reader forced to that language, not a
    restriction of what the both-language head fused."""
    from hwocr import Reader

    auto = Reader(lang="auto", ensemble=False)
    chars = [stroke_line(1, 64, seed=s) for s in range(4)]
    posts = auto.posteriors(chars)
    assert all(p.views for p in posts)
    for lang, forced in (("ja", ja_reader), ("zh", zh_reader)):
        cols = [auto.charset.index(c) for c in forced.charset]
        for post, own in zip(posts, forced.posteriors(chars)):
            mine, theirs = auto.window_probs(post, lang)[0], forced.window_probs(own)[0]
            assert mine.shape[1] == len(cols)  # the language's own columns, in the same order
            np.testing.assert_allclose(mine, theirs, atol=1e-5)
            assert auto.decode(post, lang).text == forced.decode(own).text


@needs_shared(EVAL / "ja-chars")
def test_views_read_real_characters_better():
    """Golden: on every fourth ETL8B2 character of ``../shared/eval/ja-chars`` (230), v6 alone (greedy,
    f32) reads more with its view than without (the whole set, and the pipeline: README)."""
    from hwocr import Reader
    from hwocr.imageio import load_image
    from hwocr.metrics import read_labels, score

    rows = read_labels(EVAL / "ja-chars")[::4]
    rgbs = [load_image(p).rgb for p, _ in rows]
    refs = [t for _, t in rows]
    on = Reader(lang="ja", decoder="greedy", ensemble=False)
    off = Reader(lang="ja", decoder="greedy", ensemble=False)
    off.engine.info = replace(off.engine.info, input=replace(off.engine.info.input, char_views=()))
    a_on = score([r.text for r in on.read_arrays(rgbs)], refs).accuracy
    a_off = score([r.text for r in off.read_arrays(rgbs)], refs).accuracy
    assert a_on > a_off


def test_a_huge_character_photo_costs_a_small_view():
    """A 6000 x 6000 photo of one character: its view is built from a copy scaled to a few times the
    model's height, not from the photo (which would hold twice its pixels again)."""
    from hwocr.preprocess import VIEW_HEIGHTS

    spec = PPOCR_REC.input
    big = np.full((6000, 6000, 3), 245, np.uint8)
    big[1500:4500, 2000:4000] = 30
    (view,) = char_views(big, spec)
    side = VIEW_HEIGHTS * spec.height
    m = round(spec.char_views[0] * side)
    assert view.shape == (side + 2 * m, side + 2 * m, 3)
    assert view[m + side // 2, m + side // 2].max() < 60 and view[2, 2].min() > 240  # ink in the middle


def test_views_can_be_turned_off_for_the_built_in_models():
    """``--input-spec char_views=[]`` (``Reader(input_spec=...)``) reaches the built-in recogniser and
    the ensemble's second model; a built-in model's input size cannot be overridden."""
    from hwocr import Reader
    from hwocr.errors import ModelError

    r = Reader(lang="ja", input_spec="char_views=[]")
    assert r.engine.info.input.char_views == ()
    assert r._ensemble is None or r._ensemble.second.engine.info.input.char_views == ()
    char = stroke_line(1, 64, seed=5)
    (post,) = r.posteriors([char])
    plain = Reader(lang="ja", ensemble=False)
    plain.engine.info = replace(plain.engine.info, input=replace(plain.engine.info.input, char_views=()))
    assert post.views == ()
    np.testing.assert_array_equal(post.probs[0], plain.posteriors([char])[0].probs[0])
    with pytest.raises(ModelError, match="graph's own"):
        Reader(lang="ja", input_spec={"height": 32})
