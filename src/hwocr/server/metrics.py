"""Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

ENDPOINTS = ("/v1/line", "/v1/page", "/healthz", "/metrics", "/", "/openapi.json", "/docs")
#: HTTP methods that get their own label value; any other method name is counted as "other"
METHODS = ("GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def method_label(method: str) -> str:
    """A bounded label for a method (a client may send any token as the method)."""
    return method if method in METHODS else "other"


def status_label(code: int) -> str:
    return str(code) if 100 <= code <= 599 else "other"


def endpoint_label(path: str) -> str:
    """A bounded label for a path (unknown paths must not create new time series)."""
    if path in ENDPOINTS:
        return path
    if path.startswith("/static/"):
        return "/static"
    return "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, cpu seconds, open fds
        self.requests = Counter("hwocr_requests_total", "HTTP requests by endpoint, method and status",
                                ("endpoint", "method", "status"), registry=self.registry)
        self.latency = Histogram("hwocr_request_duration_seconds", "HTTP request latency by endpoint",
                                 ("endpoint",), buckets=BUCKETS, registry=self.registry)
        self.errors = Counter("hwocr_errors_total", "Error responses by endpoint and kind",
                              ("endpoint", "kind"), registry=self.registry)
        self.busy = Gauge("hwocr_busy_requests", "Requests waiting for or running recognition",
                          registry=self.registry)
        self.in_flight = Gauge("hwocr_in_flight_requests", "HTTP requests being handled", registry=self.registry)

    def error(self, path: str, kind: str) -> None:
        self.errors.labels(endpoint_label(path), kind).inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def middleware_class(self):
        metrics = self

        class MetricsMiddleware:
            """Pure ASGI middleware: counts requests and times them up to the end of the response."""

            def __init__(self, app) -> None:
                self.app = app

            async def __call__(self, scope, receive, send):
                if scope["type"] != "http":
                    return await self.app(scope, receive, send)
                status = {"code": 500}

                async def send_wrapper(message):
                    if message["type"] == "http.response.start":
                        status["code"] = message["status"]
                    await send(message)

                t = time.perf_counter()
                metrics.in_flight.inc()
                try:
                    await self.app(scope, receive, send_wrapper)
                finally:
                    metrics.in_flight.dec()
                    ep = endpoint_label(scope.get("path", ""))
                    metrics.latency.labels(ep).observe(time.perf_counter() - t)
                    metrics.requests.labels(ep, method_label(scope.get("method", "")), status_label(status["code"])).inc()

        return MetricsMiddleware
