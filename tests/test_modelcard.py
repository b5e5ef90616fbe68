"""Model cards: a custom recogniser described by hwocr-model.json (or a sidecar) reads like the embedded one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hwocr import Reader
from hwocr.engines.modelcard import CARD_NAME, ModelCard, load_card, parse_input_option, save_card
from hwocr.errors import ModelError

from conftest import ROOT, blank_ctc_model

ZH = ROOT / "samples" / "zh-line.png"
ZH_TEXT = "今天天气很好我们去公园散步"


@pytest.fixture(scope="module")
def paddle_onnx() -> Path:
    from hwocr.registry import PPOCR_REC
    from hwocr.store import packaged_path

    return packaged_path(PPOCR_REC, verify=False)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, paddle_onnx) -> Path:
    """A folder with the PP-OCRv6 ONNX, its charlist as a file, and a card."""
    import openvino as ov

    d = tmp_path_factory.mktemp("card")
    shutil.copy(paddle_onnx, d / "rec.onnx")
    chars = ov.Core().read_model(paddle_onnx).get_rt_info(["framework", "character"]).astype(str)
    (d / "chars.txt").write_text(chars + "\n", encoding="utf-8")
    return d


def test_bare_paddle_onnx_reads_from_its_metadata(paddle_onnx):
    """PaddleOCR metadata (its character list) selects PaddleOCR's preprocessing: before, the path
    engine fed it grey, height 96, unnormalised pixels and read ''."""
    r = Reader(engine=str(paddle_onnx))
    assert r.engine.info.input.mean == 127.5 and r.engine.info.input.bgr
    assert r.read(ZH).text == ZH_TEXT


def test_card_round_trip_and_reading(model_dir):
    card = ModelCard(name="my-rec", model="rec.onnx", charlist="chars.txt", lang="multi",
                     input={"height": 48, "channels": 3, "mean": 127.5, "scale": 1 / 127.5, "bgr": True,
                            "pad": "zero", "interpolation": "linear", "width_multiple": 8, "round_up": True,
                            "min_width": 320, "side_margin": 0.25, "line_squeeze": 0.75},
                     decoder="beam", provenance={"base": "PP-OCRv6_rec_small"})
    path = save_card(card, model_dir)
    assert path == model_dir / CARD_NAME
    # readable by others like the folder's other files (mkstemp made it 0600: a model trained by one user
    # could not be served by another)
    assert path.stat().st_mode & 0o777 == 0o644
    back = load_card(model_dir)
    assert back == card and load_card(path) == card
    r = Reader(engine=str(model_dir))
    assert r.engine.name == "my-rec" and r.decoder == "beam" and r.engine.info.pruned  # "multi": cut to --lang
    assert r.read(ZH).text == ZH_TEXT
    # the command line's override wins over the card: a wrong height is refused, not read as junk
    with pytest.raises(ModelError, match="height"):
        Reader(engine=str(model_dir), input_spec="height=96")


def test_sidecar_card(tmp_path, paddle_onnx):
    m = tmp_path / "m.onnx"
    m.symlink_to(paddle_onnx)
    # an input spec that cannot read: grey pixels into a 3-channel model is refused
    (tmp_path / "m.onnx.hwocr.json").write_text(json.dumps({"format": "hwocr-model/1", "name": "side",
                                                            "input": {"channels": 1}}))
    with pytest.raises(ModelError, match="channels"):
        Reader(engine=str(m))
    (tmp_path / "m.onnx.hwocr.json").write_text(json.dumps({"format": "hwocr-model/1", "name": "side"}))
    assert Reader(engine=str(m)).engine.name == "side"


@pytest.mark.parametrize("patch, needle", [
    ({"colour": 1}, "unknown key"),
    ({"format": "v2"}, '"format"'),
    ({"model": "../rec.onnx"}, "leaves the model folder"),
    ({"model": "/etc/passwd"}, "leaves the model folder"),
    ({"model": "nothere.onnx"}, "no such file"),
    ({"charlist": "missing.txt"}, "no such file"),
    ({"lang": "fr"}, '"lang"'),
    ({"decoder": "best"}, '"decoder"'),
    ({"input": {"height": "48"}}, "height"),
    ({"input": {"bgr": 1}}, "bgr"),
    ({"input": {"heigth": 48}}, "unknown input field"),
    ({"provenance": []}, "provenance"),
    ({"name": ""}, '"name"'),
])
def test_bad_cards_are_one_line_errors(model_dir, tmp_path, patch, needle):
    d = tmp_path / "m"
    d.mkdir()
    (d / "rec.onnx").write_bytes(b"x")
    (d / "chars.txt").write_text("a\n")
    card = {"format": "hwocr-model/1", "name": "x", "model": "rec.onnx", "charlist": "chars.txt", **patch}
    (d / CARD_NAME).write_text(json.dumps(card))
    with pytest.raises(ModelError, match=needle) as e:
        load_card(d)
    assert "\n" not in str(e.value)


def test_not_json_and_no_card(tmp_path):
    (tmp_path / CARD_NAME).write_text("{nope")
    with pytest.raises(ModelError, match="not a JSON model card"):
        load_card(tmp_path)
    (tmp_path / "sub").mkdir()
    with pytest.raises(ModelError, match="no hwocr-model.json"):
        Reader(engine=str(tmp_path / "sub"))


def test_input_option_parsing():
    assert parse_input_option("height=48, bgr=true,pad=zero,mean=127.5") == {
        "height": 48, "bgr": True, "pad": "zero", "mean": 127.5}
    # a list value keeps its commas (it used to be cut into "char_views=[0.2" and "0.4]")
    assert parse_input_option("char_views=[0.2,0.4],height=48") == {"char_views": (0.2, 0.4), "height": 48}
    assert parse_input_option("char_views=[]") == {"char_views": ()}
    with pytest.raises(ModelError, match="KEY=VALUE"):
        parse_input_option("height")
    with pytest.raises(ModelError, match="char_views"):
        parse_input_option("char_views=[0.2,0.4")  # an unclosed list is not JSON: one clear error


def test_input_spec_from_model_metadata(tmp_path):
    """InputSpec fields carried by the model (rt_info hwocr/input) apply without a card; --input-spec
    still overrides them."""
    xml = blank_ctc_model(tmp_path / "m.xml", json.dumps({"interpolation": "linear", "mean": 10, "side_margin": 0.5}))
    (tmp_path / "c.txt").write_text("a\nb\n")
    spec = Reader(engine=str(xml), charlist=str(tmp_path / "c.txt")).engine.info.input
    assert (spec.height, spec.channels, spec.interpolation, spec.mean, spec.side_margin) == (32, 1, "linear", 10, 0.5)
    spec = Reader(engine=str(xml), charlist=str(tmp_path / "c.txt"), input_spec="mean=0").engine.info.input
    assert spec.mean == 0 and spec.interpolation == "linear"


def test_every_input_spec_round_trips_through_a_card(tmp_path):
    """A card written from the shipped ppocr spec (never-narrow = infinity, tuples of width buckets)
    is standard JSON and reads back to the same spec."""
    import dataclasses
    import json

    from hwocr.engines.modelcard import card_input, check_input
    from hwocr.registry import PPOCR_REC

    text = json.dumps(card_input(PPOCR_REC.input), allow_nan=False)  # no Infinity in the file
    back = dataclasses.replace(PPOCR_REC.input, **check_input(json.loads(text), "card"))
    assert back == PPOCR_REC.input


def test_a_model_output_that_is_not_a_number_is_one_line():
    """A broken custom model's NaN (or infinite) output was decoded into NaN confidences, which made
    `--format json` output no JSON reader takes; it is one ModelError line. Probabilities and logits
    read as before."""
    import numpy as np

    from hwocr.engines.base import to_probabilities
    from hwocr.errors import ModelError

    probs = np.full((2, 5, 4), 0.25, np.float32)
    assert to_probabilities(probs) is probs
    logits = np.log(probs)
    assert np.allclose(to_probabilities(logits), 0.25)
    for base, bad in ((probs, np.nan), (logits, np.nan), (logits, np.inf)):
        x = base.copy()
        x[1, 3, 2] = bad
        with pytest.raises(ModelError, match=r"^my-model: its output is not a number") as e:
            to_probabilities(x, "my-model")
        assert "\n" not in str(e.value)
    x = logits.copy()
    x[0, 0, 1] = -np.inf  # a masked class is fine: its row's best is a number
    assert np.isfinite(to_probabilities(x)).all()
