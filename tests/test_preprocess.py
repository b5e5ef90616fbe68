"""Preprocessing reproduces the reference exactly and never crops or crashes on long lines."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwocr.preprocess import make_windows, split_offsets
from hwocr.registry import MODELS, OMZ_INPUT, PPOCR_REC


def omz_reference(gray: np.ndarray) -> np.ndarray:
    """The OMZ demo's preprocess_input, verbatim in behaviour (FACTS.md section 5)."""
    h, w = gray.shape
    tw = int(96 * (w / h))
    img = cv2.resize(gray, (tw, 96), interpolation=cv2.INTER_AREA).astype(np.float32)
    img = img[None]
    img = np.pad(img, ((0, 0), (0, 96 - img.shape[1]), (0, 2000 - tw)), mode="edge")
    return img[None]


def test_omz_preprocessing_matches_reference():
    rng = np.random.default_rng(1)
    for w, h in [(850, 146), (1250, 115), (300, 40), (97, 96)]:
        gray = (rng.random((h, w)) * 255).astype(np.uint8)
        rgb = np.repeat(gray[:, :, None], 3, 2)
        (win,) = make_windows(rgb, OMZ_INPUT)
        assert np.array_equal(win.tensor[None], omz_reference(gray))


def test_omz_spec_is_in_the_registry():
    for m in MODELS.values():
        assert m.input == OMZ_INPUT and m.input.fixed_width == 2000 and m.input.pad == "edge"


def test_wide_omz_line_is_split_not_cropped():
    rgb = np.full((48, 3000, 3), 255, np.uint8)  # 6000 px wide at height 96
    wins = make_windows(rgb, OMZ_INPUT)
    assert len(wins) >= 4
    assert all(w.tensor.shape == (1, 96, 2000) for w in wins)
    assert wins[0].own[0] == 0 and wins[-1].own[1] == wins[0].line_width
    for a, b in zip(wins, wins[1:]):
        assert a.own[1] == b.own[0]  # ownership tiles the line
        assert a.offset + 2000 > b.offset  # windows overlap


def test_extreme_line_100000_by_20():
    rgb = np.full((20, 100_000, 3), 255, np.uint8)
    wins = make_windows(rgb, PPOCR_REC.input)
    assert wins[-1].offset + wins[-1].valid == wins[0].line_width
    assert all(w.tensor.shape[2] <= PPOCR_REC.input.max_width for w in wins)


def test_ppocr_padding_is_a_function_of_the_line_alone():
    spec = PPOCR_REC.input
    rgb = np.full((40, 123, 3), 200, np.uint8)
    (w,) = make_windows(rgb, spec)
    assert w.tensor.shape[0] == 3 and w.tensor.shape[1] == 48
    assert w.tensor.shape[2] % spec.width_multiple == 0 and w.tensor.shape[2] >= spec.min_width
    assert np.all(w.tensor[:, :, w.valid:] == 0)  # zero padding after normalisation
    assert np.isclose(w.tensor[0, 0, 0], (200 - 127.5) / 127.5)


@given(st.integers(1, 50_000), st.integers(50, 4000))
@settings(max_examples=300, deadline=None)
def test_split_offsets_cover_everything_with_overlap(total, win):
    offs = split_offsets(total, win)
    assert offs[0] == 0
    assert offs[-1] + win >= total if total > win else offs == [0]
    for a, b in zip(offs, offs[1:]):
        assert b > a and b - a <= win - int(win * 0.2)


def test_quiet_zone_is_background_on_both_sides_and_maps_back():
    spec = PPOCR_REC.input
    assert spec.side_margin > 0 and OMZ_INPUT.side_margin == 0  # the reference stays faithful
    rgb = np.full((40, 200, 3), (230, 220, 210), np.uint8)
    rgb[:, :3] = 0  # ink touching the left edge must not become the border colour
    (w,) = make_windows(rgb, spec)
    m = int(round(spec.side_margin * 40)) * w.scale  # scaled quiet-zone width
    bg = (np.array([210, 220, 230]) - 127.5) / 127.5  # BGR, normalised
    assert np.allclose(w.tensor[:, :, : int(m) - 1].mean(axis=(1, 2)), bg, atol=1e-3)
    assert w.tensor[:, :, int(m) + 1].max() < -0.9  # the ink comes right after the quiet zone
    assert w.to_line_x(w.origin) == 0 and np.isclose(w.to_line_x(w.line_width - w.origin), 200)
    assert w.to_line_x(0) == 0 and w.to_line_x(w.line_width) == 200  # clamped to the image


def test_lines_are_narrowed_single_characters_are_not():
    from dataclasses import replace

    shipped = PPOCR_REC.input
    (w,) = make_windows(np.full((40, 400, 3), 255, np.uint8), shipped)
    assert w.line_width == int(np.ceil(48 * (400 + 2 * round(shipped.side_margin * 40)) / 40))  # shipped: off
    spec = replace(shipped, squeeze_above=6.67)  # narrowing above PaddleOCR's 320 x 48 canvas, when on
    m = int(round(spec.side_margin * 40))
    line = np.full((40, 400, 3), 255, np.uint8)
    (w,) = make_windows(line, spec)
    assert w.line_width == int(np.ceil(48 * (400 + 2 * m) * spec.line_squeeze / 40))
    assert np.isclose(w.to_line_x(w.line_width - w.origin), 400)  # spans still map to the original
    char = np.full((40, 44, 3), 255, np.uint8)
    (c,) = make_windows(char, spec)
    assert c.line_width == int(np.ceil(48 * (44 + 2 * m) / 40))


def _bars(width: int, ink: int = 0, paper: int = 255) -> np.ndarray:
    img = np.full((48, 200), paper, np.uint8)
    img[8:40, 40 : 40 + width] = ink
    img[20 : 20 + width, 90:180] = ink
    return img


@pytest.mark.parametrize("width", [3, 4, 6, 8])
def test_stroke_width_is_measured(width):
    from hwocr.preprocess import ink_mask, stroke_width

    assert abs(stroke_width(ink_mask(_bars(width))) - width) <= 0.6 * width**0.5


def test_thin_strokes_are_thickened_others_kept():
    from hwocr.preprocess import ink_mask, stroke_width, thicken

    thin = _bars(1)
    grown = thicken(thin, 3.0)
    assert stroke_width(ink_mask(grown)) > stroke_width(ink_mask(thin)) + 0.9
    assert (grown <= thin).all()  # dark ink grows, paper only darkens
    assert np.array_equal(thicken(_bars(5), 3.0), _bars(5))  # already thick enough
    blank = np.full((48, 200), 250, np.uint8)
    assert np.array_equal(thicken(blank, 3.0), blank)
    light_on_dark = thicken(_bars(1, ink=255, paper=0), 3.0)  # chalk on a blackboard grows too
    assert (light_on_dark >= _bars(1, ink=255, paper=0)).all() and light_on_dark.sum() > _bars(1, 255, 0).sum()


def _char(h: int, w: int, top: int = 0, bottom: int = 0, paper=(240, 235, 230)) -> np.ndarray:
    """A character-like crop: a box and a bar of ink from row ``top`` to ``h - bottom``."""
    img = np.full((h, w, 3), paper, np.uint8)
    img[top : h - bottom, w // 4 : w // 4 + max(1, w // 12)] = 20
    img[top : top + max(1, h // 12), w // 8 : w - w // 8] = 20
    img[h - bottom - max(1, h // 12) : h - bottom, w // 8 : w - w // 8] = 20
    return img


def test_a_character_cut_to_its_ink_gets_room_above_and_below():
    """CASIA / ETL characters and pen input are cut to their ink; they are read with background
    added above and below until the ink fills ``char_fill`` of the height, centred."""
    from hwocr.preprocess import add_head_room, count_windows

    spec = PPOCR_REC.input
    assert spec.char_fill < 1 and OMZ_INPUT.char_fill == 1  # the reference stays faithful
    tight = _char(60, 56)
    roomy = add_head_room(tight, spec)
    pad = int(np.ceil(60 / spec.char_fill)) - 60
    assert roomy.shape == (60 + pad, 56, 3)
    assert np.array_equal(roomy[pad // 2 : pad // 2 + 60], tight)  # the crop itself, untouched, centred
    assert (roomy[: pad // 2] == (240, 235, 230)).all() and (roomy[pad // 2 + 60 :] == (240, 235, 230)).all()
    (w,) = make_windows(tight, spec)
    assert w.line_width == int(np.ceil(48 * (56 + 2 * round(spec.side_margin * (60 + pad))) / (60 + pad)))
    assert count_windows(56, 60, spec) == 1
    # a huge photo of one character: measured on a small copy, same proportion
    big = cv2.resize(tight, (56 * 50, 60 * 50), interpolation=cv2.INTER_NEAREST)
    assert abs(add_head_room(big, spec).shape[0] / 3000 - roomy.shape[0] / 60) < 0.02


def test_lines_roomy_characters_and_blanks_are_left_as_they_are():
    from hwocr.preprocess import add_head_room

    spec = PPOCR_REC.input
    line = _char(60, int(60 * spec.char_aspect) + 1)  # just wider than a character crop
    assert add_head_room(line, spec) is line
    roomy = _char(60, 56, top=6, bottom=6)  # ink on 80% of the height already
    assert add_head_room(roomy, spec) is roomy
    blank = np.full((60, 56, 3), 250, np.uint8)
    assert add_head_room(blank, spec) is blank
    tight = _char(60, 56)
    assert add_head_room(tight, OMZ_INPUT) is tight
