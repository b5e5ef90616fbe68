"""The downloader against a local HTTP server: good, truncated, tampered, missing, slow, offline, mirror."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from pathlib import Path

import pytest

from hwocr.errors import DownloadError, ModelError
from hwocr.registry import FileSpec
from hwocr.store import Store, verify_file

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        if name == "missing.bin":
            self.send_error(404, "Not Found")
            return
        if self.path.startswith("/stall/"):  # a mirror that sends a little, then nothing for a while
            self.send_response(200)
            self.send_header("Content-Length", str(10**8))
            self.end_headers()
            self.wfile.write(PAYLOAD[:1000])
            self.wfile.flush()
            time.sleep(5)
            return
        if name == "slow.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:1000])
            self.wfile.flush()
            time.sleep(3)
            return
        body = PAYLOAD
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name == "truncated.bin":
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        if name == "tampered.bin":
            body = body[:-1] + b"\x00"
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def spec(base: str, name: str, digest: str | None = None) -> FileSpec:
    return FileSpec(f"m/{name}", f"{base}/files/{name}", len(PAYLOAD),
                    digest or hashlib.sha384(PAYLOAD).hexdigest())


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_good_download_is_verified_and_atomic(server, tmp_path):
    st = Store(tmp_path)
    s = spec(server, "good.bin")
    p = st.ensure(s)
    assert p.read_bytes() == PAYLOAD and leftovers(tmp_path) == [p]
    verify_file(p, s)
    # present: no second download (the server is not asked again: point at a dead URL)
    dead = FileSpec(s.relpath, "http://127.0.0.1:9/never", s.size, s.digest)
    assert st.ensure(dead) == p


@pytest.mark.parametrize("name, match", [
    ("truncated.bin", "incomplete|broken off|download failed"),
    ("tampered.bin", "sha384 mismatch"),
    ("missing.bin", "HTTP 404"),
])
def test_bad_downloads_leave_nothing_behind(server, tmp_path, name, match):
    st = Store(tmp_path)
    with pytest.raises(DownloadError, match=match) as e:
        st.ensure(spec(server, name))
    assert "\n" not in str(e.value)
    assert leftovers(tmp_path) == []


def test_slow_server_times_out(server, tmp_path):
    st = Store(tmp_path, timeout=0.5)
    with pytest.raises(DownloadError, match="timed out|download failed"):
        st.ensure(spec(server, "slow.bin"))
    assert leftovers(tmp_path) == []


def test_unreachable_host(tmp_path):
    st = Store(tmp_path, timeout=2)
    with pytest.raises(DownloadError, match="cannot connect"):
        st.ensure(FileSpec("m/x.bin", "http://127.0.0.1:9/x.bin", 10, "0" * 96))


def test_offline_mode_never_downloads(server, tmp_path):
    st = Store(tmp_path, offline=True)
    with pytest.raises(DownloadError, match="offline"):
        st.ensure(spec(server, "good.bin"))
    assert leftovers(tmp_path) == []


def test_mirror_uses_cache_layout(server, tmp_path):
    s = FileSpec("m/good.bin", "http://127.0.0.1:9/official/unreachable.bin", len(PAYLOAD),
                 hashlib.sha384(PAYLOAD).hexdigest())
    st = Store(tmp_path, mirror=server + "/mirror/")
    assert st.url(s) == server + "/mirror/m/good.bin"
    assert st.ensure(s).read_bytes() == PAYLOAD


def test_corrupted_cached_file_is_reported(server, tmp_path):
    st = Store(tmp_path)
    s = spec(server, "good.bin")
    p = st.ensure(s)
    p.write_bytes(b"\x00" * len(PAYLOAD))
    with pytest.raises(ModelError, match="mismatch"):
        st.ensure(s)


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("HWOCR_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("HWOCR_MIRROR", "http://mirror.invalid/base")
    monkeypatch.setenv("HWOCR_OFFLINE", "1")
    st = Store.from_env()
    assert st.root == tmp_path / "models" and st.mirror == "http://mirror.invalid/base" and st.offline
    st = Store.from_env(root=tmp_path / "x", offline=False)
    assert st.root == tmp_path / "x" and not st.offline


def test_packaged_model_checks_its_weights_file_too():
    from dataclasses import replace

    from hwocr.registry import PPOCR_REC_INT8
    from hwocr.store import packaged_path

    assert packaged_path(PPOCR_REC_INT8).name == "PP-OCRv6_rec_small_int8.xml"
    res, size, sha = PPOCR_REC_INT8.weights
    with pytest.raises(ModelError, match="SHA-256 differs"):
        packaged_path(replace(PPOCR_REC_INT8, weights=(res, size, "0" * 64)))
    with pytest.raises(ModelError, match="missing from the installed"):
        packaged_path(replace(PPOCR_REC_INT8, weights=("data/nothing.bin", size, sha)))


def test_a_fifo_in_a_mirror_folder_a_trickling_server_and_an_unwritable_cache_are_one_line(server, tmp_path,
                                                                                            monkeypatch):
    """A FIFO in a mirror folder waited for ever; a server trickling bytes (each read within the timeout)
    took hours, so the whole transfer has a deadline; a cache this user may not write raised a raw
    PermissionError. Each is now one DownloadError, nothing left behind."""
    import os

    from hwocr import store

    mirror = tmp_path / "mirror"
    (mirror / "m").mkdir(parents=True)
    os.mkfifo(mirror / "m" / "good.bin")
    cache = tmp_path / "cache"
    t = time.monotonic()
    with pytest.raises(DownloadError, match="not a regular file"):
        Store(cache, mirror=str(mirror)).ensure(spec(server, "good.bin"))
    assert time.monotonic() - t < 5 and leftovers(cache) == []
    ticks = iter(range(0, 10**9, 1000))  # every look at the clock: 1000 s later (a server trickling bytes)
    monkeypatch.setattr(store, "_clock", lambda: next(ticks))
    with pytest.raises(DownloadError, match="too slow"):
        Store(cache, timeout=5).ensure(spec(server, "good.bin"))
    assert leftovers(cache) == []
    monkeypatch.setattr(store.tempfile, "mkstemp", lambda **kw: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    with pytest.raises(DownloadError, match="cannot write to the model cache"):
        Store(cache).ensure(spec(server, "good.bin"))


@pytest.mark.parametrize("exc", [SystemExit(143), KeyboardInterrupt()])
def test_an_exit_in_the_middle_of_a_transfer_leaves_no_part_file(server, tmp_path, monkeypatch, exc):
    """Not only download errors: whatever stops the transfer (the CLI's SIGTERM is a SystemExit, Ctrl-C a
    KeyboardInterrupt) removes the temp file and goes on up unchanged."""
    from hwocr import store

    calls = iter(range(10**6))  # the first look at the clock sets the deadline; the next is in the loop

    def clock() -> float:
        if next(calls):
            raise exc
        return 0.0

    monkeypatch.setattr(store, "_clock", clock)
    with pytest.raises(type(exc)):
        Store(tmp_path / "cache").ensure(spec(server, "good.bin"))
    assert not (tmp_path / "cache").exists() or leftovers(tmp_path / "cache") == []


def test_sigterm_during_a_cli_download_removes_the_part_file(server, tmp_path):
    """SIGTERM killed ``hwocr models download`` on the spot, leaving its ``.part`` file in the cache (Ctrl-C
    did not); now it cleans up, then still dies by the signal, as a supervisor expects."""
    import os
    import signal
    import subprocess
    import sys

    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-m", "hwocr", "models", "download", "--model-dir", str(cache),
                             "--mirror", f"{server}/stall", "handwritten-japanese-recognition-0001"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HWOCR_OFFLINE": "0"})
    try:
        deadline = time.monotonic() + 20
        while not list(cache.rglob("*.part")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        time.sleep(0.1)  # into the transfer
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGTERM, err
    assert "Traceback" not in err and leftovers(cache) == []
