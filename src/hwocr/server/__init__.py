"""HTTP service and web page for hwocr (``hwocr serve``; needs the ``server`` extra).

>>> from hwocr.server import ServerConfig, create_app
>>> app = create_app(ServerConfig(langs=("zh",)))   # an ASGI app; models load in its lifespan

Importing this package does not import FastAPI: ``hwocr.server.cli`` must stay importable without the extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ServerConfig", "create_app"]

if TYPE_CHECKING:
    from .app import ServerConfig, create_app


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module 'hwocr.server' has no attribute {name!r}")
