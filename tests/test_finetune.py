"""`hwocr finetune`: data checks, the refusal of a worse model, and the round trip to `hwocr read --engine`."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hwocr.cli import cli

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from hwocr.registry import PPOCR_REC  # noqa: E402
from hwocr.train.data import DataError, load_folder  # noqa: E402
from hwocr.train.finetune import finetune, replay_dir  # noqa: E402
from hwocr.train.loop import Scores, TrainConfig, WorseModelError, check_not_worse  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LINE = "今天天气很好我们去公园散步"
#: the sample line labelled with one character changed: the base model reads it 12/13 right
TAUGHT = "今天天气很好我们去公园跑步"


@pytest.fixture(autouse=True)
def _threads():
    n = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(n)


def make_folder(d: Path, rows: list[tuple[str, str]], image: Path = SAMPLES / "zh-line.png") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, _ in rows:
        shutil.copy(image, d / name)
    (d / "labels.tsv").write_text("".join(f"{n}\t{t}\n" for n, t in rows), encoding="utf-8")
    return d


def tiny_general(d: Path) -> Path:
    """Three lines of the packaged general synthetic set (keeps the test fast)."""
    src = replay_dir("zh", "check")
    rows = (src / "labels.tsv").read_text(encoding="utf-8").splitlines()[:3]
    d.mkdir(parents=True)
    for r in rows:
        shutil.copy(src / r.split("\t")[0], d)
    (d / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return d


#: distillation on (the replayed lines are the tiny general set), weaker than the default to suit the large lr
FAST = dict(scope="head", max_steps=12, batch_size=4, lr=3e-2, eval_every=4, patience=3, replay=0.25, augment=False,
            distill=1.0)


def test_finetune_round_trip_reads_as_taught(tmp_path):
    data = make_folder(tmp_path / "mine", [(f"{i}.png", TAUGHT) for i in range(5)])
    general = tiny_general(tmp_path / "general")
    out = tmp_path / "model"
    res = finetune(data, out, lang="zh", config=TrainConfig(**FAST), general=general, replay=general)
    assert res.report.base.heldout < 1.0 <= res.report.best.heldout + 1e-9
    card = json.loads((out / "hwocr-model.json").read_text(encoding="utf-8"))
    assert card["format"] == "hwocr-model/1" and card["model"] == "model.onnx"
    assert card["provenance"]["base_sha256"] == PPOCR_REC.sha256 and card["provenance"]["data"]["samples"] == 5
    assert json.loads((out / card["report"]).read_text(encoding="utf-8"))["best"]["heldout"] == 1.0
    # greedy: as the training measured it (the beam's language model dislikes the taught change)
    r = CliRunner().invoke(cli, ["read", "--engine", str(out), "--lang", "zh", "--decoder", "greedy",
                                 str(SAMPLES / "zh-line.png")])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == TAUGHT
    base = CliRunner().invoke(cli, ["read", "--lang", "zh", str(SAMPLES / "zh-line.png")])
    assert base.output.strip() == LINE  # the base model is untouched


def test_worse_model_is_refused_and_nothing_written(tmp_path):
    data = make_folder(tmp_path / "mine", [(f"{i}.png", LINE) for i in range(4)])
    out = tmp_path / "model"
    cfg = TrainConfig(**{**FAST, "lr": 1.0, "max_steps": 2, "eval_every": 1, "patience": 1, "replay": 0.0})
    with pytest.raises(WorseModelError, match="no better than the base"):
        finetune(data, out, lang="zh", config=cfg, general=tiny_general(tmp_path / "general"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["general", "mine"]  # no model, no temporary folder


def test_check_not_worse():
    base = Scores(heldout=0.8, general=0.95)
    check_not_worse(base, Scores(0.9, 0.946), tolerance=0.005)
    with pytest.raises(WorseModelError, match="general synthetic set worse"):
        check_not_worse(base, Scores(0.99, 0.94), tolerance=0.005)
    with pytest.raises(WorseModelError, match="held-out samples no better"):
        check_not_worse(base, Scores(0.8, 0.95), tolerance=0.005)
    # nothing kept because every better step forgot: the message says so
    history = [{"step": 0, "heldout": 0.8, "general": 0.95}, {"step": 20, "heldout": 0.9, "general": 0.93}]
    with pytest.raises(WorseModelError, match=r"more than 0.5 points worse \(best held-out 1-CER 0.9000"):
        check_not_worse(base, base, tolerance=0.005, history=history)


CHARSET = ("", *LINE, " ")


def test_empty_folder_and_empty_labels(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(DataError, match="no labels.tsv"):
        load_folder(tmp_path / "a", CHARSET, PPOCR_REC.input)
    (tmp_path / "a" / "labels.tsv").write_text("\n", encoding="utf-8")
    with pytest.raises(Exception, match="no labelled lines"):
        load_folder(tmp_path / "a", CHARSET, PPOCR_REC.input)


def test_labels_outside_the_charset_are_an_error_naming_them(tmp_path):
    d = make_folder(tmp_path / "d", [("a.png", LINE), ("b.png", "今天X"), ("c.png", "")])
    with pytest.raises(DataError) as e:
        load_folder(d, CHARSET, PPOCR_REC.input)
    msg = str(e.value)
    assert "2 label(s)" in msg and "b.png (characters outside the model's charset: X)" in msg
    assert "c.png (empty label)" in msg and "\n" not in msg


def test_unreadable_images_are_skipped_and_counted(tmp_path):
    d = make_folder(tmp_path / "d", [("a.png", LINE), ("b.png", LINE), ("missing.png", LINE)])
    (d / "b.png").write_bytes(b"not an image")
    (d / "missing.png").unlink()
    ds = load_folder(d, CHARSET, PPOCR_REC.input)
    assert [s.name for s in ds.samples] == ["a.png"]
    assert ds.skipped == {"unreadable image": 2} and ds.summary()["skipped"] == {"unreadable image": 2}
    (d / "a.png").write_bytes(b"")
    with pytest.raises(DataError, match="none of the 3 labelled images could be read"):
        load_folder(d, CHARSET, PPOCR_REC.input)


def test_cli_errors_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    r = CliRunner().invoke(cli, ["finetune", str(tmp_path / "empty"), "-o", str(tmp_path / "m")])
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "hwocr: error:" in r.output and "labels.tsv" in r.output
    d = make_folder(tmp_path / "ja", [("a.png", "東京"), ("b.png", "東京")])
    r = CliRunner().invoke(cli, ["finetune", str(d), "--lang", "zh", "-o", str(tmp_path / "m")])
    assert r.exit_code == 1 and "not of the chosen --lang: 東" in r.output  # not simplified Chinese
    assert not (tmp_path / "m").exists()
    # an -o that cannot be made (under a file) is refused before training, not after it (a raw error then)
    r = CliRunner().invoke(cli, ["finetune", str(d), "--lang", "ja", "-o", str(d / "a.png" / "m")])
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "cannot be created" in r.output, r.output


def test_without_torch_the_command_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    r = CliRunner().invoke(cli, ["finetune", str(tmp_path), "-o", str(tmp_path / "m")])
    assert r.exit_code == 1 and "pip install 'hwocr[train]'" in r.output


def test_distillation_is_zero_at_the_base_and_grows_when_the_model_moves():
    from hwocr.train.loop import _distill, _teacher

    from hwocr.store import packaged_path
    from hwocr.train.graph import OnnxModule

    m = OnnxModule.load(packaged_path(PPOCR_REC))
    head = max(i for i, (op, *_) in enumerate(m.nodes) if op == "MatMul")
    t = _teacher(m)
    assert t.proto is m.proto and not any(p.requires_grad for p in t.parameters())
    w = m.named_weights()[m.nodes[head][1][1]]
    feats = torch.randn(2, 40, w.shape[0])
    with torch.no_grad():
        assert abs(float(_distill(m(feats, log_probs=True, start=head).permute(1, 0, 2), t, feats, head))) < 1e-5
        w.add_(0.05 * torch.randn_like(w))
        assert float(_distill(m(feats, log_probs=True, start=head).permute(1, 0, 2), t, feats, head)) > 1e-3


@pytest.mark.parametrize("lang", ["zh", "ja"])
def test_packaged_general_set_is_sentences_in_several_styles(lang):
    rows = [ln.split("\t") for ln in (replay_dir(lang, "check") / "labels.tsv").read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 150 and sum(len(t) for _, t in rows) > 1000
    assert len({n.split("-", 1)[1].rsplit(".", 1)[0] for n, _ in rows}) == 5  # the five writer styles
    assert all((replay_dir(lang, "check") / n).is_file() for n, _ in rows)


def test_graph_matches_openvino():
    from hwocr.engines.runtime import OVSession
    from hwocr.store import packaged_path
    from hwocr.train.graph import OnnxModule

    path = packaged_path(PPOCR_REC)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 48, 96)).astype(np.float32)
    m = OnnxModule.load(path)
    with torch.no_grad():
        got = m(torch.from_numpy(x)).numpy()
    assert np.abs(got - OVSession(path)(x)).max() < 1e-4
    assert sum(p.numel() for p in m.parameters()) > 5_000_000  # every weight trainable (classifier included)


def test_a_tall_sample_is_kept_at_a_few_times_the_model_height(tmp_path):
    """Every step scales a sample to the model's height: a photo is kept at KEEP_HEIGHTS x that height
    (40 photos of 2 800 x 2 800 px held 0.9 GB); a line that is smaller is kept as it is."""
    from PIL import Image

    from hwocr.train.data import KEEP_HEIGHTS

    d = make_folder(tmp_path / "d", [("a.png", LINE), ("big.png", LINE)])
    small = np.asarray(Image.open(d / "a.png").convert("RGB"))
    Image.fromarray(small).resize((small.shape[1] * 5, small.shape[0] * 5)).save(d / "big.png")
    a, big = load_folder(d, CHARSET, PPOCR_REC.input).samples
    assert np.array_equal(a.rgb, small)
    assert big.rgb.shape[0] == KEEP_HEIGHTS * PPOCR_REC.input.height
    assert abs(big.rgb.shape[1] / big.rgb.shape[0] - small.shape[1] / small.shape[0]) < 0.02


def test_the_kept_samples_are_small_and_bounded_in_all(tmp_path, monkeypatch):
    """A blank line as wide as one window is a 3 KB PNG that was kept as 9 MB of pixels: 20 000 of them
    would have held 180 GB before the first step (killed for memory, no message). Samples are now
    kept as lossless PNGs (the same pixels back), and what they hold in all is bounded: a one-line
    error past it (noise does not compress)."""
    from PIL import Image

    from hwocr.train import data as data_mod

    Image.new("RGB", (14000, 192), "white").save(tmp_path / "blank.png")
    d = make_folder(tmp_path / "d", [(f"{i}.png", LINE) for i in range(3)], image=tmp_path / "blank.png")
    samples = load_folder(d, CHARSET, PPOCR_REC.input).samples
    assert samples[0].rgb.shape == (192, 14000, 3) and (samples[0].rgb == 255).all()
    assert sum(len(s.png) for s in samples) < 200_000  # 24 MB of pixels before
    line = load_folder(make_folder(tmp_path / "z", [("a.png", LINE)]), CHARSET, PPOCR_REC.input).samples[0]
    assert np.array_equal(line.rgb, np.asarray(Image.open(SAMPLES / "zh-line.png").convert("RGB")))
    monkeypatch.setattr(data_mod, "MAX_KEPT_BYTES", int(len(samples[0].png) * 1.5))
    with pytest.raises(DataError, match=r"the first 2 of the 3 images already hold .* \(limit") as e:
        load_folder(d, CHARSET, PPOCR_REC.input)
    assert "\n" not in str(e.value)


def test_labels_with_old_mac_line_endings_or_a_third_column_are_an_error(tmp_path):
    """Lines ended by a lone CR were read as one line: one sample labelled with every other line's
    name and text (no error)."""
    d = make_folder(tmp_path / "d", [("a.png", LINE), ("b.png", LINE)])
    (d / "labels.tsv").write_bytes(f"a.png\t{LINE}\rb.png\t{LINE}\r".encode())
    with pytest.raises(Exception, match=r"labels.tsv:1: a carriage return \(CR\) inside the line"):
        load_folder(d, CHARSET, PPOCR_REC.input)
    # a third column (a note) was read as part of the label: "今天…散步note"
    (d / "labels.tsv").write_text(f"a.png\t{LINE}\nb.png\t{LINE}\tnote\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"labels.tsv:2: expected 'name<TAB>text' \(one TAB only\)"):
        load_folder(d, CHARSET, PPOCR_REC.input)
    (d / "labels.tsv").write_bytes(f"a.png\t{LINE}\r\nb.png\t{LINE}\r\n".encode())  # CRLF still reads
    assert [s.name for s in load_folder(d, CHARSET, PPOCR_REC.input).samples] == ["a.png", "b.png"]


def test_an_output_link_to_an_empty_folder_is_written_where_it_points(tmp_path, monkeypatch):
    """-o a link to an empty folder trained for minutes, then failed ("Not a directory": rmdir of the
    link); so did a dangling link and "-o ." (the model was built inside the folder it replaces)."""
    import hwocr.train.finetune as ft

    monkeypatch.setattr(ft, "check_not_worse", lambda *a, **k: None)  # one step: keep whatever it gives
    data = make_folder(tmp_path / "mine", [("a.png", TAUGHT), ("b.png", TAUGHT)])
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    inode = (tmp_path / "empty").stat().st_ino
    cfg = TrainConfig(**{**FAST, "max_steps": 1, "eval_every": 1, "replay": 0.0})
    res = finetune(data, tmp_path / "link", lang="zh", config=cfg, general=tiny_general(tmp_path / "general"))
    assert res.directory == tmp_path / "empty" and (tmp_path / "empty" / "hwocr-model.json").is_file()
    # the empty folder is filled, not replaced: a shell in it ("-o .") was left in a deleted folder
    assert (tmp_path / "empty").stat().st_ino == inode
    assert (tmp_path / "link").is_symlink() and (tmp_path / "link" / "model.onnx").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
