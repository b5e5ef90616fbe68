"""The line-shape check of ``hwocr read``: pages, several lines and vertical columns are noticed;
real single lines and single characters never are."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from hwocr.cli import cli
from hwocr.imageio import load_image
from hwocr.lineshape import has_ink, line_shape

from conftest import EVAL, ROOT, needs_shared

SAMPLES = ROOT / "samples"


def _rgb(p: Path) -> np.ndarray:
    return np.asarray(Image.open(p).convert("RGB"))


def stack(parts: list[np.ndarray], gap: int) -> np.ndarray:
    """Lines one under another on the first one's paper colour, left-aligned."""
    bg = int(np.median(parts[0][0]))
    w = max(p.shape[1] for p in parts)
    rows = []
    for p in parts:
        rows.append(np.pad(p, ((0, gap), (0, w - p.shape[1]), (0, 0)), constant_values=bg))
    return np.concatenate(rows)[:-gap]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> dict[str, Path]:
    zh, ja = _rgb(SAMPLES / "zh-line.png"), _rgb(SAMPLES / "ja-line.png")
    d = tmp_path_factory.mktemp("shapes")
    out = {
        "page": stack([zh, ja, zh, ja, zh], 14),  # a 5-line page
        "two": stack([zh, ja], 6),
        "column": np.rot90(zh, -1).copy(),  # a line turned upright, as a vertical column comes
    }
    paths = {k: d / f"{k}.png" for k in out}
    for k, a in out.items():
        Image.fromarray(a).save(paths[k])
    photo = Image.new("RGB", (8000, 6000), (235, 232, 225))
    photo.paste(Image.fromarray(stack([zh] * 6, 40)).resize((5436, 3480)), (1000, 1000))
    photo.save(paths.setdefault("photo", d / "photo.jpg"), quality=80)
    return paths


@pytest.mark.parametrize("name, kind", [("page", "multiline"), ("two", "multiline"), ("column", "vertical"),
                                        ("photo", "page")])
def test_compositions_are_noticed(shapes, name, kind):
    assert line_shape(load_image(shapes[name]).rgb).kind == kind


def test_read_warns_points_to_page_and_exits_3(shapes):
    r = CliRunner().invoke(cli, ["read", "--json", str(shapes["page"]), str(shapes["column"]),
                                 str(SAMPLES / "zh-line.png")])
    assert r.exit_code == 3, r.stderr
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert [bool(x["warnings"]) for x in rows] == [True, True, False]
    assert "hwocr page" in rows[0]["warnings"][0] and "--direction vertical" in rows[1]["warnings"][0]
    err = [ln for ln in r.stderr.splitlines() if ln]
    assert len(err) == 2 and all(ln.startswith("hwocr: warning: ") for ln in err)
    # the check can be switched off
    # (v6 alone: it reads the turned column as a few unconfident characters; the ensemble's vote drops
    # them, and an empty reading of an inked image is warned about, which is not what this checks)
    r = CliRunner().invoke(cli, ["read", "--no-line-check", "--no-ensemble", str(shapes["column"])])
    assert r.exit_code == 0 and not r.stderr


def test_single_lines_and_characters_pass():
    for p in SAMPLES.glob("*.png"):
        assert line_shape(_rgb(p)).ok, p


@needs_shared(EVAL / "zh-lines", EVAL / "zh-chars", EVAL / "ja-chars")
def test_no_real_line_or_character_of_the_eval_sets_is_flagged():
    """A measurement on the research sets (read in place, nothing copied): 0 of 1 373 flagged, 0 blank."""
    rgbs = {f"{d}/{p.name}": load_image(p).rgb for d in ("zh-lines", "ja-lines", "zh-chars", "ja-chars")
            for p in sorted((EVAL / d).iterdir()) if p.suffix in (".png", ".jpg")}
    assert [n for n, rgb in rgbs.items() if not line_shape(rgb).ok] == []
    assert [n for n, rgb in rgbs.items() if not has_ink(rgb)] == []  # none is taken for a blank either


def test_blank_and_empty():
    assert line_shape(np.full((60, 300, 3), 250, np.uint8)).kind == "blank"
    assert line_shape(np.full((3000, 4000, 3), 250, np.uint8)).kind == "blank"


def _blanks() -> list[np.ndarray]:
    """Blank images as users send them: uniform in any colour, paper with sensor noise, JPEG
    artefacts, uneven light."""
    rng = np.random.default_rng(3)
    out = []
    for h, w in [(48, 300), (64, 64), (100, 800), (20, 40)]:
        for v in (0, 60, 128, 230, 255):
            for sd in (0, 2, 5, 10, 20):
                a = np.clip(v + rng.normal(0, sd, (h, w, 3)), 0, 255).astype(np.uint8)
                buf = io.BytesIO()
                Image.fromarray(a).save(buf, "JPEG", quality=60)
                light = np.linspace(0.6, 1.0, w)[None, :, None]
                out += [a, np.asarray(Image.open(buf).convert("RGB")), (a * light).astype(np.uint8)]
    return out


def test_has_ink_tells_blanks_from_faint_and_inverted_lines():
    assert not any(has_ink(b) for b in _blanks())
    line = _rgb(SAMPLES / "zh-line.png")
    faint = (255 - (255 - line.astype(np.float32)) * 32 / 255).astype(np.uint8)  # ink 32 levels from the paper
    rng = np.random.default_rng(4)
    noisy = np.clip(line + rng.normal(0, 8, line.shape), 0, 255).astype(np.uint8)
    for im in (line, 255 - line, faint, noisy, np.full((40, 40, 3), 255, np.uint8) - np.eye(40, dtype=np.uint8)[..., None] * 200):
        assert has_ink(im)


def _thin(draw) -> np.ndarray:
    import cv2

    a = np.full((64, 300, 3), 255, np.uint8)
    draw(cv2, a)
    return a


#: one-pixel strokes, none touching the border, aliased as a tablet or a 1-bit scan draws them
THIN = {
    "一": lambda cv2, a: cv2.line(a, (20, 32), (280, 32), (0, 0, 0), 1, cv2.LINE_8),
    "丨": lambda cv2, a: cv2.line(a, (150, 8), (150, 56), (0, 0, 0), 1, cv2.LINE_8),
    "diagonal": lambda cv2, a: cv2.line(a, (130, 10), (170, 50), (0, 0, 0), 1, cv2.LINE_8),
    "ring": lambda cv2, a: cv2.ellipse(a, (150, 32), (20, 14), 0, 0, 360, (0, 0, 0), 1, cv2.LINE_8),
    "し": lambda cv2, a: cv2.polylines(a, [np.array([[140, 8], [140, 40], [144, 50], [154, 52], [166, 44]], np.int32)],
                                      False, (0, 0, 0), 1, cv2.LINE_8),
    "white on black": lambda cv2, a: (a.fill(0), cv2.line(a, (20, 30), (280, 34), (255, 255, 255), 1, cv2.LINE_8)),
}


@pytest.mark.parametrize("name", THIN)
def test_one_pixel_strokes_are_ink_and_specks_are_not(name):
    """A one-pixel stroke anywhere is ink (a 3 x 3 median, the earlier rule, took all of these for
    blanks); dust specks of up to 5 pixels on blank paper are not."""
    assert has_ink(_thin(THIN[name]))
    specks = np.full((64, 300, 3), 255, np.uint8)
    rng = np.random.default_rng(len(name))
    for y, x in zip(rng.integers(5, 55, 12), rng.integers(5, 290, 12)):
        specks[y : y + 1, x : x + 1 + (x % 2)] = 0  # 1 or 2 pixels each
    specks[20:22, 40:42] = 0  # and a 2 x 2 one
    assert not has_ink(specks)



def test_a_long_line_keeps_its_strokes_in_the_work_copy():
    """The check's copy is at most WORK_SIDE long unless its short side would drop below WORK_SHORT:
    a real line tiled to 16 308 x 88 px (three recognition windows) shrank to 800 x 4, lost its strokes
    and read as nothing."""
    from conftest import ROOT

    from hwocr.imageio import load_image

    line = load_image(ROOT / "samples" / "zh-line.png").rgb
    for n in (1, 18, 30):
        assert has_ink(np.tile(line, (1, n, 1))), n
    assert not has_ink(np.full((88, 20000, 3), 250, np.uint8))


@settings(max_examples=300, deadline=None)
@given(h=st.integers(8, 120), w=st.integers(8, 1200), paper=st.integers(60, 255), sigma=st.floats(0, 25),
       marks=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.integers(1, 12), st.integers(0, 255),
                                st.booleans()), max_size=4),
       seed=st.integers(0, 2**16))
def test_the_slab_shortcut_answers_as_the_whole_image_does(h, w, paper, sigma, marks, seed):
    """``has_ink`` first looks at a slab of columns; its answer is the whole image's (``ink_contrast``
    judges the whole image: ink when its peak reaches the level), marks on the slab's edges included,
    and its noise is ``np.median``'s to the bit."""
    import cv2

    from hwocr.lineshape import INK_MIN_PEAK, INK_NOISE_RATIO, _noise, ink_contrast

    rng = np.random.default_rng(seed)
    im = np.clip(paper + rng.normal(0, sigma, (h, w)), 0, 255).astype(np.uint8)
    for fy, fx, n, level, upright in marks:  # strokes of 1-12 px: some under, some over the mark size
        y, x = int(fy * (h - 1)), int(fx * (w - 1))
        if upright:
            im[y : y + n, x] = level
        else:
            im[y, x : x + n] = level
    rgb = np.repeat(im[..., None], 3, axis=2)
    peak, noise = ink_contrast(rgb)
    assert has_ink(rgb) == (peak >= max(INK_MIN_PEAK, INK_NOISE_RATIO * noise))
    assert _noise(im) == 1.4826 * float(np.median(np.abs(im.astype(np.int16) - cv2.medianBlur(im, 3))))


@pytest.mark.parametrize("h,w", [(40, 60), (91, 434), (120, 800), (33, 100)])
def test_a_slab_sees_the_neighbourhoods_of_the_whole_image(h, w):
    """Each slab pixel's deviation is the whole image's, at either edge and inside (a slab cut without
    its k // 2 extra columns differs on its edge columns)."""
    from hwocr.lineshape import SLAB_COLUMNS, _deviation_of, _median_size, _slab_deviation

    rng = np.random.default_rng(h * w)
    grey = rng.integers(0, 256, (h, w)).astype(np.uint8)
    k = _median_size(grey)
    whole = _deviation_of(grey, k)
    for c in (0, 5, w // 2, w - 3, w - 1):
        dev, x0 = _slab_deviation(grey, k, c)
        assert dev.shape == (h, SLAB_COLUMNS) and 0 <= x0 <= w - SLAB_COLUMNS
        assert np.array_equal(dev, whole[:, x0 : x0 + SLAB_COLUMNS]), c


def test_the_verdict_with_the_readers_ink_is_the_verdict_judged_here(shapes):
    """``hwocr read`` takes whether an image holds a mark from the reader (which checks it anyway) and
    does not judge it twice: the verdict is the same for pages, columns, lines, blanks of every kind
    and noise that Otsu alone takes for ink."""
    rgbs = [load_image(p).rgb for p in shapes.values()] + [_rgb(SAMPLES / "zh-line.png"), *_blanks()]
    rng = np.random.default_rng(5)
    rgbs += [np.clip(rng.normal(200, s, (60, 400, 3)), 0, 255).astype(np.uint8) for s in (20, 40, 60)]
    kinds = [line_shape(rgb).kind for rgb in rgbs]
    assert {"multiline", "vertical", "page", "line", "blank"} <= set(kinds)
    assert [line_shape(rgb, ink=True).seen(has_ink(rgb)).kind for rgb in rgbs] == kinds


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 255), st.integers(0, 255), st.floats(0, 100),
       st.integers(0, 2**31 - 1))
def test_percentile_of_the_levels_is_numpys(h, w, a, b, q, seed):
    from hwocr.lineshape import _percentile

    lo, hi = min(a, b), max(a, b) + 1
    im = np.random.default_rng(seed).integers(lo, hi, (h, w)).astype(np.uint8)
    assert _percentile(im, q) == pytest.approx(float(np.percentile(im, q)), abs=1e-9)
