"""The omz engine end to end on the authentic OMZ graphs (random weights), fetched through the
real download path from a local HTTP server."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import threading

import numpy as np
import pytest

from conftest import CHARLISTS, stroke_line
from hwocr.errors import ModelError
from hwocr.registry import HJR, HSCR, MODELS, FileSpec


@pytest.fixture(scope="module")
def omz_server(omz_graph_dir):
    for f in CHARLISTS.glob("*.txt"):
        (omz_graph_dir / f.name).write_bytes(f.read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(omz_graph_dir))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", omz_graph_dir
    srv.shutdown()


def local_spec(base, folder, fname, relpath):
    data = (folder / fname).read_bytes()
    return FileSpec(relpath, f"{base}/{fname}", len(data), hashlib.sha384(data).hexdigest())


@pytest.fixture()
def local_registry(omz_server, monkeypatch):
    """Point the registry's OMZ entries at the local server (same code path as the official URLs)."""
    base, folder = omz_server
    for name, charlist in ((HSCR, "scut_ept.txt"), (HJR, "kondate_nakayosi.txt")):
        m = MODELS[name]
        xml = local_spec(base, folder, f"{name}.FP16.xml", f"{name}/FP16/{name}.xml")
        bin_ = local_spec(base, folder, f"{name}.FP16.bin", f"{name}/FP16/{name}.bin")
        cl = local_spec(base, folder, charlist, f"{name}/{charlist}")
        monkeypatch.setitem(MODELS, name, dataclasses.replace(m, files={"FP16": (xml, bin_)}, charlist=cl))


@pytest.mark.parametrize("lang, classes", [("zh", 4059), ("ja", 4442)])
def test_omz_engine_downloads_and_runs_the_real_graph(local_registry, tmp_path, lang, classes):
    from hwocr import Reader

    r = Reader(lang=lang, engine="omz", model_dir=tmp_path)
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert any(f.endswith(".bin") for f in files) and any(f.endswith(".txt") for f in files)
    assert not any(f.endswith(".part") for f in files)
    info = r.engine.info
    assert info.time_major and len(info.charset) == classes and info.charset[0] == ""
    assert info.input.height == 96 and info.input.fixed_width == 2000
    assert info.frame_rows == 3  # the graph flattens a 3 x 62 feature map into its 186 frames
    line = stroke_line(8)
    (post,) = r.posteriors([line])
    (p,) = post.probs
    assert p.shape == (186, classes)  # read from the model, W x B x L transposed to frames x classes
    assert np.allclose(p.sum(axis=1), 1, atol=1e-3)
    res = r.read(line)
    assert res.engine == MODELS[{"zh": HSCR, "ja": HJR}[lang]].name
    assert all(c.char in info.charset for c in res.chars)
    assert [c.x0 for c in res.chars] == sorted(c.x0 for c in res.chars)
    # the same line read again gives the same answer (no state carried between calls)
    assert r.read(line) == res
    # second construction uses the cache: offline is fine now
    Reader(lang=lang, engine="omz", model_dir=tmp_path, offline=True)


def test_wide_line_is_split_and_merged(local_registry, tmp_path):
    from hwocr import Reader

    r = Reader(lang="zh", engine="omz", model_dir=tmp_path)
    res = r.read(stroke_line(60, h=48))  # 2880 x 48 -> 5760 px at height 96
    assert res.policy.startswith("split:")
    assert all(0 <= c.x0 <= c.x1 <= 2880 + 1 for c in res.chars)


def test_charlist_that_does_not_fit(local_registry, tmp_path):
    from hwocr import Reader

    with pytest.raises(ModelError, match="does not fit the model"):
        Reader(lang="zh", engine="omz", model_dir=tmp_path, charlist=CHARLISTS / "kondate_nakayosi.txt")


def test_custom_model_path_with_charlist(omz_graph_dir):
    from hwocr import Reader

    xml = omz_graph_dir / f"{HSCR}.FP16.xml"
    r = Reader(lang="zh", engine=str(xml), charlist=CHARLISTS / "scut_ept.txt")
    assert r.engine.info.time_major and r.engine.info.input.fixed_width == 2000
    assert isinstance(r.read(stroke_line(3)).text, str)
    with pytest.raises(ModelError, match="no charlist"):
        Reader(lang="zh", engine=str(xml))


def test_offline_without_cache_is_a_clear_error(tmp_path):
    from hwocr import Reader

    with pytest.raises(ModelError, match="offline"):
        Reader(lang="ja", engine="omz", model_dir=tmp_path, offline=True)
