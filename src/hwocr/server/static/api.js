/* Requests to the hwocr API: one channel per source (pad, upload), a newer request cancels the older,
 * every request has a time limit, and every failure becomes one clear sentence. */
"use strict";

export const TIMEOUT_MS = { line: 30_000, page: 180_000 };

export class Channel {
  constructor(settings) {
    this.settings = settings; // () => {lang, topK, apiKey}
    this.controller = null;
    this.seq = 0;
  }

  cancel() {
    this.seq++;
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  /** POST an image; resolves to {ok: true, body} | {ok: false, error, status} | null (superseded). */
  async post(endpoint, blob, extra = {}) {
    this.cancel();
    const my = this.seq, controller = new AbortController();
    this.controller = controller;
    const s = this.settings();
    const params = new URLSearchParams({ lang: s.lang, ...extra });
    if (endpoint === "line") params.set("top_k", s.topK);
    const headers = { "Content-Type": blob.type || "application/octet-stream" };
    if (s.apiKey) headers["X-API-Key"] = s.apiKey;
    const limit = TIMEOUT_MS[endpoint];
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; controller.abort(); }, limit);
    const t0 = performance.now();
    try {
      const res = await fetch(`/v1/${endpoint}?${params}`, { method: "POST", body: blob, headers, signal: controller.signal });
      const body = await res.json().catch(() => null);
      if (my !== this.seq) return null;
      if (res.ok && body) return { ok: true, body: { ...body, roundtrip: performance.now() - t0 } };
      return { ok: false, status: res.status, error: explain(res.status, body, s.lang) };
    } catch (e) {
      if (my !== this.seq && !timedOut) return null;
      if (timedOut) return { ok: false, status: 0, error: `The server did not answer within ${limit / 1000} s. Try again, or a smaller image.` };
      return { ok: false, status: 0, error: "Cannot reach the hwocr server (is it still running?)." };
    } finally {
      clearTimeout(timer);
      if (this.controller === controller) this.controller = null;
    }
  }
}

function explain(status, body, lang) {
  const msg = body && typeof body.error === "string" ? body.error : "";
  if (status === 401) return "This server needs an API key: enter it under ⚙ Settings.";
  if (status === 422 && lang === "auto" && /lang/i.test(msg || "lang"))
    return "This server cannot choose the language by itself yet: pick 中文 or 日本語 above.";
  if (status === 413) return `Too large for this server${msg ? ` (${msg})` : ""}.`;
  if (status === 503) return "The server is busy; try again in a moment.";
  if (status === 504) return "Recognition took too long on the server; try a smaller image.";
  if (status === 501) return "Whole-page reading is not available on this server.";
  return msg ? `The server could not read this: ${msg}` : `The server answered with HTTP ${status}.`;
}
