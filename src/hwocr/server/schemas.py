"""Pydantic models of the HTTP API (they make the OpenAPI schema; responses are built from LineResult.to_dict)."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field


class ErrorOut(BaseModel):
    """Every error response: one line meant for the user."""

    error: str = Field(..., examples=["upload: not an image (unrecognised format)"])


class AlternativeOut(BaseModel):
    char: str
    confidence: float = Field(..., ge=0, le=1)


class CharOut(BaseModel):
    char: str
    confidence: float = Field(..., ge=0, le=1, description="probability of the character at its peak frame")
    x0: float = Field(..., description="start of the character's span along the line, in input-image pixels")
    x1: float = Field(..., description="end of the span, in input-image pixels")
    alternatives: list[AlternativeOut] = Field(default_factory=list, description="top-k candidates, best first")


class LineOut(BaseModel):
    """A recognised text line (``LineResult.to_dict()`` plus the request's language and image size)."""

    text: str
    confidence: float = Field(..., ge=0, le=1, description="mean character confidence (0 for an empty line)")
    chars: list[CharOut] = Field(default_factory=list)
    engine: str = ""
    policy: str = Field("", description='"" or "split:N" (the line was read in N overlapping windows)')
    notes: list[str] = Field(default_factory=list)
    precision: str = Field("", description="precision the recogniser ran in: f32, bf16, INT8+bf16, ...")
    lang: str
    lang_by: str = Field("", description='with lang auto, what decided lang: "evidence" (the line\'s own '
                         'characters), "hint" (the request\'s), "guess" (little evidence either way); "" with a fixed lang')
    width: int = Field(..., description="input image width in pixels")
    height: int = Field(..., description="input image height in pixels")
    ms: float = Field(..., description="server time spent on the request (decode + recognition), milliseconds")


class PageOut(BaseModel):
    """A recognised page (``PageResult.to_dict()``; its lines carry their boxes in page pixels)."""

    model_config = ConfigDict(extra="allow")

    text: Optional[str] = None
    lines: list[dict[str, Any]] = Field(default_factory=list)
    lang: Optional[str] = None
    ms: Optional[float] = None


class HealthOut(BaseModel):
    status: str = Field(..., examples=["ok"], description='"ok", or "degraded" while a worker is stuck past the time limit')
    version: str
    langs: list[str] = Field(..., description="languages with a loaded model")
    page: bool = Field(..., description="whether /v1/page is available in this build")
    workers: int
    busy: int = Field(..., description="requests now waiting for or running recognition")
    stuck: int = Field(0, description="workers on a job past the request time limit (all stuck: HTTP 503)")
