"""``hwocr serve``: the HTTP service and web page (needs the ``server`` extra: fastapi, uvicorn, ...).

This module imports only click at import time, so ``hwocr --help`` works without the extra.
"""

from __future__ import annotations

import time

import click

from ..cli_common import FiniteFloatRange, precision_option
from ..errors import HwocrError


def _langs(ctx, param, value: str) -> tuple[str, ...]:
    langs = tuple(dict.fromkeys(x.strip() for x in value.split(",") if x.strip()))
    bad = [x for x in langs if x not in ("auto", "zh", "ja")]
    if bad:
        raise click.BadParameter(f"unknown language {bad[0]!r} (expected auto, zh and/or ja, comma-separated)")
    return langs


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: all; then set an API key).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--lang-preload", default="auto", show_default=True, callback=_langs,
              help="Languages whose models load at start-up (others load on first request).")
@click.option("--api-key-file", type=click.Path(dir_okay=False),
              help="File holding the key that /v1/*, /metrics and the docs require in the X-API-Key header "
                   "(or set $HWOCR_API_KEY).")
@click.option("--api-key", help="The key itself (visible to other users in ps: prefer $HWOCR_API_KEY or --api-key-file).")
@click.option("--public-metrics", is_flag=True, help="Serve /metrics without the API key.")
@click.option("--public-docs", is_flag=True, help="Serve /docs and /openapi.json without the API key.")
@click.option("--allowed-host", "allowed_hosts", multiple=True,
              help="A Host name the server answers to (repeatable; default for a loopback bind: 127.0.0.1, "
                   "localhost, ::1; otherwise any).")
@click.option("--engine", default="ppocr", show_default=True, help="ppocr, omz or a model path (as for 'read').")
@click.option("--device", default="CPU", show_default=True, help="OpenVINO device.")
@precision_option
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Recognition threads (default: CPU cores, at most 4).")
@click.option("--max-queue", type=click.IntRange(0, 100000), default=64, show_default=True,
              help="Requests that may wait for a recognition thread before new ones get 503.")
@click.option("--max-upload-mb", type=FiniteFloatRange(0.001, 1024), default=10.0, show_default=True)
@click.option("--max-pixels", type=click.IntRange(16, None), default=40_000_000, show_default=True,
              help="Largest page accepted, in pixels.")
@click.option("--max-line-pixels", type=click.IntRange(16, None), default=16_000_000, show_default=True,
              help="Largest line image accepted, in pixels.")
@click.option("--max-line-windows", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Recognition windows a line may need (ppocr: 4096 columns each at height 48).")
@click.option("--timeout", "timeout_s", type=FiniteFloatRange(0.1, 3600), default=30.0, show_default=True,
              help="Seconds a request may take (queue + recognition) before a 504; its work then stops.")
@click.option("--header-timeout", "header_timeout_s", type=FiniteFloatRange(0.1, 600), default=10.0,
              show_default=True, help="Seconds a client has to send a request's headers.")
@click.option("--upload-timeout", "upload_timeout_s", type=FiniteFloatRange(0.1, 3600), default=60.0,
              show_default=True, help="Seconds a client has to send a request's body (the upload); then a 408.")
@click.option("--send-timeout", "send_timeout_s", type=FiniteFloatRange(0.1, 3600), default=30.0,
              show_default=True, help="Seconds a client has to take an answer the network holds up; then the "
                                      "connection is dropped.")
@click.option("--keep-alive", "keep_alive_s", type=FiniteFloatRange(1, 600), default=5.0, show_default=True,
              help="Seconds an idle keep-alive connection stays open.")
@click.option("--max-connections", type=click.IntRange(1, 100000), default=256, show_default=True,
              help="Open connections at once; the next one gets 503.")
@click.option("--max-connections-per-client", type=click.IntRange(1, 100000), default=None,
              help="Open connections from one client address; the next one gets 503. "
                   "[default: a quarter of --max-connections; behind a reverse proxy, which is one "
                   "address, set it to --max-connections]")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="info", show_default=True)
def serve(host, port, lang_preload, api_key_file, api_key, public_metrics, public_docs, allowed_hosts, engine, device,
          precision, workers, max_queue, max_upload_mb, max_pixels, max_line_pixels, max_line_windows, timeout_s,
          header_timeout_s, upload_timeout_s, send_timeout_s, keep_alive_s, max_connections, max_connections_per_client,
          log_level):
    """Serve the HTTP API (/v1/line, /v1/page, /healthz, /metrics, /docs) and the web page at /."""
    try:
        import uvicorn

        from .app import ServerConfig, create_app, load_readers
        from .run import bind_warning, default_allowed_hosts, resolve_api_key, uvicorn_config
    except ImportError as e:
        raise HwocrError(f"'hwocr serve' needs the server extra: pip install 'hwocr[server]' ({e})") from None
    key = resolve_api_key(api_key, api_key_file)
    if api_key is not None:
        click.echo("hwocr: warning: a key given with --api-key is visible to other users (ps); "
                   "prefer $HWOCR_API_KEY or --api-key-file", err=True)
    warning = bind_warning(host, key)
    if warning:
        click.echo(f"hwocr: {warning}", err=True)
    cfg = ServerConfig(langs=lang_preload, engine=engine, device=device, precision=precision, api_key=key,
                       public_metrics=public_metrics, public_docs=public_docs,
                       allowed_hosts=tuple(allowed_hosts) or default_allowed_hosts(host),
                       max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_pixels=max_pixels,
                       max_line_pixels=max_line_pixels, max_line_windows=max_line_windows, timeout_s=timeout_s,
                       header_timeout_s=header_timeout_s, upload_timeout_s=upload_timeout_s,
                       send_timeout_s=send_timeout_s, keep_alive_s=keep_alive_s, max_connections=max_connections,
                       max_connections_per_client=max_connections_per_client,
                       max_queue=max_queue)
    if workers:
        cfg.workers = workers
    t = time.perf_counter()
    readers = load_readers(cfg)
    if cfg.langs:
        click.echo(f"hwocr: loaded {','.join(cfg.langs)} in {time.perf_counter() - t:.1f} s", err=True)
    app = create_app(cfg, readers=readers)
    uvicorn.Server(uvicorn_config(app, cfg, host, port, log_level)).run()
