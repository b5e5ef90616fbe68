"""`hwocr batch`: the same records as `hwocr page`, on a local 2-worker Dask cluster bound to loopback
and in local processes; exactly once when a worker or the whole job is killed; a rerun does no work.

The 40 pages are composed from samples/ (benchmarks/bench_batch.py), so no evaluation data is needed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwocr.batch.inputs import WorkItem, expand_paths, work_items
from hwocr.batch.store import Store
from hwocr.errors import HwocrError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_batch import compose_archive  # noqa: E402

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

PAGES = 40  # 30 single pages + 3 (TIFF) + 2 (PDF) + 5 bad files
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
#: fields of a batch record that `hwocr page --format json` does not have
EXTRA = ("key", "file", "pages", "error", "seconds", "worker")


def hwocr(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hwocr", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV, cwd=ROOT, **kw)


def finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        raise
    return proc.returncode, out, err


def kill_tree(proc: subprocess.Popen) -> None:
    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        kids = []
    for p in [*kids, proc]:
        try:
            p.kill()
        except (psutil.NoSuchProcess, ProcessLookupError):
            pass
    proc.wait()
    psutil.wait_procs(kids, timeout=10)


def records(out: Path) -> list[dict]:
    return [json.loads(ln) for f in sorted(out.glob("pages-*.jsonl")) for ln in f.read_text().splitlines()]


def wait_for(cond, proc: subprocess.Popen, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"the job ended before the test could act: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > end:
            kill_tree(proc)
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("archive")
    compose_archive(folder, size=(480, 160), lines=1)  # small pages: the test is about the pipeline
    return folder


@pytest.fixture(scope="module")
def reference(archive) -> dict:
    """What `hwocr page --format json` gives for every file (pages by source) and, for each bad file,
    the error it prints."""
    files = sorted(str(p) for p in archive.iterdir())
    rc, out, err = finish(hwocr("page", *files, "--format", "json"))
    assert rc == 1  # the bad files
    pages = {p["source"]: p for p in json.loads(out)["pages"]}
    errors = [ln.removeprefix("hwocr: error: ") for ln in err.splitlines() if ln.startswith("hwocr: error: ")]
    assert len(pages) == PAGES - 5 and len(errors) == 5, err
    return {"pages": pages, "errors": errors}


def check_against_reference(recs: list[dict], reference: dict) -> None:
    keys = [r["key"] for r in recs]
    assert len(keys) == len(set(keys)) == PAGES  # every page exactly once
    good = [r for r in recs if r["error"] is None]
    bad = [r for r in recs if r["error"] is not None]
    assert len(good) == PAGES - 5
    for r in good:
        assert {k: v for k, v in r.items() if k not in EXTRA} == reference["pages"][r["source"]]
    assert sorted(Path(r["file"]).name for r in bad) == ["broken.pdf", "notes.png", "truncated0.png",
                                                         "truncated1.png", "truncated2.png"]
    for r in bad:  # the same one-line reason `hwocr page` prints (named by its file when it was not)
        assert "\n" not in r["error"] and r["error"].startswith(r["file"])
        assert any(r["error"].endswith(e) for e in reference["errors"]), r["error"]


def listening(proc: subprocess.Popen) -> set[tuple[str, int]]:
    addrs = set()
    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return addrs
    for p in tree:
        try:
            addrs |= {(c.laddr.ip, c.laddr.port) for c in p.net_connections("inet") if c.status == psutil.CONN_LISTEN}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return addrs


def test_cluster_gives_page_records_on_loopback_and_rerun_does_nothing(archive, reference, tmp_path):
    out = tmp_path / "out"
    proc = hwocr("batch", str(archive), "-o", str(out), "--runner", "dask", "--workers", "2", "--json")
    seen: set[tuple[str, int]] = set()
    try:
        while proc.poll() is None:  # sample the job's listening sockets while it runs
            seen |= listening(proc)
            time.sleep(0.1)
    finally:
        rc, stdout, err = finish(proc)
    assert rc == 1, err  # some pages failed
    assert "local Dask cluster on 127.0.0.1, 2 workers" in err
    assert len({port for _, port in seen}) >= 4, seen  # scheduler + 2 workers (+ nannies, HTTP) were seen
    assert {ip for ip, _ in seen} <= {"127.0.0.1", "::1"}, seen  # nothing on a non-loopback interface
    summary = json.loads(stdout)
    assert (summary["pages"], summary["read"], summary["failed"], summary["skipped"]) == (PAGES, PAGES, 5, 0)
    assert summary["lines"] == sum(len(p["lines"]) for p in reference["pages"].values())
    check_against_reference(records(out), reference)
    assert 1 <= len({r["worker"] for r in records(out) if r["error"] is None}) <= 2  # 2 long-lived workers

    shards = {p.name: p.stat().st_mtime_ns for p in out.glob("pages-*.jsonl")}
    rc, stdout, err = finish(hwocr("batch", str(archive), "-o", str(out), "--workers", "2", "--json", "--hocr",
                                   "--pdf"))
    again = json.loads(stdout)
    assert (again["read"], again["skipped"], again["failed_total"], again["workers"]) == (0, PAGES, 5, 0)
    assert "reading on" not in err  # no cluster was even started
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("pages-*.jsonl")} == shards

    # per-document outputs: what hwocr.pages.export writes for `hwocr page`'s pages of that document
    from hwocr.batch.export import page_from_record
    from hwocr.pages import export
    from hwocr.pages.inputs import load_pages

    docs = sorted(p.name for p in (out / "docs").iterdir())
    assert len(docs) == 2 * 32 and not any(n.startswith(("truncated", "notes", "broken")) for n in docs)
    ref = [page_from_record(reference["pages"][f"{archive / 'multi.tif'}#{k}"]) for k in (1, 2, 3)]
    (hocr,) = (out / "docs").glob("multi-*.hocr")
    assert hocr.read_text() == export.to_hocr(ref, "auto")  # the batch default, as for hwocr page
    ref = [page_from_record(reference["pages"][f"{archive / 'doc.pdf'}#{k}"]) for k in (1, 2)]
    (pdf,) = (out / "docs").glob("doc-*.pdf")
    assert pdf.read_bytes() == export.to_pdf(ref, [p.rgb for p in load_pages(archive / "doc.pdf")], 200)


def test_worker_of_an_existing_cluster_killed_mid_run_every_page_exactly_once(archive, reference, tmp_path):
    """--address joins a running cluster (here a loopback one the test starts); one of its workers is
    killed mid-run; the job still ends with every page exactly once, and leaves no models behind."""
    import logging

    from distributed import Client, LocalCluster

    out = tmp_path / "out"
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        proc = hwocr("batch", str(archive), "-o", str(out), "--address", cluster.scheduler_address, "--json",
                     "--shard-size", "2", "--commit-seconds", "0")
        try:
            wait_for(lambda: len(list(out.glob("pages-*.jsonl"))) >= 2, proc)
            workers = [p for p in psutil.Process().children(recursive=True)
                       if any("spawn_main" in a for a in p.cmdline())]
            assert len(workers) == 2
            workers[0].kill()
            killed_at = len(records(out))
        finally:
            rc, stdout, err = finish(proc)
        assert f"Dask cluster at {cluster.scheduler_address}, 2 workers" in err
        left = client.run(lambda dask_worker: [n for n in dask_worker.plugins if n.startswith("hwocr")])
        assert left and not any(left.values())  # the job's models were unloaded from the cluster
    assert killed_at < PAGES
    assert json.loads(stdout)["read"] == PAGES
    check_against_reference(records(out), reference)


def test_job_killed_then_resumed_in_local_processes(archive, reference, tmp_path):
    """Without Dask the same pipeline runs in local processes and says so; killing the whole job loses
    only what was not committed, and the rerun reads exactly the rest."""
    small = tmp_path / "small"
    small.mkdir()
    for name in ("p000.png", "p001.png", "p002.png", "p003.png", "multi.tif", "truncated0.png"):
        (small / name).write_bytes((archive / name).read_bytes())
    out = tmp_path / "out"
    code = "import sys; sys.modules['distributed'] = None; from hwocr.cli import main; main(sys.argv[1:])"
    args = [sys.executable, "-c", code, "batch", str(small), "-o", str(out), "--workers", "1", "--json",
            "--shard-size", "1", "--commit-seconds", "0"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)
    try:
        wait_for(lambda: len(list(out.glob("pages-*.jsonl"))) >= 1, proc)
        tree = psutil.Process(proc.pid).children(recursive=True)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate(timeout=30)
    gone, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive  # the job's worker processes went with it
    before = records(out)
    assert 1 <= len(before) < 8
    rc, stdout, err = finish(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                              env=ENV))
    assert "Dask distributed is not installed: reading in 1 local process" in err
    summary = json.loads(stdout)
    assert (summary["pages"], summary["skipped"], summary["read"]) == (8, len(before), 8 - len(before))
    recs = records(out)
    assert len({r["key"] for r in recs}) == len(recs) == 8
    assert not list(out.glob(".*.tmp"))
    for r in recs:
        if r["error"] is None:
            ref = reference["pages"][r["source"].replace(str(small), str(archive))]
            mine = {k: v for k, v in r.items() if k not in EXTRA}
            assert {**mine, "source": ref["source"]} == ref
        else:
            assert r["file"].endswith("truncated0.png")


# -- the parts, without models ---------------------------------------------------------------------

def _rec(key: str, error: str | None = None) -> dict:
    return {"key": key, "file": "f.png", "page": 0, "error": error}


def test_store_commits_each_key_once_and_recovers(tmp_path):
    with Store(tmp_path) as st:
        assert st.commit([_rec("a"), _rec("b", "bad"), _rec("a")]) == 2
        # a page read again (a worker died after reading it, before it was acknowledged) is dropped
        assert st.commit([_rec("b"), _rec("c")]) == 1
        with pytest.raises(HwocrError, match="another hwocr batch"):
            Store(tmp_path)
    (tmp_path / ".pages-000003.jsonl.tmp").write_text('{"key": "half')  # a commit a killed job never finished
    (tmp_path / "index" / "pages-000002.keys").unlink()  # killed between the shard's rename and its index
    with Store(tmp_path) as st:
        assert st.done == {"a": True, "b": False, "c": True}
        assert [r["key"] for r in st.records()] == ["a", "b", "c"]
        assert st.commit([_rec("d")]) == 1
    assert not list(tmp_path.glob(".*.tmp"))
    assert sorted(p.name for p in tmp_path.glob("pages-*")) == ["pages-000001.jsonl", "pages-000002.jsonl",
                                                                 "pages-000003.jsonl"]


def test_inputs_folders_globs_manifests(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "sub").mkdir()
    for name in ("a/x.png", "a/sub/y.pdf", "a/readme.txt", "z.jpg"):
        (tmp_path / name).write_bytes(b"1")
    (tmp_path / "list.txt").write_text("# pages\nz.jpg\n\n  a/x.png  \n")
    problems: list[str] = []
    got = list(expand_paths([str(tmp_path / "a"), str(tmp_path / "*.jpg"), "@" + str(tmp_path / "list.txt")], problems))
    assert got == [str(tmp_path / "a" / "sub" / "y.pdf"), str(tmp_path / "a" / "x.png"), str(tmp_path / "z.jpg"),
                   str(tmp_path / "z.jpg"), str(tmp_path / "a" / "x.png")]
    assert problems == []
    # an input that gives nothing is one problem, and the rest is still expanded
    (tmp_path / "empty").mkdir()
    got = list(expand_paths([str(tmp_path / "empty"), str(tmp_path / "*.tif"), "@" + str(tmp_path / "no.txt"),
                             "", str(tmp_path / "z.jpg")], problems, [str(tmp_path / "missing.txt")]))
    assert got == [str(tmp_path / "z.jpg")]
    assert [m.split(": ", 1)[1].split(" (")[0] for m in problems[:4]] == [
        "cannot read manifest", "no page files in this folder", "no files match this pattern", "cannot read manifest"]
    assert problems[4:] == ["an empty file name"]  # not the current folder, which Path("") is
    # a manifest as `find` writes it over a Shift-JIS archive: the raw bytes name the file (it was refused
    # whole as "not UTF-8"); a BOM and CRLF line ends are dropped
    (tmp_path / "raw.txt").write_bytes(b"\xef\xbb\xbfz.jpg\r\n\x93\xfa\x96\x7b.png\n")
    assert list(expand_paths(["@" + str(tmp_path / "raw.txt")], problems)) == [
        str(tmp_path / "z.jpg"), os.fsdecode(os.fsencode(tmp_path) + b"/\x93\xfa\x96\x7b.png")]


def test_a_folder_reports_page_names_that_are_not_files(tmp_path):
    """A FIFO or a looping link named like a page is left out with one line, not silently (a FIFO
    would also block its reader)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"1")
    os.mkfifo(tmp_path / "a" / "f.png")
    os.symlink("loop.tif", tmp_path / "a" / "loop.tif")
    os.symlink("gone.pdf", tmp_path / "a" / "dangling.pdf")
    problems: list[str] = []
    assert list(expand_paths([str(tmp_path / "a")], problems)) == [str(tmp_path / "a" / "x.png")]
    assert problems == [f"{tmp_path / 'a' / 'dangling.pdf'} and 2 more: not a regular file (a FIFO, a device, "
                        f"or a broken or looping link) in {tmp_path / 'a'}: left out"]


def test_job_goes_on_past_inputs_that_give_nothing(tmp_path):
    """An empty folder among an archive's folders is reported in the summary; the folders after it are
    still read (it used to stop the job where the folder came)."""
    from hwocr.batch.job import run_job
    from hwocr.batch.settings import Settings

    for sub in ("a", "empty", "b"):
        (tmp_path / sub).mkdir()
    for name in ("a/1.png", "b/2.png", "b/3.png"):
        (tmp_path / name).write_bytes(name.encode())

    class Runner:  # records each page as read, without a model
        description, workers = "test", 1

        def imap(self, items):
            return ({"key": it.key, "file": it.path, "page": it.page, "error": None, "lines": []} for it in items)

        def close(self):
            pass

    inputs = [str(tmp_path / "a"), str(tmp_path / "empty"), str(tmp_path / "none*.png"), str(tmp_path / "b")]
    summary = run_job(inputs, str(tmp_path / "out"), Settings(), Runner)
    assert (summary.pages, summary.read, summary.failed_total) == (3, 3, 0)
    assert sorted(Path(r["file"]).name for r in records(tmp_path / "out")) == ["1.png", "2.png", "3.png"]
    assert len(summary.input_errors) == 2 and "empty: no page files" in summary.input_errors[0]
    assert summary.text().endswith("; 2 inputs gave nothing to read")
    assert summary.to_dict()["input_errors"] == summary.input_errors


def test_work_item_keys_follow_content_page_and_settings(archive, tmp_path):
    f = tmp_path / "m.tif"
    f.write_bytes((archive / "multi.tif").read_bytes())
    items = list(work_items([str(f)], "s1"))
    assert [(i.page, i.pages) for i in items] == [(0, 3), (1, 3), (2, 3)] and len({i.key for i in items}) == 3
    assert [i.key for i in work_items([str(f)], "s1")] == [i.key for i in items]  # stable
    assert not {i.key for i in work_items([str(f)], "s2")} & {i.key for i in items}  # other settings
    f.write_bytes((archive / "p000.png").read_bytes())
    (one,) = work_items([str(f)], "s1")
    assert one.key not in {i.key for i in items}  # the file changed: read it again
    (bad,) = work_items([str(tmp_path / "missing.png")], "s1")
    assert isinstance(bad, WorkItem) and bad.pages == 1  # the worker records why it cannot be read


class _PageRunner:
    """Records each page as read (a blank page of ``size``), without a model."""

    description, workers = "test", 1

    def __init__(self, size: tuple[int, int] = (40, 30)) -> None:
        self.size = size

    def imap(self, items):
        w, h = self.size
        return ({"key": it.key, "file": it.path, "page": it.page, "pages": it.pages, "width": w, "height": h,
                 "lines": [], "source": it.path, "engine": "e", "detector": "d", "direction": "horizontal",
                 "notes": [], "error": None} for it in items)

    def close(self):
        pass


def test_file_names_that_are_not_utf8_are_read_resumed_and_exported(tmp_path):
    """A Shift-JIS name (lone surrogates in Python) is read like any other; records, summary and hOCR
    are valid UTF-8 (the name as \\udcXX, which reads back to it), a rerun skips its page, and the
    documents are named after it (it crashed the job at the first commit, and every rerun)."""
    sjis = os.fsdecode(b"\x93\xfa\x96\x7b")  # 日本
    src = tmp_path / "in"
    src.mkdir()
    (src / "zh-line.png").write_bytes((ROOT / "samples" / "zh-line.png").read_bytes())
    (src / f"{sjis}.png").write_bytes((ROOT / "samples" / "ja-line.png").read_bytes())
    out = tmp_path / f"out-{sjis}"
    args = ("batch", str(src), "-o", str(out), "--runner", "local", "--workers", "1", "--json", "--hocr", "--pdf")
    rc, stdout, err = finish(hwocr(*args))  # (text mode: stdout must decode as UTF-8)
    assert rc == 0, err
    assert (json.loads(stdout)["read"], json.loads(stdout)["out"]) == (2, str(out))
    recs = [json.loads(ln) for f in out.glob("pages-*.jsonl") for ln in f.read_bytes().decode("utf-8").splitlines()]
    assert sorted(r["file"] for r in recs) == sorted([str(src / f"{sjis}.png"), str(src / "zh-line.png")])
    assert all(r["error"] is None and r["lines"] for r in recs)
    (hocr,) = (out / "docs").glob(f"{sjis}-*.hocr")
    assert "\\udc93\\udcfa\\udc96{.png" in hocr.read_bytes().decode("utf-8")
    assert len(list((out / "docs").glob(f"{sjis}-*.pdf"))) == 1 and len(list((out / "docs").iterdir())) == 4
    rc, stdout, err = finish(hwocr(*args))
    assert rc == 0, err
    assert (json.loads(stdout)["skipped"], json.loads(stdout)["read"]) == (2, 0)


def test_pdf_export_decodes_one_page_at_a_time(tmp_path, monkeypatch):
    """--pdf keeps each page's JPEG, not its pixels: at most two pages' pixels are alive at once (it kept
    every page decoded: 26 MB a page at A4 300 dpi, 3 GB for 120 pages)."""
    import weakref

    from PIL import Image

    from hwocr.batch.job import run_job
    from hwocr.batch.settings import Settings
    from hwocr.pages import inputs

    size, n = (300, 400), 12
    frames = [Image.new("L", size, 255) for _ in range(n)]
    frames[0].save(tmp_path / "long.tif", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    decoded: list[weakref.ref] = []  # the pixels of each page handed out
    most = 0

    def counted(*args, real=inputs.iter_pages, **kw):
        nonlocal most
        for p in real(*args, **kw):
            decoded.append(weakref.ref(p.rgb))
            most = max(most, sum(r() is not None for r in decoded))
            yield p

    monkeypatch.setattr(inputs, "iter_pages", counted)
    out = tmp_path / "out"
    run_job([str(tmp_path / "long.tif")], str(out), Settings(), lambda: _PageRunner(size), exports=["pdf"])
    (pdf,) = (out / "docs").glob("long-*.pdf")
    assert pdf.read_bytes().count(b"/Type /Page ") == n
    assert len(decoded) == n and most <= 2, most  # this page, and the previous one until it is rebound


@pytest.mark.parametrize("address", ["foo", "inproc://x", "tls://127.0.0.1:1", "tcp://h:99999", "xyz://h:1"])
def test_address_no_client_can_use_is_one_line_at_once(address):
    """An address that cannot work on any network is refused before a Client is made (which raised a
    ValueError in its thread, then hung 40 s on the way out)."""
    from hwocr.batch import cluster
    from hwocr.batch.settings import Settings

    t0 = time.monotonic()
    with pytest.raises(HwocrError, match="not a Dask scheduler address"):
        cluster.DaskRunner(Settings(), 1, address)
    assert time.monotonic() - t0 < 5
    for good in ("tcp://10.0.0.5:8786", "10.0.0.5:8786", "tcp://[::1]:8786", "ws://h:8786"):
        cluster.check_address(good)


def test_empty_output_folder_is_a_usage_error(tmp_path):
    """-o '' (an unset shell variable) is refused, not taken as the current folder."""
    proc = subprocess.Popen([sys.executable, "-m", "hwocr", "batch", str(ROOT / "samples" / "zh-line.png"), "-o", "",
                             "--runner", "local", "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV, cwd=tmp_path)
    rc, _, err = finish(proc)
    assert rc == 2 and err.startswith("hwocr: error: ") and "--output': empty" in err and len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_a_commit_that_fails_after_its_shard_is_in_place_is_not_written_twice(tmp_path, monkeypatch):
    """A full disk when the index is written (the shard already renamed into place): the job commits
    the same records again on its way out, which wrote a second shard of them (every page twice); a
    shard that cannot be written leaves no half copy holding the space."""
    import errno

    from hwocr.batch import store as store_mod

    real = os.replace

    def full_disk(src, dst):
        if Path(dst).suffix == ".keys" or Path(dst).name == "pages-000002.jsonl":
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real(src, dst)

    monkeypatch.setattr(store_mod.os, "replace", full_disk)
    with Store(tmp_path) as st:
        with pytest.raises(OSError):
            st.commit([_rec("a"), _rec("b")])
        assert st.commit([_rec("a"), _rec("b")]) == 0  # (_drain's finally)
        with pytest.raises(OSError):
            st.commit([_rec("c")])
        assert st.done == {"a": True, "b": True}
        assert not list(tmp_path.glob(".*.tmp")) and not list((tmp_path / "index").glob(".*.tmp"))
    monkeypatch.setattr(store_mod.os, "replace", real)
    with Store(tmp_path) as st:  # the index is rebuilt from the shard
        assert [r["key"] for r in st.records()] == ["a", "b"] and st.done == {"a": True, "b": True}


def test_an_output_folder_that_cannot_be_opened_does_not_keep_its_lock(tmp_path):
    """A corrupt shard is one line; the Store that failed released the folder's lock (it stayed held
    while the exception lived: the next open in this process said another job was writing)."""
    (tmp_path / "pages-000001.jsonl").write_text('{"key": "a", "fi\n')
    with pytest.raises(HwocrError, match="corrupt batch output") as e:
        Store(tmp_path)
    (tmp_path / "pages-000001.jsonl").unlink()
    with Store(tmp_path) as st:
        assert st.done == {}
    assert e.value  # (the exception, and its traceback, still alive here)


def _export(tmp_path: Path, files: list[Path], exports=("hocr",)):
    from hwocr.batch.job import run_job
    from hwocr.batch.settings import Settings

    return run_job([str(f) for f in files], str(tmp_path / "out"), Settings(), lambda: _PageRunner(),
                   exports=list(exports))


def test_documents_with_long_names_are_exported(tmp_path):
    """An 80-character CJK name (240 bytes, a legal file) made a docs name over 255 bytes: the export of
    it and of every document after it failed, on every rerun."""
    from PIL import Image

    files = [tmp_path / ("漢" * 80 + ".png"), tmp_path / "z.png"]
    for f in files:
        Image.new("L", (40, 30), 255).save(f)
    _export(tmp_path, files, ("hocr", "pdf"))
    names = sorted(p.name for p in (tmp_path / "out" / "docs").iterdir())
    assert len(names) == 4 and names[0].startswith("z-") and names[-1].startswith("漢" * 66 + "-")
    assert all(len(os.fsencode(n)) < 240 for n in names)


def test_hand_edited_records_stop_the_export_in_one_line(tmp_path):
    """A record without a field (a KeyError traceback) or with a string where the page's size goes
    (markup in the hOCR) is a one-line corrupt-output error; nothing is written from it."""
    from PIL import Image

    f = tmp_path / "a.png"
    Image.new("L", (40, 30), 255).save(f)
    _export(tmp_path, [f], ())
    shard = tmp_path / "out" / "pages-000001.jsonl"
    good = json.loads(shard.read_text())
    for edit, why in [(lambda r: r.pop("lines"), "no 'lines'"), (lambda r: r.pop("file"), "no 'file'"),
                      (lambda r: r.update(width='1"><script>'), "is not a whole number"),
                      (lambda r: r.update(lines=[{"text": "x"}]), "no 'confidence'")]:
        rec = dict(good)
        edit(rec)
        shard.write_text(json.dumps(rec) + "\n")
        with pytest.raises(HwocrError, match="corrupt batch output") as e:
            _export(tmp_path, [f])
        assert why in str(e.value) and "\n" not in str(e.value)
        assert not list((tmp_path / "out" / "docs").iterdir())


def test_paths_longer_than_any_file_name_are_one_problem_each(tmp_path):
    """A manifest line of megabytes became a record three times its size (file, source, error), past
    what a shard is read back with: every later export of the job failed as corrupt output."""
    long = "y" * 5000 + ".png"
    (tmp_path / "m.txt").write_text(f"a.png\n{long}\n")
    problems: list[str] = []
    got = list(expand_paths([str(tmp_path / long[:4200]), "@" + str(tmp_path / "m.txt")], problems))
    assert got == [str(tmp_path / "a.png")]
    assert len(problems) == 2 and all("longer than any file can be named" in p and len(p) < 200 for p in problems)


class _DyingPool:
    """Stands for the process pool: each page is read in a thread; a page named poison*.png kills the
    pool as a worker's death does (every page in flight fails with BrokenProcessPool)."""

    def __init__(self) -> None:
        import threading

        self.lock, self.flight, self.broken = threading.Lock(), [], False

    def submit(self, fn, item):
        import threading
        from concurrent.futures import Future

        fut = Future()
        with self.lock:
            self.flight.append(fut)
        threading.Timer(0.005 if "poison" in item.path else 0.04, self._run, (fut, item)).start()
        return fut

    def _run(self, fut, item) -> None:
        from concurrent.futures.process import BrokenProcessPool

        with self.lock:
            if self.broken:
                return
            if "poison" in item.path:
                self.broken = True
                for f in self.flight:
                    if not f.done():
                        f.set_exception(BrokenProcessPool("a worker died"))
                return
            self.flight.remove(fut)
            fut.set_result({"key": item.key, "file": item.path, "page": 0, "error": None})

    def shutdown(self, wait=True, cancel_futures=False) -> None:
        pass


def test_a_page_that_kills_its_worker_fails_alone(monkeypatch):
    """The pages in flight beside one that kills the worker are read again, not failed with it: they
    were resubmitted together and died with it MAX_TRIES times, recorded as failed (and a rerun skips
    failed pages, so they were lost for good)."""
    from hwocr.batch.runners import MAX_TRIES, LocalRunner

    monkeypatch.setattr(LocalRunner, "_new_pool", lambda self: _DyingPool())
    runner = LocalRunner.__new__(LocalRunner)
    runner.workers, runner.window = 2, 4
    runner._pool = runner._new_pool()
    items = [WorkItem(f"{'poison' if i == 1 else 'p'}{i}.png", 0, 1, f"k{i}") for i in range(8)]
    recs = list(runner.imap(items))
    assert sorted(r["key"] for r in recs) == [f"k{i}" for i in range(8)]
    failed = [r for r in recs if r["error"]]
    assert [r["key"] for r in failed] == ["k1"] and f"died {MAX_TRIES} times" in failed[0]["error"]


def test_pdf_export_skips_a_file_changed_since_it_was_read(tmp_path, monkeypatch):
    """A scan replaced while the job ran went into the PDF under the text read from the old one."""
    from PIL import Image

    from hwocr.batch import export

    f = tmp_path / "a.png"
    Image.new("L", (40, 30), 255).save(f)
    real = export.export_documents

    def replaced_first(store, keys, settings, formats):
        Image.new("L", (40, 30), 0).save(f)
        return real(store, keys, settings, formats)

    monkeypatch.setattr(export, "export_documents", replaced_first)
    _export(tmp_path, [f], ("hocr", "pdf"))
    assert [p.suffix for p in (tmp_path / "out" / "docs").iterdir()] == [".hocr"]


def test_export_holds_only_the_documents_whose_pages_are_still_coming(tmp_path):
    """Each document is handed out once its last page's record is read (every record of the job was
    held until the last shard was read: gigabytes for a long run)."""
    from hwocr.batch.export import documents

    def rec(file, page, pages, error=None):
        return {"key": f"{file}#{page}", "file": file, "page": page, "pages": pages, "error": error}

    with Store(tmp_path) as st:
        st.commit([rec("a", 1, 2), rec("b", 0, 1), rec("c", 0, 2)])
        st.commit([rec("a", 0, 2), rec("c", 1, 2, "bad"), rec("d", 0, 1)])
        read: list[str] = []
        real = st.records

        def counted():
            for r in real():
                read.append(r["key"])
                yield r

        st.records = counted
        keys = {f"{f}#{p}" for f, p in [("a", 0), ("a", 1), ("b", 0), ("c", 0), ("c", 1), ("d", 0)]}
        docs = documents(st, keys)
        assert next(docs) == ("b", [rec("b", 0, 1)]) and len(read) == 2
        assert next(docs) == ("a", [rec("a", 0, 2), rec("a", 1, 2)]) and len(read) == 4
        assert [f for f, _ in docs] == ["d"]  # (c: a page failed)


def test_retry_failed_reads_the_failed_pages_again_and_the_last_record_counts(tmp_path):
    """A page recorded as failed (a render timeout under load) stayed failed for good: a rerun skips it.
    ``--retry-failed`` reads it again; its new record supersedes the old one, in the summary, in a
    reopened store and in the export; pages that read are still skipped, and the flag changes nothing
    for a job without failures."""
    from PIL import Image

    from hwocr.batch.job import run_job
    from hwocr.batch.settings import Settings

    files = [tmp_path / "a.png", tmp_path / "b.png"]
    for f in files:
        Image.new("L", (40, 30), 255).save(f)

    class Flaky(_PageRunner):  # b.png fails while ``down``
        down = True

        def imap(self, items):
            for rec in super().imap(items):
                yield {**rec, "error": "render timeout"} if self.down and rec["file"].endswith("b.png") else rec

    inputs, out = [str(f) for f in files], str(tmp_path / "out")
    first = run_job(inputs, out, Settings(), Flaky, exports=["hocr"])
    assert (first.read, first.failed_total) == (2, 1)
    again = run_job(inputs, out, Settings(), Flaky, exports=["hocr"])
    assert (again.read, again.skipped, again.failed_total) == (0, 2, 1)  # (skipped, as before)
    Flaky.down = False
    retried = run_job(inputs, out, Settings(), Flaky, exports=["hocr"], retry_failed=True)
    assert (retried.read, retried.skipped, retried.failed, retried.failed_total) == (1, 1, 0, 0)
    assert [(Path(r["file"]).name, r["error"]) for r in records(tmp_path / "out")] == [
        ("a.png", None), ("b.png", "render timeout"), ("b.png", None)]
    with Store(tmp_path / "out") as st:
        assert sorted(st.done.values()) == [True, True]
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "out" / "docs").iterdir()) == ["a", "b"]
    done = run_job(inputs, out, Settings(), Flaky, exports=["hocr"], retry_failed=True)
    assert (done.read, done.skipped, done.failed_total) == (0, 2, 0)
