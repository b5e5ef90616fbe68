"""The FastAPI application: /v1/line, /v1/page, /healthz, /metrics and the web page at /.

Design:
- One :class:`~hwocr.reader.Reader` per (language, decoder), loaded once (the preloaded languages in the
  lifespan, anything else on first use) and shared by all requests. A Reader is safe to call from several
  threads: the OpenVINO session keeps one infer request per thread.
- Image decoding and recognition run in a fixed :class:`~concurrent.futures.ThreadPoolExecutor` (``workers``
  threads, so at most that many infer requests exist), never on the event loop. At most
  ``workers + max_queue`` requests may wait for it; more get 503. A request that does not finish within
  ``timeout_s`` gets 504: its queued work is dropped, and work already running is cancelled
  (:mod:`hwocr.cancel`: it stops at its next batch or line). ``/healthz`` is "degraded" while a worker is
  stuck past the time limit, and answers 503 when all are.
- Inputs are bounded by what they cost: upload bytes, pixels (``max_line_pixels`` for a line), and a
  line's recognition windows (``max_line_windows``); only the formats of :mod:`hwocr.imageio` decode.
- Every error is ``{"error": "one line"}`` with a 4xx/5xx status; the server keeps serving. With an
  API key, ``/metrics``, ``/docs`` and ``/openapi.json`` need it too (unless ``public_metrics`` /
  ``public_docs``); a Host allowlist (``allowed_hosts``) and security headers (:mod:`.security`) apply
  to every response.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import dataclasses
import logging
import os
import re
import threading
import time
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, Literal, Optional

from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..cancel import Cancelled, Token, running_under
from ..errors import HwocrError, ImageError, InputTooLarge
from .metrics import Metrics
from .schemas import ErrorOut, HealthOut, LineOut, PageOut
from .security import UNAUTHORIZED, HostAllowlist, OneValueEach, RequireKey, SecurityHeaders, WholeFiles, key_matches

log = logging.getLogger("hwocr.server")

STATIC = Path(__file__).resolve().parent / "static"
LANGS = ("auto", "zh", "ja")
MAX_TOP_K = 10
#: a job running this much longer than the request time limit counts as stuck (/healthz)
STUCK_GRACE_S = 1.0
RAW_TYPES = ("image/", "application/octet-stream")

Lang = Literal["auto", "zh", "ja"]
Decoder = Literal["greedy", "beam"]
DECODER_DOC = ("greedy, or beam (CTC beam search with a character language model); "
               "default: the engine's default (beam for ppocr)")
HINT_DOC = ("with lang auto: the language of the text around this line (the lines written before it), "
            "which the line reads as when its own characters do not decide (an isolated kanji); lang_by "
            "in the answer says what decided")
PAGE_HINT_DOC = ("with lang auto: the language of the document around this page, which a block reads as when "
                 "its own characters do not decide (a name field, an isolated kanji) before the page's other "
                 "blocks; each line's lang_by says what decided")
#: (lang, decoder or None for the engine's default, max_pixels) -> a Reader-like object
#: (``read_arrays``, optionally ``read_page``)
ReaderFactory = Callable[[str, str, int], Any]


@dataclass
class ServerConfig:
    """Settings of one app. Sizes in bytes/pixels, times in seconds."""

    langs: tuple[str, ...] = ("auto",)  #: loaded at start-up; the others load on first request
    engine: str = "ppocr"
    device: str = "CPU"
    precision: Optional[str] = None  #: model precision (None: the engine's default; ppocr: FP32 or INT8)
    api_key: Optional[str] = None  #: when set, /v1/* (and /metrics, the docs) need header X-API-Key with it
    public_metrics: bool = False  #: /metrics without the key
    public_docs: bool = False  #: /docs and /openapi.json without the key
    allowed_hosts: Optional[tuple[str, ...]] = None  #: Host header names answered (None: any)
    max_upload_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000  #: a page
    max_line_pixels: int = 16_000_000  #: a line (a 12 MP phone photo fits)
    max_line_windows: int = 2  #: recognition windows a line may need (ppocr: 2 x 4096 columns at height 48)
    timeout_s: float = 30.0  #: per request: waiting for a worker + decoding + recognition
    upload_timeout_s: float = 60.0  #: receiving the body
    header_timeout_s: float = 10.0  #: receiving a request's headers (from connecting, or the last response)
    send_timeout_s: float = 30.0  #: the client taking output that waits for it (else the connection is dropped)
    keep_alive_s: float = 5.0  #: an idle keep-alive connection is closed after this
    max_connections: int = 256  #: open connections; the next is answered 503 and closed
    #: open connections from one client address (None: a quarter of max_connections); the next gets 503
    max_connections_per_client: Optional[int] = None
    drain_s: Optional[float] = None  #: on SIGTERM, time for requests in flight (default: timeout_s + 5)
    workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    max_queue: int = 64  #: requests that may wait for a worker before new ones get 503
    warmup: bool = True  #: run one recognition per preloaded language at start-up (compiles kernels)

    def __post_init__(self) -> None:
        if self.api_key is not None and not self.api_key.strip():
            raise HwocrError("the API key is empty: set a non-empty key, or none to serve without one")
        if self.drain_s is None:
            self.drain_s = self.timeout_s + 5.0
        if self.max_connections_per_client is None:
            self.max_connections_per_client = max(1, self.max_connections // 4)


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = _one_line(message)
        self.kind = kind
        self.headers = headers


def _one_line(s: str) -> str:
    s = " ".join(str(s).split())
    return s[:300] if s else "error"


def default_reader_factory(engine: str = "ppocr", device: str = "CPU", precision: str | None = None) -> ReaderFactory:
    """Readers of one language share one compiled model whatever their decoder (``Reader.with_decoder``)."""
    bases: dict[tuple[str, int], Any] = {}
    lock = threading.Lock()

    def make(lang: str, decoder: str | None, max_pixels: int):
        from ..reader import Reader

        with lock:
            base = bases.get((lang, max_pixels))
            if base is None:
                base = bases[(lang, max_pixels)] = Reader(lang=lang, engine=engine, device=device, precision=precision,
                                                          top_k=MAX_TOP_K, max_pixels=max_pixels)
        return base if decoder is None else base.with_decoder(decoder)

    return make


class Readers:
    """Reader cache keyed by (lang, decoder); ``get`` blocks (call it from a worker thread)."""

    def __init__(self, factory: ReaderFactory, max_pixels: int) -> None:
        self._factory = factory
        self._max_pixels = max_pixels
        self._readers: dict[tuple[str, str | None], Any] = {}
        self._failed: dict[tuple[str, str | None], HwocrError] = {}  # a build lacking e.g. the beam decoder stays so
        self._locks: dict[tuple[str, str | None], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, lang: str, decoder: str | None = None):
        key = (lang, decoder)
        r = self._readers.get(key)
        if r is not None:
            return r
        default = self._readers.get((lang, None))
        if default is not None and getattr(default, "decoder", None) == decoder:
            self._readers[key] = default  # the default reader already uses this decoder: share it
            return default
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            r = self._readers.get(key)
            if r is None:
                if key in self._failed:
                    raise self._failed[key]
                try:
                    r = self._factory(lang, decoder, self._max_pixels)
                except HwocrError as e:
                    self._failed[key] = e
                    raise
                self._readers[key] = r
        return r

    def loaded(self) -> list[str]:
        return sorted({lang for lang, _ in self._readers})

    def any(self):
        return next(iter(self._readers.values()), None)


class Pool:
    """A fixed thread pool with a bound on waiting work and a per-job deadline."""

    def __init__(self, workers: int, max_queue: int) -> None:
        self.workers = workers
        self.capacity = workers + max_queue
        self._ex = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hwocr-infer")
        self._busy = 0
        self._admitted = 0
        self._lock = threading.Lock()
        self._running: dict[Token, float] = {}  # jobs on a worker -> when they started (monotonic)

    @property
    def busy(self) -> int:
        return self._busy

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """A request's place, taken before its body is read and held until its answer: at most
        ``capacity`` requests receive an upload, wait for a worker or run at once (the next gets a 503
        before its body is read), so the uploads held grow with workers + queue, not with connections."""
        with self._lock:
            if self._admitted >= self.capacity:
                raise _busy_error(self._admitted)
            self._admitted += 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    def _done(self, _f) -> None:
        with self._lock:
            self._busy -= 1

    async def run(self, fn: Callable[[], Any], timeout: float,
                  gone: Callable[[], Awaitable[bool]] | None = None):
        """``fn()`` on a worker within ``timeout`` s (else a 504); ``gone``: polled while waiting, true once
        the client has hung up, which cancels the job (queued: dropped; running: stopped at its next
        check) and answers 499 (logged and counted; nobody reads it)."""
        with self._lock:
            if self._busy >= self.capacity:
                raise _busy_error(self._busy)
            self._busy += 1
        token = Token()

        def job():
            with self._lock:
                self._running[token] = time.monotonic()
            try:
                with running_under(token):
                    return fn()
            finally:
                with self._lock:
                    self._running.pop(token, None)

        try:
            fut = self._ex.submit(job)
        except RuntimeError:  # shut down
            self._done(None)
            raise ApiError(503, "server is shutting down", "busy") from None
        fut.add_done_callback(self._done)
        # cancelling the wrapper cancels the job if it has not started yet; the token stops it if it has
        waiting = asyncio.wrap_future(fut)
        try:
            return await asyncio.wait_for(_until_done(waiting, gone), timeout)
        except asyncio.TimeoutError:
            waiting.cancel()
            token.cancel(f"timed out after {timeout:g} s")
            raise ApiError(504, f"recognition took longer than the {timeout:g} s limit", "timeout") from None
        except _ClientGone:
            waiting.cancel()
            token.cancel("the client closed the connection")
            raise ApiError(499, "the client closed the connection before the answer", "abandoned") from None
        except asyncio.CancelledError:  # the server is stopping
            waiting.cancel()
            token.cancel("the request was abandoned")
            raise

    def stuck(self, after_s: float) -> int:
        """Workers on a job that started more than ``after_s`` seconds ago (past any request's limit)."""
        now = time.monotonic()
        with self._lock:
            return sum(1 for t in self._running.values() if now - t > after_s)

    def shutdown(self) -> None:
        self._ex.shutdown(wait=False, cancel_futures=True)


#: how often a request waiting for its recognition looks whether its client is still there
GONE_POLL_S = 0.25


def _busy_error(n: int) -> ApiError:
    return ApiError(503, f"server busy ({n} requests in progress); retry later", "busy", {"Retry-After": "1"})


class _ClientGone(Exception):
    pass


async def _until_done(fut: "asyncio.Future[Any]", gone: Callable[[], Awaitable[bool]] | None) -> Any:
    """``await fut``, raising :class:`_ClientGone` as soon as ``gone()`` says the client hung up."""
    if gone is None:
        return await fut
    while True:
        done, _ = await asyncio.wait({fut}, timeout=GONE_POLL_S)
        if done:
            return fut.result()
        if await gone():
            raise _ClientGone


def load_readers(config: ServerConfig, reader_factory: ReaderFactory | None = None) -> Readers:
    """The reader cache of an app with ``config.langs`` loaded (and warmed up): ``hwocr serve`` calls it
    before starting, so that a bad engine or precision is a one-line error, not a failed start-up."""
    readers = Readers(reader_factory or default_reader_factory(config.engine, config.device, config.precision),
                      config.max_pixels)
    t = time.perf_counter()
    for lang in config.langs:
        _preload(readers, lang, config.warmup)
    if config.langs:
        log.info("hwocr: loaded %s in %.1f s", ",".join(config.langs), time.perf_counter() - t)
    return readers


def create_app(config: ServerConfig | None = None, reader_factory: ReaderFactory | None = None,
               readers: Readers | None = None) -> FastAPI:
    """Build the ASGI app. ``reader_factory(lang, decoder, max_pixels)`` replaces Reader construction
    (tests); ``readers`` (from :func:`load_readers`) are used as they are, else they load at start-up."""
    cfg = config or ServerConfig()
    for lang in cfg.langs:
        if lang not in LANGS:
            raise HwocrError(f"unknown language {lang!r} (expected one of: {', '.join(LANGS)})")
    # python-multipart logs a warning line of its own for each malformed body, which the client's JSON 400
    # already answers (and a client could fill the log with them)
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        pool = Pool(cfg.workers, cfg.max_queue)
        loaded = readers
        if loaded is None:
            loaded = await asyncio.get_running_loop().run_in_executor(None, load_readers, cfg, reader_factory)
        app.state.readers = loaded
        app.state.pool = pool
        try:
            yield
        finally:
            pool.shutdown()

    app = FastAPI(
        title="hwocr",
        version=__version__,
        description="Offline OCR for handwritten Chinese (simplified) and Japanese text lines. "
        "Send an image as multipart/form-data (field `file`) or as the raw request body. "
        "Every error is `{\"error\": \"one line\"}`.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: blank offline; /docs is rendered here instead
        redoc_url=None,
    )
    app.state.config = cfg
    app.state.metrics = metrics

    # -- errors ------------------------------------------------------------------------------
    def error_response(status: int, message: str, kind: str, path: str,
                       headers: dict[str, str] | None = None) -> JSONResponse:
        metrics.error(path, kind)
        return JSONResponse({"error": _one_line(message)}, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.message, exc.kind, request.url.path, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        if errs:
            e = errs[0]
            loc = [str(x) for x in e.get("loc", ())]
            where = f"{loc[0]} parameter {'.'.join(loc[1:])!r}" if len(loc) > 1 else ".".join(loc) or "request"
            msg = f"{where}: {e.get('msg', 'invalid')}"
        else:
            msg = "invalid request"
        return error_response(422, msg, "invalid_parameter", request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        return error_response(exc.status_code, detail.lower() if detail[:1].isupper() else detail,
                              f"http_{exc.status_code}", request.url.path, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception):
        log.exception("hwocr: internal error on %s", request.url.path)
        return error_response(500, f"internal error ({type(exc).__name__})", "internal", request.url.path)

    # -- auth --------------------------------------------------------------------------------
    key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="Required when the server was started with --api-key.")

    async def require_key(key: Optional[str] = Security(key_header)) -> None:
        if cfg.api_key is None:
            return
        # header values arrive decoded as latin-1: re-encoding gives the bytes sent (UTF-8 keys work)
        if not key_matches(key.encode("latin-1", "replace") if key else None, cfg.api_key):
            raise ApiError(401, UNAUTHORIZED, "auth", {"WWW-Authenticate": "X-API-Key"})

    error_docs: dict[int | str, dict[str, Any]] = {
        s: {"model": ErrorOut, "description": d} for s, d in (
            (400, "bad input: empty body, malformed multipart, unreadable/truncated image"),
            (401, "missing or wrong API key"),
            (408, "the upload was not received in time"),
            (413, "upload or image too large, or a line that needs too many recognition windows"),
            (415, "unsupported content type"),
            (422, "invalid parameter"),
            (503, "server busy"),
            (504, "recognition timed out"),
        )
    }

    # -- endpoints ---------------------------------------------------------------------------
    @app.post("/v1/line", response_model=LineOut, responses=error_docs, dependencies=[Depends(require_key)],
              openapi_extra=_body_doc(page=False), summary="Read one text line")
    async def read_line(
        request: Request,
        lang: Lang = Query("auto", description="language of the text (auto: decided per line)"),
        top_k: int = Query(0, ge=0, le=MAX_TOP_K, description="alternatives per character"),
        decoder: Optional[Decoder] = Query(None, description=DECODER_DOC),
        hint: Optional[Literal["zh", "ja"]] = Query(None, description=HINT_DOC),
    ) -> JSONResponse:
        t0 = time.perf_counter()
        with request.app.state.pool.admitted():  # before the body: a busy server holds no more uploads
            data, _ctype = await _receive_image(request, cfg, page=False)
            readers: Readers = request.app.state.readers

            def work():
                from ..imageio import load_image

                reader = readers.get(lang, decoder)
                rgb = load_image(data, min(cfg.max_line_pixels, cfg.max_pixels)).rgb
                if hasattr(reader, "check_line"):
                    reader.check_line(rgb, "upload", max_windows=cfg.max_line_windows)
                kw = _supported_kwargs(reader.read_arrays, hint=hint) if hint and lang == "auto" else {}
                return rgb.shape, reader.read_arrays([rgb], **kw)[0]

            shape, res = await _run(request, work, cfg)
        out = res.to_dict()
        for c in out["chars"]:
            c["alternatives"] = c["alternatives"][:top_k]
        out.update(lang=res.lang or lang, width=int(shape[1]), height=int(shape[0]),
                   ms=round((time.perf_counter() - t0) * 1000, 1))
        return JSONResponse(out)

    @app.post("/v1/page", response_model=PageOut, responses={**error_docs, 501: {
        "model": ErrorOut, "description": "page reading is not available in this build"}},
        dependencies=[Depends(require_key)], openapi_extra=_body_doc(page=True),
        summary="Read a whole page (line detection + recognition)")
    async def read_page(
        request: Request,
        lang: Lang = Query("auto", description="language of the text (auto: decided per block)"),
        decoder: Optional[Decoder] = Query(None, description=DECODER_DOC),
        direction: Literal["auto", "horizontal", "vertical"] = Query("auto", description="reading direction"),
        page: int = Query(0, ge=0, le=9999, description="page index in a PDF or multi-page TIFF"),
        hint: Optional[Literal["zh", "ja"]] = Query(None, description=PAGE_HINT_DOC),
    ) -> JSONResponse:
        t0 = time.perf_counter()
        if not _page_supported(request.app.state.readers):
            raise ApiError(501, "page reading is not available in this build of hwocr", "not_implemented")
        with request.app.state.pool.admitted():  # before the body: a busy server holds no more uploads
            data, ctype = await _receive_image(request, cfg, page=True)
            readers: Readers = request.app.state.readers

            def work():
                from ..imageio import load_image

                reader = readers.get(lang, decoder)
                if not hasattr(reader, "read_page"):
                    raise ApiError(501, "page reading is not available in this build of hwocr", "not_implemented")
                kw = _supported_kwargs(reader.read_page, direction=direction, page=page,
                                       **({"hint": hint} if hint and lang == "auto" else {}))
                if page or ctype == "application/pdf" or data[:5] == b"%PDF-":
                    return None, reader.read_page(data, **kw)  # documents: the reader picks the page
                rgb = load_image(data, cfg.max_pixels).rgb
                return rgb.shape, reader.read_page(rgb, **kw)

            shape, res = await _run(request, work, cfg)
        out = _as_dict(res)
        if "source" in out:  # the reader names its input: here an internal "<array ...>" or "<N bytes>"
            out["source"] = "upload"
        out.setdefault("lang", lang)
        if shape is not None:
            out.setdefault("width", int(shape[1]))
            out.setdefault("height", int(shape[0]))
        out["ms"] = round((time.perf_counter() - t0) * 1000, 1)
        return JSONResponse(out)

    @app.get("/healthz", response_model=HealthOut, summary="Liveness and readiness",
             responses={503: {"model": HealthOut, "description": "every worker is stuck past the time limit"}})
    async def healthz(request: Request) -> JSONResponse:
        readers: Readers = request.app.state.readers
        pool: Pool = request.app.state.pool
        stuck = pool.stuck(cfg.timeout_s + STUCK_GRACE_S)
        out = HealthOut(status="degraded" if stuck else "ok", version=__version__, langs=readers.loaded(),
                        page=_page_supported(readers), workers=pool.workers, busy=pool.busy, stuck=stuck)
        return JSONResponse(out.model_dump(), status_code=503 if stuck >= pool.workers else 200)

    @app.head("/healthz", include_in_schema=False)
    async def healthz_head(request: Request) -> Response:  # what load balancers and monitors send
        return Response(status_code=(await healthz(request)).status_code)

    @app.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
    async def docs() -> HTMLResponse:
        from .docs import render_docs

        return HTMLResponse(render_docs(app.openapi()))

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def prometheus_metrics(request: Request) -> Response:
        metrics.busy.set(request.app.state.pool.busy)
        body, ctype = metrics.render()
        return Response(body, media_type=ctype)

    @app.head("/metrics", include_in_schema=False)
    async def prometheus_metrics_head(request: Request) -> Response:  # a scraper's or monitor's probe
        return await prometheus_metrics(request)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)  # HEAD: what uptime monitors send
    async def index() -> FileResponse:
        if not (STATIC / "index.html").is_file():
            raise ApiError(404, "the web page is not installed (hwocr/server/static is missing)", "no_web_page")
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    if STATIC.is_dir():  # a wheel built without the package data still serves the API
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # middleware: the last added is the outermost
    app.add_middleware(WholeFiles)
    app.add_middleware(OneValueEach, on_refuse=lambda p: metrics.error(p, "duplicate_parameter"))
    if cfg.api_key is not None:
        guarded = (*(() if cfg.public_metrics else ("/metrics",)), *(() if cfg.public_docs else ("/docs", "/openapi.json")))
        if guarded:
            app.add_middleware(RequireKey, key=cfg.api_key, paths=guarded, on_refuse=lambda p: metrics.error(p, "auth"))
    if cfg.allowed_hosts is not None:
        app.add_middleware(HostAllowlist, hosts=cfg.allowed_hosts, on_refuse=lambda p: metrics.error(p, "host"))
    app.add_middleware(SecurityHeaders)
    app.add_middleware(metrics.middleware_class())  # outermost: sees the final status of every request
    return app


# -- helpers ---------------------------------------------------------------------------------
def _preload(readers: Readers, lang: str, warmup: bool) -> None:
    r = readers.get(lang)
    if warmup:
        import numpy as np

        blank = np.full((48, 96, 3), 255, np.uint8)
        r.read_arrays([blank])
        ens = getattr(r, "_ensemble", None)
        if ens is not None:  # the second model for Japanese lines: loaded now, not on the first request
            ens.second.read_arrays([blank])


def _page_supported(readers: Readers) -> bool:
    r = readers.any()
    if r is not None:
        return hasattr(r, "read_page")
    from ..reader import Reader

    return hasattr(Reader, "read_page")


def _supported_kwargs(fn: Callable[..., Any], **kw: Any) -> dict[str, Any]:
    """The keyword arguments ``fn`` accepts (read_page's options may differ between builds)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return kw
    return {k: v for k, v in kw.items() if k in params}


def _as_dict(res: Any) -> dict[str, Any]:
    if hasattr(res, "to_dict"):
        return dict(res.to_dict())
    if dataclasses.is_dataclass(res) and not isinstance(res, type):
        return dataclasses.asdict(res)
    if isinstance(res, dict):
        return dict(res)
    raise TypeError(f"read_page returned {type(res).__name__}")


async def _run(request: Request, work: Callable[[], Any], cfg: ServerConfig):
    pool: Pool = request.app.state.pool
    try:
        return await pool.run(work, cfg.timeout_s, gone=request.is_disconnected)
    except InputTooLarge as e:
        raise ApiError(413, _user_message(e), "too_large") from None
    except ImageError as e:
        raise ApiError(400, _user_message(e), "bad_image") from None
    except Cancelled as e:  # only if the token was cancelled before the 504 went out
        raise ApiError(504, f"recognition stopped: {e}", "timeout") from None
    except HwocrError as e:  # e.g. a decoder that this build lacks
        raise ApiError(400, _user_message(e), "unavailable") from None


_INTERNAL_NAME = re.compile(r"<(?:\d+ bytes|array [^>]*|PIL image [^>]*|line \d+)>(#\d+)?")


def _user_message(e: Exception) -> str:
    """The message with the library's names of in-memory inputs ("<1234 bytes>", "<array (h, w, 3) uint8>")
    replaced by "upload"."""
    return _INTERNAL_NAME.sub(lambda m: "upload" + (m.group(1) or ""), str(e))


async def _receive_image(request: Request, cfg: ServerConfig, page: bool) -> tuple[bytes, str]:
    """The image bytes of a multipart (field ``file``) or raw body, with the size and type checks."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    multipart = ctype == "multipart/form-data"
    raw_ok = ctype == "" or ctype.startswith(RAW_TYPES) or (page and ctype == "application/pdf")
    if not multipart and not raw_ok:
        raise ApiError(415, f"unsupported content type {ctype!r}: send multipart/form-data with a 'file' part, "
                       "or the image itself as the body (image/*, application/octet-stream)", "content_type")
    limit = cfg.max_upload_bytes
    # a multipart body may be this much larger: the file itself is held to the limit below
    body = _Body(request, limit + (MULTIPART_OVERHEAD if multipart else 0), shown_limit=limit)
    try:
        # a multipart body is parsed as it arrives (its file part spooled), not held whole first as well
        got = await asyncio.wait_for(_multipart_file(request, body) if multipart else body.whole(), cfg.upload_timeout_s)
    except asyncio.TimeoutError:
        raise ApiError(408, f"the upload was not received within {cfg.upload_timeout_s:g} s", "upload_timeout") from None
    if not body.received:
        raise ApiError(400, "empty request body: send an image", "empty")
    if not multipart:
        return got, ctype
    data, part_type = got
    if not data:
        raise ApiError(400, "the uploaded file is empty", "empty")
    if len(data) > limit:
        raise ApiError(413, f"upload too large (limit {_mb(limit)})", "too_large")
    return data, part_type


#: what a multipart body may hold besides its file (boundaries, part headers, a few small fields): an
#: image just under the upload limit is accepted sent either way
MULTIPART_OVERHEAD = 64 * 1024


class _Body:
    """A request's body as it arrives, held to ``limit`` bytes (a Content-Length over it is refused before
    any byte is read); ``received`` counts the bytes so far."""

    def __init__(self, request: Request, limit: int, shown_limit: int | None = None) -> None:
        self.request, self.limit, self.received = request, limit, 0
        self.too_big = ApiError(413, f"upload too large (limit {_mb(shown_limit or limit)})", "too_large")

    async def chunks(self):
        from starlette.requests import ClientDisconnect

        cl = self.request.headers.get("content-length")
        if cl is not None:
            try:
                if int(cl) > self.limit:
                    raise self.too_big
            except ValueError:
                raise ApiError(400, "invalid Content-Length header", "bad_request") from None
        try:
            async for chunk in self.request.stream():
                self.received += len(chunk)
                if self.received > self.limit:
                    raise self.too_big
                yield chunk
        except ClientDisconnect:  # the client went away mid-upload: nobody to answer, nothing went wrong here
            raise ApiError(400, "the client closed the connection before the upload ended", "disconnected") from None

    async def whole(self) -> bytes:
        return b"".join([c async for c in self.chunks()])


async def _multipart_file(request: Request, body: _Body) -> tuple[bytes, str]:
    from starlette.datastructures import UploadFile
    from starlette.formparsers import MultiPartParser

    ctype_header = request.headers.get("content-type", "")
    if "boundary=" not in ctype_header:
        raise ApiError(400, "malformed multipart body: the Content-Type has no boundary", "bad_multipart")
    try:
        form = await MultiPartParser(request.headers, body.chunks(), max_files=4, max_fields=16).parse()
    except ApiError:  # the body's own limits (too large, the client gone)
        raise
    except Exception as e:  # noqa: BLE001 - python-multipart/starlette raise several types
        if not body.received:
            raise ApiError(400, "empty request body: send an image", "empty") from None
        detail = getattr(e, "message", None) or str(e) or type(e).__name__
        raise ApiError(400, f"malformed multipart body ({_one_line(detail)[:120]})", "bad_multipart") from None
    try:
        files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
        if len(files) > 1:  # which one to read would be a guess (the last one used to win silently)
            raise ApiError(400, f"the multipart body has {len(files)} files: send one image per request", "bad_multipart")
        part = form.get("file")
        if not isinstance(part, UploadFile):
            part = next((v for _, v in form.multi_items() if isinstance(v, UploadFile)), None)
        if part is None:
            raise ApiError(400, "the multipart body has no file part (send the image in a field named 'file')",
                           "bad_multipart")
        data = await part.read()
        return data, (part.content_type or "").split(";")[0].strip().lower()
    finally:
        await form.close()


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _body_doc(page: bool) -> dict[str, Any]:
    raw = {"schema": {"type": "string", "format": "binary"}}
    content: dict[str, Any] = {
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["file"],
                       "properties": {"file": {"type": "string", "format": "binary",
                                               "description": "the image (PNG, JPEG, WebP, BMP, TIFF, ...)"}}},
        },
        "image/png": raw,
        "image/jpeg": raw,
        "application/octet-stream": raw,
    }
    if page:
        content["application/pdf"] = raw
    return {"requestBody": {"required": True, "content": content,
                            "description": "the image, as a multipart upload (field `file`) or the raw body"}}
