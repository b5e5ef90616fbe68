"""Running the app under uvicorn with hwocr's limits (``hwocr serve`` and the tests use this)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import HwocrError
from .security import LOOPBACK_HOSTS, is_loopback

#: request headers still incomplete past this many bytes are refused (h11's bound, uvicorn's default too; set
#: explicitly). h11 checks it per read, so complete headers of up to one socket read (about 256 KB) still
#: parse: a bound on memory per connection, not an exact header limit
MAX_HEADER_BYTES = 16 * 1024
KEY_ENV = "HWOCR_API_KEY"


def uvicorn_config(app: Any, cfg: Any, host: str, port: int, log_level: str = "info"):
    """The ``uvicorn.Config`` for ``app`` and its ``ServerConfig``: header and send deadlines, keep-alive, connection
    bound, and a graceful drain long enough for any request in flight to finish (its own time limit)."""
    import uvicorn

    from .protocol import guarded_protocol

    metrics = getattr(getattr(app, "state", None), "metrics", None)
    on_refuse = (lambda kind: metrics.error("other", kind)) if metrics is not None else None
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level,
        http=guarded_protocol(cfg.header_timeout_s, cfg.max_connections, cfg.max_connections_per_client, on_refuse,
                              send_timeout=cfg.send_timeout_s, max_header_bytes=MAX_HEADER_BYTES),
        timeout_keep_alive=max(1, round(cfg.keep_alive_s)),
        timeout_graceful_shutdown=max(1, round(cfg.drain_s)),
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        server_header=False,
        proxy_headers=False,  # no proxy is trusted: X-Forwarded-For must not change who the client is
        lifespan="on",
    )


def default_allowed_hosts(host: str) -> tuple[str, ...] | None:
    """The Host names a server bound to ``host`` answers to by default: loopback names for a loopback
    bind (against DNS rebinding), any (None) otherwise."""
    return LOOPBACK_HOSTS if is_loopback(host) else None


def bind_warning(host: str, api_key: str | None) -> str | None:
    """The warning for a bind that exposes the service without a key, else None."""
    if api_key or is_loopback(host):
        return None
    return (f"WARNING: listening on {host} WITHOUT an API key: anyone who can reach this port can use the "
            f"service. Set {KEY_ENV} or --api-key-file, or bind to 127.0.0.1.")


def resolve_api_key(arg_key: str | None, key_file: str | None, environ: dict[str, str] | None = None) -> str | None:
    """The API key from ``--api-key-file``, ``$HWOCR_API_KEY`` or ``--api-key`` (at most one); an empty
    key is an error, never "no key"."""
    env = os.environ if environ is None else environ
    sources = [(name, v) for name, v in (("--api-key-file", key_file), (f"${KEY_ENV}", env.get(KEY_ENV)),
                                         ("--api-key", arg_key)) if v is not None]
    if len(sources) > 1:
        raise HwocrError(f"the API key is given twice ({' and '.join(n for n, _ in sources)}): give one")
    if not sources:
        return None
    name, value = sources[0]
    if name == "--api-key-file":
        from ..files import read_small

        try:
            value = read_small(value, "--api-key-file", 64 << 10).decode("utf-8").strip("\r\n")
        except UnicodeDecodeError:
            raise HwocrError(f"--api-key-file {value}: not UTF-8 text") from None
    if not value.strip():
        raise HwocrError(f"the API key from {name} is empty: set a non-empty key, or none to serve without one")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise HwocrError(f"the API key from {name} contains control characters")
    return value
