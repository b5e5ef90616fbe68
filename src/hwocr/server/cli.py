"""``hwocr serve``: the HTTP service and web page (needs the ``server`` extra: fastapi, uvicorn, ...).

This module imports only click at import time, so ``hwocr --help`` works without the extra.
"""

from __future__ import annotations

import time

import click

from ..errors import HwocrError


def _langs(ctx, param, value: str) -> tuple[str, ...]:
    langs = tuple(dict.fromkeys(x.strip() for x in value.split(",") if x.strip()))
    bad = [x for x in langs if x not in ("auto", "zh", "ja")]
    if bad:
        raise click.BadParameter(f"unknown language {bad[0]!r} (expected auto, zh and/or ja, comma-separated)")
    return langs


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: all).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--lang-preload", default="auto", show_default=True, callback=_langs,
              help="Languages whose models load at start-up (others load on first request).")
@click.option("--api-key", envvar="HWOCR_API_KEY", show_envvar=True,
              help="Require this key in the X-API-Key header of /v1/* requests.")
@click.option("--engine", default="ppocr", show_default=True, help="ppocr, omz or a model path (as for 'read').")
@click.option("--device", default="CPU", show_default=True, help="OpenVINO device.")
@click.option("--precision", type=click.Choice(["FP32", "INT8", "FP16", "FP16-INT8"]), default=None,
              help="Model precision (as for 'read'; ppocr: FP32, the default, or INT8, about 1.5x faster).")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Recognition threads (default: CPU cores, at most 4).")
@click.option("--max-queue", type=click.IntRange(0, 100000), default=64, show_default=True,
              help="Requests that may wait for a recognition thread before new ones get 503.")
@click.option("--max-upload-mb", type=click.FloatRange(0.001, 1024), default=10.0, show_default=True)
@click.option("--max-pixels", type=click.IntRange(16, None), default=40_000_000, show_default=True,
              help="Largest image accepted, in pixels.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1, 3600), default=30.0, show_default=True,
              help="Seconds a request may take (queue + recognition) before a 504.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="info", show_default=True)
def serve(host, port, lang_preload, api_key, engine, device, precision, workers, max_queue, max_upload_mb, max_pixels,
          timeout_s, log_level):
    """Serve the HTTP API (/v1/line, /v1/page, /healthz, /metrics, /docs) and the web page at /."""
    try:
        import uvicorn

        from .app import ServerConfig, create_app, load_readers
    except ImportError as e:
        raise HwocrError(f"'hwocr serve' needs the server extra: pip install 'hwocr[server]' ({e})") from None
    cfg = ServerConfig(langs=lang_preload, engine=engine, device=device, precision=precision, api_key=api_key or None,
                       max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_pixels=max_pixels,
                       timeout_s=timeout_s, max_queue=max_queue)
    if workers:
        cfg.workers = workers
    t = time.perf_counter()
    readers = load_readers(cfg)
    if cfg.langs:
        click.echo(f"hwocr: loaded {','.join(cfg.langs)} in {time.perf_counter() - t:.1f} s", err=True)
    app = create_app(cfg, readers=readers)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
