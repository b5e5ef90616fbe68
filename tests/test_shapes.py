"""Bounded compiled shapes (width buckets, batch sizes), one model per language, precision choice."""

from __future__ import annotations

import numpy as np
import pytest

from hwocr.engines.precision import canonical, choose
from hwocr.errors import ModelError
from hwocr.preprocess import bucket_width, make_windows, padded_width
from hwocr.reader import BATCH_COLUMNS, batch_sizes
from hwocr.registry import PPOCR_PRECISIONS, PPOCR_REC

SPEC = PPOCR_REC.input


def _line(w: int, h: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 235, np.uint8)
    for x in range(6, w - 6, 13):
        img[8 : h - 8, x : x + 3] = rng.integers(0, 60)
    return img


def test_windows_are_padded_to_a_few_bucket_widths_with_the_quiet_zone_colour():
    widths = set()
    for w in range(20, 3000, 37):
        for win in make_windows(_line(w), SPEC):
            width = win.tensor.shape[-1]
            widths.add(width)
            assert width in SPEC.width_buckets and width >= padded_width(win.valid, SPEC)
            # the padding right of the line is the background of the line's quiet zone (left edge)
            pad = win.tensor[:, :, padded_width(win.valid, SPEC) :]
            if pad.size:
                assert np.allclose(pad, win.tensor[:, :, :1].mean(axis=1, keepdims=True), atol=0.02)
    assert len(widths) <= len(SPEC.width_buckets)
    assert bucket_width(321, SPEC) == 384 and bucket_width(4096, SPEC) == 4096 and SPEC.width_buckets[-1] == SPEC.max_width


def test_batch_sizes_are_powers_of_two_within_the_column_budget():
    for n in range(40):
        for width in (320, 640, 1280, 4096):
            sizes = batch_sizes(n, 8, width, True)
            assert sum(sizes) == n
            assert all(s & (s - 1) == 0 and s <= 8 and (s == 1 or s * width <= BATCH_COLUMNS) for s in sizes)
            assert batch_sizes(n, 6, width, False) == [min(6, n - k) for k in range(0, n, 6)]
    assert batch_sizes(13, 8, 256, True) == [8, 4, 1] and batch_sizes(5, 8, 1024, True) == [2, 2, 1]


def test_distinct_widths_compile_only_bucketed_shapes(zh_reader):
    shapes = set()
    session = zh_reader.engine.session

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def __call__(self, x):
            shapes.add(x.shape)
            return self.inner(x)

    zh_reader.engine.session = Spy(session)
    try:
        lines = [_line(w, seed=w) for w in range(200, 1400, 23)]  # 53 distinct widths
        batched = [r.text for r in zh_reader.read_arrays(lines)]
    finally:
        zh_reader.engine.session = session
    widths = {s[-1] for s in shapes}
    # 53 distinct input widths compile only bucket widths, and far fewer of them
    assert widths <= set(SPEC.width_buckets) and len(widths) <= 12
    assert len(shapes) <= 4 * len(widths)
    assert batched[::7] == [zh_reader.read_arrays([x])[0].text for x in lines[::7]]  # batch == single


def test_one_model_per_language_whatever_the_decoder(zh_reader):
    from hwocr import Reader

    g = zh_reader.with_decoder("greedy")
    assert g.engine is zh_reader.engine and g.decoder == "greedy" and zh_reader.decoder == "beam"
    line = _line(500)
    assert g.read_arrays([line])[0].text == Reader(lang="zh", decoder="greedy").read_arrays([line])[0].text
    with pytest.raises(ModelError, match="unknown decoder"):
        zh_reader.with_decoder("nonsense")
    # and back: a greedy reader's beam twin (a greedy server asked for beam) reads as a beam reader does
    # (it called its decoder factory with one argument of three: TypeError)
    b = g.with_decoder("beam")
    assert b.engine is zh_reader.engine and b.decoder == "beam"
    assert b.read_arrays([line])[0] == zh_reader.read_arrays([line])[0]


def test_server_readers_share_the_model_across_decoders():
    from hwocr.server.app import default_reader_factory

    make = default_reader_factory()
    a, b, c = make("zh", None, 10**7), make("zh", "greedy", 10**7), make("zh", "beam", 10**7)
    assert a.engine is b.engine is c.engine and b.decoder == "greedy" and c.decoder == "beam"


def test_precision_spellings():
    assert [canonical(p, PPOCR_PRECISIONS) for p in (None, "auto", "FP32", "f32", "BF16", "bf16", "int8", "INT8")] == [
        "auto", "auto", "f32", "f32", "bf16", "bf16", "INT8", "INT8"]
    with pytest.raises(ModelError, match="no FP16 model"):
        canonical("FP16", PPOCR_PRECISIONS)


class _Core:
    def __init__(self, caps):
        self.caps = caps

    def get_property(self, device, name):
        assert name == "OPTIMIZATION_CAPABILITIES"
        return self.caps


@pytest.mark.parametrize("caps, flags, want", [
    (["FP32", "BF16", "INT8"], {"avx512f", "amx_bf16"}, "bf16"),
    (["FP32", "BF16", "INT8"], {"avx512f", "avx512_bf16"}, "bf16"),  # AVX512-BF16 without AMX: 1.6x f32
    (["FP32", "BF16", "INT8"], {"avx512f", "avx512_vnni"}, "f32"),  # no native bf16
    (["FP32", "INT8"], {"amx_bf16"}, "f32"),  # the plugin does not offer bf16
    ([], set(), "f32"),  # flags unreadable
])
def test_auto_picks_bf16_only_with_native_bf16_and_the_plugin_capability(caps, flags, want):
    c = choose("auto", "CPU", _Core(caps), frozenset(flags))
    assert (c.hint, c.label) == (want, want)
    assert choose("INT8", "CPU", _Core(caps), frozenset(flags)).label == f"INT8+{want}"
    assert choose("f32", "CPU", _Core(caps), frozenset(flags)).hint == "f32"
    assert choose("auto", "GPU", _Core(caps), frozenset(flags)).hint is None


def test_the_result_says_which_precision_ran(zh_reader):
    from hwocr import Reader

    assert zh_reader.engine.precision == "f32"  # the suite pins f32 (conftest)
    assert zh_reader.read_arrays([_line(300)])[0].to_dict()["precision"] == "f32"
    r = Reader(lang="zh", precision="bf16", decoder="greedy")
    # OpenVINO runs bf16 where the CPU has a bf16 path (AVX-512 and up); an AVX2-only CPU compiles it as
    # f32, and then the result must say f32
    compiled = str(r.engine.session.compiled.get_property("INFERENCE_PRECISION_HINT"))
    assert compiled in ("<Type: 'bfloat16'>", "<Type: 'float32'>")
    assert r.engine.precision == ("bf16" if "bfloat16" in compiled else "f32")
    assert r.read_arrays([_line(300)])[0].precision == r.engine.precision


def test_a_precision_the_cpu_cannot_run_is_reported_as_what_ran():
    from hwocr.engines.precision import ran

    class _Compiled:
        def __init__(self, got):
            self.got = got

        def get_property(self, name):
            assert name == "INFERENCE_PRECISION_HINT"
            return self.got

    class _Session:
        def __init__(self, got):
            self.compiled = _Compiled(got)

    assert ran("bf16", _Session("<Type: 'float32'>")) == "f32"  # an AVX2-only CPU
    assert ran("INT8+bf16", _Session("<Type: 'float32'>")) == "INT8+f32"
    assert ran("bf16", _Session("<Type: 'bfloat16'>")) == "bf16"
    assert ran("f32", _Session("<Type: 'bfloat16'>")) == "f32"  # only a bf16 label is checked
    assert ran("bf16", object()) == "bf16"  # no compiled model to ask: as asked


def test_pages_of_any_size_meet_a_few_detector_input_shapes():
    from hwocr.pages.detect import DETECTOR_SIDES, DBDetector

    det = DBDetector()
    shapes = set()
    for h, w in ((100, 70), (2339, 1654), (1654, 2339), (1000, 1000), (3000, 400), (777, 1333)):
        page = np.full((h, w, 3), 250, np.uint8)
        page[h // 3 : h // 3 + max(8, h // 30), w // 10 : w // 2] = 20
        x, sx, sy = det._input(page)
        shapes.add(x.shape)
        assert x.shape[2] in DETECTOR_SIDES and x.shape[3] in DETECTOR_SIDES
        prob, _, _ = det.probability_map(page)
        assert prob.shape == (round(h * sy), round(w * sx))  # the padding is cut off the map
    # pages of nearby sizes share one shape
    assert det._input(np.full((2200, 1580, 3), 250, np.uint8))[0].shape == det._input(np.full((2339, 1654, 3), 250, np.uint8))[0].shape
