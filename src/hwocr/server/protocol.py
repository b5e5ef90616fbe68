"""uvicorn's h11 protocol with the guards uvicorn lacks: a deadline for a request's headers
(slowloris: headers trickled a byte at a time, or a connection that sends nothing, are cut), a
deadline for output to be taken (a client that sends requests but never reads the answers would
otherwise hold its connection for ever), a bound on open connections, in all and from
one client address, and JSON for the errors uvicorn itself answers.

uvicorn's own ``timeout_keep_alive`` closes a connection idle between requests, but any byte
received resets it; the header deadline here is not reset by data, only met by complete headers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Callable

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .security import SECURITY_HEADERS

log = logging.getLogger("hwocr.server")


def _raw_json_response(status: int, reason: str, message: str, retry_after: int | None = None) -> bytes:
    """A whole response written before the app sees the request: JSON, with the headers every answer of
    the app carries (:data:`~hwocr.server.security.SECURITY_HEADERS`)."""
    body = json.dumps({"error": message}).encode()
    extra = "".join(f"{k.decode()}: {v.decode()}\r\n" for k, v in SECURITY_HEADERS)
    if retry_after is not None:
        extra += f"retry-after: {retry_after}\r\n"
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n{extra}connection: close\r\n\r\n")
    return head.encode() + body


def guarded_protocol(header_timeout: float, max_connections: int, per_client: int | None = None,
                     on_refuse: Callable[[str], None] | None = None, send_timeout: float = 30.0,
                     max_header_bytes: int = 16 * 1024) -> type[H11Protocol]:
    """An H11Protocol subclass: a request's headers must arrive within ``header_timeout`` seconds of
    the connection opening (or of the previous response); output that the client does not take within
    ``send_timeout`` seconds of its waiting in the buffer (the kernel's socket buffer full) drops the
    connection, closed by either side or not; and at most ``max_connections`` connections
    are open at once, at most ``per_client`` of them from one client address (the next gets a JSON 503
    and is closed), so that one client cannot hold every connection. ``on_refuse(kind)`` counts what is
    answered here, before the app: "connections" (a refused connection), "malformed" (a request
    h11 cannot parse), "header_timeout" (headers begun, not finished in time: a JSON 408),
    "headers_too_large" (incomplete headers past ``max_header_bytes``, h11's bound: a JSON 431) and
    "stalled" (a connection dropped at the send deadline)."""
    per_client = max_connections if per_client is None else per_client

    def refused(kind: str) -> None:
        if on_refuse is not None:
            try:
                on_refuse(kind)
            except Exception:  # noqa: BLE001 - counting must never break the connection handling
                log.exception("hwocr: counting a refused connection failed")

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._header_timer: asyncio.TimerHandle | None = None
            self._send_timer: asyncio.TimerHandle | None = None
            # pause_writing as soon as output waits in the buffer, resume_writing once all of it has gone:
            # the send deadline runs exactly while the client holds output up, however the connection ends
            transport.set_write_buffer_limits(high=0, low=0)
            refusal = self._refusal()
            if refusal:
                log.warning("hwocr: refusing a connection: %s", refusal)
                refused("connections")
                transport.write(_raw_json_response(503, "Service Unavailable", f"{refusal}; retry later", retry_after=1))
                transport.close()
                return
            self._arm_header_timer()

        def _refusal(self) -> str | None:
            if len(self.connections) > max_connections:
                return f"too many open connections (limit {max_connections})"
            host = self.client[0] if self.client else None
            if host is not None and per_client < max_connections:
                mine = sum(1 for c in self.connections if c.client and c.client[0] == host)
                if mine > per_client:
                    return f"too many open connections from your address (limit {per_client})"
            return None

        def _arm_header_timer(self) -> None:
            self._cancel_header_timer()
            self._header_timer = self.loop.call_later(header_timeout, self._header_deadline)

        def _cancel_header_timer(self) -> None:
            t = getattr(self, "_header_timer", None)
            if t is not None:
                t.cancel()
                self._header_timer = None

        def _header_deadline(self) -> None:
            self._header_timer = None
            in_flight = self.cycle is not None and not self.cycle.response_complete
            if self.transport.is_closing() or (in_flight and self.conn.their_state is not h11.IDLE):
                return  # a request being handled: the app's upload and request time limits apply
            # no complete request headers in time (an idle or trickling connection), or a body still
            # trickling in after its response was sent; headers begun but not finished get a JSON 408
            if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
                refused("header_timeout")
                self.transport.write(_raw_json_response(
                    408, "Request Timeout", f"the request's headers did not arrive within {header_timeout:g} s"))
            self.transport.close()

        def _arm_send_timer(self) -> None:
            if self._send_timer is None:
                self._send_timer = self.loop.call_later(send_timeout, self._send_deadline)

        def _cancel_send_timer(self) -> None:
            t = getattr(self, "_send_timer", None)
            if t is not None:
                t.cancel()
                self._send_timer = None

        def _send_deadline(self) -> None:
            self._send_timer = None
            log.warning("hwocr: dropping a connection whose client did not take its output within %g s", send_timeout)
            refused("stalled")
            self.transport.abort()

        def pause_writing(self) -> None:  # output waits: the client must take it within the deadline
            super().pause_writing()
            self._arm_send_timer()

        def resume_writing(self) -> None:
            super().resume_writing()
            self._cancel_send_timer()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:  # a request's headers are in
                self._cancel_header_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_timer()  # the next request's headers have the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            self._cancel_send_timer()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            pending, _ = self.conn.trailing_data
            if len(pending) > max_header_bytes and b"\r\n\r\n" not in pending:  # h11: "Receive buffer too long"
                refused("headers_too_large")
                self.transport.write(_raw_json_response(
                    431, "Request Header Fields Too Large",
                    f"the request's headers are longer than {max_header_bytes // 1024} KiB"))
            else:
                refused("malformed")
                self.transport.write(_raw_json_response(400, "Bad Request", "malformed HTTP request"))
            self.transport.close()

    return GuardedH11Protocol
