"""hwocr uses no network: reading a line, reading a page and serving a request attempt no connection
other than loopback, and OpenVINO's telemetry never starts (no ~/intel/stats counter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: runs in a fresh interpreter: an audit hook (inherited by forked children) blocks and records every
#: name lookup or connection that is not loopback, then the script reads a line, a page and serves requests
SCRIPT = textwrap.dedent(r'''
    import os, sys, time
    LOG = os.environ["NET_LOG"]
    LOOPBACK = {"127.0.0.1", "::1", "localhost", "0.0.0.0", "::", None, ""}

    def hook(event, args):
        if event == "socket.getaddrinfo":
            host = args[0]
        elif event == "socket.connect":
            addr = args[1]
            host = addr[0] if isinstance(addr, tuple) else None  # AF_UNIX paths are local
        else:
            return
        if isinstance(host, bytes):
            host = host.decode()
        if host in LOOPBACK or (isinstance(host, str) and host.startswith("127.")):
            return
        fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{os.getpid()} {event} {host!r}\n".encode())
        os.close(fd)
        raise PermissionError(f"network blocked by the test: {event} {host!r}")

    sys.addaudithook(hook)

    import numpy as np
    from hwocr import Reader

    reader = Reader(lang="zh")
    line = reader.read(os.path.join(os.environ["ROOT"], "samples", "zh-line.png"))
    assert line.text, line
    page = np.full((400, 600, 3), 255, np.uint8)
    page[100:164, 50:50 + 512] = reader_line = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(
        os.path.join(os.environ["ROOT"], "samples", "zh-line.png")).convert("RGB").resize((512, 64)))
    res = reader.read_page(page)
    assert res.lines, "no line found on the page"
    try:
        from fastapi.testclient import TestClient
    except ImportError:
        print("SERVER SKIPPED")
    else:
        from hwocr.server import ServerConfig, create_app
        app = create_app(ServerConfig(langs=("zh",), warmup=False), reader_factory=lambda *a: reader)
        with TestClient(app) as c:
            data = open(os.path.join(os.environ["ROOT"], "samples", "zh-line.png"), "rb").read()
            r = c.post("/v1/line", content=data, headers={"Content-Type": "image/png"})
            assert r.status_code == 200, r.text
            assert c.get("/healthz").status_code == 200
    time.sleep(1.0)  # a telemetry sender runs in a forked child: give it time to try
    print("DONE")
''')


def test_no_network_use_reading_a_line_a_page_and_serving(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    log = tmp_path / "net.log"
    env = {**os.environ, "HOME": str(home), "NET_LOG": str(log), "ROOT": str(ROOT),
           "PYTHONPATH": str(ROOT / "src")}
    for k in ("CI", "TF_BUILD", "JENKINS_URL"):  # telemetry stays off in CI anyway: test the user's case
        env.pop(k, None)
    p = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "DONE" in p.stdout, p.stderr[-3000:]
    attempts = log.read_text() if log.exists() else ""
    assert not attempts, f"non-loopback network use:\n{attempts}"
    intel = home / "intel"
    assert not (intel / "stats").exists() and not (intel / "openvino_ga_cid").exists(), \
        sorted(os.listdir(intel)) if intel.exists() else []


def test_telemetry_module_is_not_imported_and_openvino_still_works():
    code = ("import sys; from hwocr.ovruntime import openvino, telemetry_is_off; ov = openvino(); "
            "import json; print(json.dumps([telemetry_is_off(), 'openvino_telemetry' in sys.modules, "
            "'openvino_telemetry' in sys.modules and sys.modules['openvino_telemetry'] is None, "
            "bool(ov.Core().available_devices)]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads(p.stdout.strip().splitlines()[-1]) == [True, False, False, True]


def test_importing_hwocr_does_not_import_openvino():
    code = "import sys, hwocr, hwocr.reader, hwocr.ovruntime; print('openvino' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        pytest.fail(p.stderr[-2000:])
    assert p.stdout.strip() == "False"
