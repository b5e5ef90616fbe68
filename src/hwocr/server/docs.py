"""``/docs``: the API reference as one plain HTML page rendered from the OpenAPI schema on the
server (FastAPI's Swagger UI and ReDoc load their code from a CDN, so they are blank offline)."""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = "/static/style.css"


def _schema_type(s: dict[str, Any]) -> str:
    if "enum" in s:
        return " | ".join(map(str, s["enum"]))
    if "anyOf" in s:
        return " | ".join(_schema_type(x) for x in s["anyOf"])
    if "$ref" in s:
        return s["$ref"].rsplit("/", 1)[-1]
    return str(s.get("type", "any"))


def render_docs(openapi: dict[str, Any]) -> str:
    info = openapi.get("info", {})
    out = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(info.get('title', 'API'))}"
           f" API</title><link rel=\"stylesheet\" href=\"{_STYLE}\"></head><body><main class=\"docs\">",
           f"<h1>{escape(info.get('title', 'API'))} {escape(str(info.get('version', '')))}</h1>",
           f"<p>{escape(info.get('description', ''))}</p>",
           "<p>Machine-readable schema: <a href=\"/openapi.json\">/openapi.json</a>.</p>"]
    for path, ops in openapi.get("paths", {}).items():
        for method, op in ops.items():
            out.append(f"<h2><code>{escape(method.upper())} {escape(path)}</code></h2>")
            if op.get("summary"):
                out.append(f"<p>{escape(op['summary'])}</p>")
            params = op.get("parameters", [])
            if params:
                out.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>default</th><th>about</th></tr>")
                for p in params:
                    s = p.get("schema", {})
                    out.append("<tr>" + "".join(f"<td>{escape(str(x))}</td>" for x in (
                        p.get("name", ""), p.get("in", ""), _schema_type(s), s.get("default", ""),
                        p.get("description", ""))) + "</tr>")
                out.append("</table>")
            body = op.get("requestBody", {})
            if body:
                types = ", ".join(body.get("content", {}))
                out.append(f"<p>Body: {escape(body.get('description', ''))} ({escape(types)})</p>")
            codes = op.get("responses", {})
            if codes:
                out.append("<ul>" + "".join(f"<li><code>{escape(str(c))}</code> {escape(r.get('description', ''))}</li>"
                                            for c, r in codes.items()) + "</ul>")
    out.append("</main></body></html>")
    return "\n".join(out)
