/* hwocr web page: handwriting canvas, image upload/paste, live recognition. No build step, no dependencies. */
"use strict";

const $ = (id) => document.getElementById(id);
const pad = $("pad"), padEmpty = $("pad-empty"), textBox = $("result-text"), charsEl = $("chars");
const statusEl = $("status"), pageLinesEl = $("page-lines");
const DEBOUNCE_MS = 350;

// ---- settings ---------------------------------------------------------------------------
const apiKeyInput = $("api-key"), topKSelect = $("top-k");
apiKeyInput.value = localStorage.getItem("hwocr.apiKey") || "";
apiKeyInput.addEventListener("change", () => { localStorage.setItem("hwocr.apiKey", apiKeyInput.value); rerun(); });
topKSelect.addEventListener("change", rerun);
const lang = () => document.querySelector('input[name="lang"]:checked').value;
const mode = () => document.querySelector('input[name="mode"]:checked').value;
document.querySelectorAll('input[name="lang"]').forEach((r) => r.addEventListener("change", rerun));
document.querySelectorAll('input[name="mode"]').forEach((r) => r.addEventListener("change", () => { if (lastUpload) recognizeUpload(lastUpload); }));

function setStatus(msg, kind = "") {
  statusEl.textContent = msg;
  statusEl.className = "status " + kind;
}

// ---- requests ---------------------------------------------------------------------------
let seq = 0, controller = null;

async function post(endpoint, blob) {
  if (controller) controller.abort();
  controller = new AbortController();
  const my = ++seq;
  const params = new URLSearchParams({ lang: lang() });
  if (endpoint === "line") params.set("top_k", topKSelect.value);
  const headers = { "Content-Type": blob.type || "application/octet-stream" };
  if (apiKeyInput.value) headers["X-API-Key"] = apiKeyInput.value;
  setStatus("Recognising…", "busy");
  const t0 = performance.now();
  let res, body;
  try {
    res = await fetch(`/v1/${endpoint}?${params}`, { method: "POST", body: blob, headers, signal: controller.signal });
    body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  } catch (e) {
    if (e.name === "AbortError") return null;
    if (my === seq) setStatus(`Cannot reach the server (${e.message})`, "error");
    return null;
  }
  if (my !== seq) return null; // a newer request was sent meanwhile
  if (!res.ok) {
    if (res.status === 401) $("settings").open = true;
    return { error: body.error || `HTTP ${res.status}`, status: res.status };
  }
  body.roundtrip = performance.now() - t0;
  return body;
}

// ---- results ----------------------------------------------------------------------------
function shade(conf) {
  const a = Math.min(0.75, Math.max(0, (1 - conf) * 0.9));
  return `rgba(220, 38, 38, ${a.toFixed(3)})`;
}

/** Green (sure) to red (unsure), for marks drawn over images. */
function confColor(conf) {
  return `hsla(${Math.round(Math.max(0, Math.min(1, conf)) * 120)}, 75%, 42%, 0.9)`;
}

function showLine(r) {
  pageLinesEl.hidden = true;
  textBox.value = r.text;
  charsEl.replaceChildren();
  r.chars.forEach((c, i) => {
    const el = document.createElement("div");
    el.className = "char";
    el.dataset.index = i;
    const glyph = document.createElement("div");
    glyph.className = "glyph";
    glyph.textContent = c.char;
    glyph.style.background = shade(c.confidence);
    glyph.title = `confidence ${(c.confidence * 100).toFixed(1)}%`;
    const conf = document.createElement("div");
    conf.className = "conf";
    conf.textContent = `${(c.confidence * 100).toFixed(0)}%`;
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.innerHTML = `<i style="width:${(c.confidence * 100).toFixed(1)}%"></i>`;
    el.append(glyph, conf, bar);
    const alts = document.createElement("div");
    alts.className = "alts";
    for (const a of c.alternatives || []) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "alt" + (a.char === c.char ? " current" : "");
      b.dataset.char = a.char;
      b.title = `replace with ${a.char} (${(a.confidence * 100).toFixed(1)}%)`;
      b.innerHTML = "<b></b><span></span>";
      b.firstChild.textContent = a.char;
      b.lastChild.textContent = a.confidence >= 0.001 ? `${(a.confidence * 100).toFixed(a.confidence >= 0.1 ? 0 : 1)}%` : "<0.1%";
      b.addEventListener("click", () => replaceChar(i, a.char, el));
      alts.append(b);
    }
    if (alts.childElementCount) el.append(alts);
    charsEl.append(el);
  });
  const conf = r.chars.length ? ` · confidence ${(r.confidence * 100).toFixed(0)}%` : "";
  setStatus(r.text ? `${r.chars.length} characters${conf} · ${Math.round(r.roundtrip)} ms` : "No text found.");
}

function replaceChar(i, ch, el) {
  const arr = Array.from(textBox.value);
  if (i < arr.length) arr[i] = ch;
  textBox.value = arr.join("");
  el.querySelector(".glyph").textContent = ch;
  el.classList.add("edited");
  el.querySelectorAll(".alt").forEach((b) => b.classList.toggle("current", b.dataset.char === ch));
  textBox.dispatchEvent(new Event("input"));
}

function showError(r) {
  setStatus(r.error, "error");
}

// ---- canvas -----------------------------------------------------------------------------
const ctx = pad.getContext("2d");
let strokes = [], current = null, timer = null, dpr = 1;

function resizePad() {
  dpr = window.devicePixelRatio || 1;
  const rect = pad.getBoundingClientRect();
  pad.width = Math.round(rect.width * dpr);
  pad.height = Math.round(rect.height * dpr);
  redraw();
}

function penWidth() { return Math.max(4, Math.min(10, pad.clientHeight / 36)); }

function drawStroke(s, c = ctx) {
  const pts = s.points;
  c.strokeStyle = "#000";
  c.fillStyle = "#000";
  c.lineCap = "round";
  c.lineJoin = "round";
  if (pts.length === 1) {
    c.beginPath();
    c.arc(pts[0].x, pts[0].y, s.width * (0.5 + pts[0].p * 0.5) / 2, 0, Math.PI * 2);
    c.fill();
    return;
  }
  for (let k = 1; k < pts.length; k++) {
    const a = pts[k - 1], b = pts[k];
    c.lineWidth = s.width * (0.5 + (a.p + b.p) / 4);
    c.beginPath();
    if (k >= 2) {
      const z = pts[k - 2];
      c.moveTo((z.x + a.x) / 2, (z.y + a.y) / 2);
      c.quadraticCurveTo(a.x, a.y, (a.x + b.x) / 2, (a.y + b.y) / 2);
    } else {
      c.moveTo(a.x, a.y);
      c.lineTo((a.x + b.x) / 2, (a.y + b.y) / 2);
    }
    c.stroke();
  }
  const l = pts[pts.length - 1], m = pts[pts.length - 2];
  c.beginPath();
  c.moveTo((m.x + l.x) / 2, (m.y + l.y) / 2);
  c.lineTo(l.x, l.y);
  c.stroke();
}

function redraw() {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  strokes.forEach((s) => drawStroke(s));
  if (current) drawStroke(current);
  padEmpty.hidden = strokes.length > 0 || !!current;
}

function point(e) {
  const r = pad.getBoundingClientRect();
  // mice report pressure 0.5 while a button is down; pens and some touch screens report real pressure
  const p = e.pointerType === "pen" && e.pressure > 0 ? e.pressure : 0.5;
  return { x: e.clientX - r.left, y: e.clientY - r.top, p };
}

pad.addEventListener("pointerdown", (e) => {
  if (e.button !== 0 && e.pointerType === "mouse") return;
  e.preventDefault();
  try { pad.setPointerCapture(e.pointerId); } catch { /* synthetic or already released pointer */ }
  clearTimeout(timer);
  current = { points: [point(e)], width: penWidth(), id: e.pointerId };
  redraw();
});
pad.addEventListener("pointermove", (e) => {
  if (!current || e.pointerId !== current.id) return;
  const evs = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const ev of evs.length ? evs : [e]) current.points.push(point(ev));
  redraw();
});
function endStroke(e) {
  if (!current || e.pointerId !== current.id) return;
  strokes.push(current);
  current = null;
  redraw();
  schedule();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(recognizePad, DEBOUNCE_MS);
}

$("undo").addEventListener("click", undo);
$("clear").addEventListener("click", clearPad);
function undo() {
  strokes.pop();
  redraw();
  if (strokes.length) schedule(); else clearResult();
}
function clearPad() {
  strokes = [];
  redraw();
  clearResult();
}
function clearResult() {
  clearTimeout(timer);
  seq++;
  if (controller) controller.abort();
  textBox.value = "";
  charsEl.replaceChildren();
  setStatus("Ready.");
}
document.addEventListener("keydown", (e) => {
  if (e.target === textBox || e.target.tagName === "INPUT") return;
  if ((e.ctrlKey || e.metaKey) && e.key === "z") { e.preventDefault(); undo(); }
  if (e.key === "Escape") clearPad();
});

/** The ink's bounding box (CSS px), widened so a flat character such as 一 still gets a square-ish frame. */
function inkBox() {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, w = 0;
  for (const s of strokes) {
    w = Math.max(w, s.width);
    for (const p of s.points) {
      x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x); y1 = Math.max(y1, p.y);
    }
  }
  if (!isFinite(x0)) return null;
  let h = Math.max(y1 - y0, x1 - x0 > 0 ? Math.min(x1 - x0, pad.clientHeight * 0.5) : 0, 24) + w;
  const cy = (y0 + y1) / 2;
  const padY = Math.max(12, h * 0.18), padX = Math.max(12, h * 0.25);
  const box = {
    x0: Math.max(0, x0 - w / 2 - padX), x1: Math.min(pad.clientWidth, x1 + w / 2 + padX),
    y0: Math.max(0, cy - h / 2 - padY), y1: Math.min(pad.clientHeight, cy + h / 2 + padY),
  };
  return box;
}

function recognizePad() {
  const box = inkBox();
  if (!box) return;
  lastUpload = null;
  const c = document.createElement("canvas");
  c.width = Math.max(8, Math.round((box.x1 - box.x0) * dpr));
  c.height = Math.max(8, Math.round((box.y1 - box.y0) * dpr));
  const g = c.getContext("2d");
  g.drawImage(pad, box.x0 * dpr, box.y0 * dpr, c.width, c.height, 0, 0, c.width, c.height);
  c.toBlob(async (blob) => {
    const r = await post("line", blob);
    if (!r) return;
    if (r.error) showError(r); else showLine(r);
  }, "image/png");
}

// ---- upload / paste / drop -------------------------------------------------------------
const drop = $("drop"), previewEl = $("preview"), img = $("preview-img"), overlay = $("overlay");
let lastUpload = null, objectUrl = null;

$("file").addEventListener("change", (e) => { if (e.target.files[0]) useFile(e.target.files[0]); e.target.value = ""; });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const f = [...e.dataTransfer.files].find((f) => f.type.startsWith("image/") || f.type === "application/pdf");
  if (f) useFile(f);
});
document.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData?.items || [])].find((i) => i.type.startsWith("image/"));
  if (!item) return;
  e.preventDefault();
  useFile(item.getAsFile());
});

function useFile(file) {
  lastUpload = file;
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  clearOverlay();
  if (file.type.startsWith("image/")) {
    objectUrl = URL.createObjectURL(file);
    img.style.width = "";
    img.onload = fitPreview;
    img.src = objectUrl;
    previewEl.hidden = false;
    $("drop-msg").hidden = true;
  } else {
    previewEl.hidden = true;
    $("drop-msg").hidden = false;
    $("drop-msg").textContent = file.name || "document";
  }
  recognizeUpload(file);
}

async function recognizeUpload(file) {
  if (mode() === "page") {
    const r = await post("page", file);
    if (!r) return;
    if (r.status === 501) {
      const l = await post("line", file);
      if (!l) return;
      if (l.error) return showError(l);
      showLine(l);
      drawSpans(l);
      setStatus(statusEl.textContent + " · page reading is not available on this server: read as one line");
      return;
    }
    if (r.error) return showError(r);
    showPage(r);
    return;
  }
  const r = await post("line", file);
  if (!r) return;
  if (r.error) return showError(r);
  showLine(r);
  drawSpans(r);
}

/** Small images (a cropped line) are enlarged up to 4x to fill the drop zone; large ones shrink to fit. */
function fitPreview() {
  const maxW = drop.clientWidth - 20, maxH = 520;
  const w = Math.min(maxW, img.naturalWidth * 4, maxH * img.naturalWidth / Math.max(1, img.naturalHeight));
  img.style.width = `${Math.max(1, Math.round(w))}px`;
}
window.addEventListener("resize", () => { if (!previewEl.hidden && img.naturalWidth) fitPreview(); });

function whenLoaded() {
  return img.complete && img.naturalWidth ? Promise.resolve() : new Promise((ok) => img.addEventListener("load", ok, { once: true }));
}

function clearOverlay() {
  overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
}

async function prepareOverlay(w, h) {
  await whenLoaded();
  overlay.width = img.naturalWidth;
  overlay.height = img.naturalHeight;
  const g = overlay.getContext("2d");
  g.clearRect(0, 0, overlay.width, overlay.height);
  // results are in the pixels of the image the server decoded (EXIF-rotated); scale to what the browser shows
  g.setTransform(overlay.width / (w || overlay.width), 0, 0, overlay.height / (h || overlay.height), 0, 0);
  return g;
}

async function drawSpans(r) {
  if (previewEl.hidden) return;
  const g = await prepareOverlay(r.width, r.height);
  const lw = Math.max(1, r.height / 60);
  r.chars.forEach((c, i) => {
    g.fillStyle = i % 2 ? "rgba(36, 87, 214, 0.10)" : "rgba(36, 87, 214, 0.18)";
    g.fillRect(c.x0, 0, c.x1 - c.x0, r.height);
    g.fillStyle = confColor(c.confidence);
    g.fillRect(c.x0, r.height - lw * 3, c.x1 - c.x0, lw * 3);
  });
}

/** Lines of a page result, whatever its nesting: page.lines, or blocks/regions/paragraphs holding lines. */
function pageLines(p) {
  if (Array.isArray(p.lines)) return p.lines;
  for (const k of ["blocks", "regions", "paragraphs"]) {
    if (Array.isArray(p[k])) return p[k].flatMap((b) => pageLines(b));
  }
  return [];
}

/** A line's outline as a list of [x, y] points, from box/bbox/rect ([x0,y0,x1,y1] or {x0,..}) or polygon/points/quad. */
function outline(l) {
  const poly = l.polygon || l.points || l.quad || l.corners;
  if (Array.isArray(poly) && poly.length >= 3) return poly.map((q) => (Array.isArray(q) ? q : [q.x, q.y]));
  let b = l.box || l.bbox || l.rect || l;
  if (Array.isArray(b) && Array.isArray(b[0])) return b;
  if (Array.isArray(b) && b.length === 4) b = { x0: b[0], y0: b[1], x1: b[2], y1: b[3] };
  if (b && b.x !== undefined && b.w !== undefined) b = { x0: b.x, y0: b.y, x1: b.x + b.w, y1: b.y + b.h };
  if (b && b.x !== undefined && b.width !== undefined) b = { x0: b.x, y0: b.y, x1: b.x + b.width, y1: b.y + b.height };
  if (b && b.x0 !== undefined && b.y0 !== undefined) return [[b.x0, b.y0], [b.x1, b.y0], [b.x1, b.y1], [b.x0, b.y1]];
  return null;
}

async function showPage(p) {
  const lines = pageLines(p);
  charsEl.replaceChildren();
  textBox.value = p.text !== undefined && p.text !== null ? p.text : lines.map((l) => l.text || "").join("\n");
  pageLinesEl.replaceChildren();
  pageLinesEl.hidden = !lines.length;
  for (const l of lines) {
    const li = document.createElement("li");
    if (Array.isArray(l.chars) && l.chars.length) {
      for (const c of l.chars) {
        const s = document.createElement("span");
        s.className = "pc";
        s.textContent = c.char;
        if (typeof c.confidence === "number") {
          s.style.background = shade(c.confidence);
          s.title = `confidence ${(c.confidence * 100).toFixed(1)}%`;
        }
        li.append(s);
      }
    } else {
      li.textContent = l.text || "";
    }
    if (typeof l.confidence === "number") {
      const lc = document.createElement("span");
      lc.className = "lc";
      lc.textContent = `${(l.confidence * 100).toFixed(0)}%`;
      li.append(lc);
    }
    pageLinesEl.append(li);
  }
  const n = lines.length;
  setStatus(`${n} line${n === 1 ? "" : "s"} · ${Math.round(p.roundtrip)} ms`);
  if (previewEl.hidden) return;
  const g = await prepareOverlay(p.width, p.height);
  const lw = Math.max(2, (p.width || overlay.width) / 500);
  g.lineWidth = lw;
  g.font = `${Math.max(12, lw * 8)}px sans-serif`;
  lines.forEach((l, i) => {
    const pts = outline(l);
    if (!pts) return;
    g.strokeStyle = "rgba(36, 87, 214, 0.9)";
    g.fillStyle = "rgba(36, 87, 214, 0.08)";
    g.beginPath();
    pts.forEach(([x, y], k) => (k ? g.lineTo(x, y) : g.moveTo(x, y)));
    g.closePath();
    g.fill();
    g.stroke();
    g.fillStyle = "rgba(36, 87, 214, 0.95)";
    g.fillText(String(i + 1), pts[0][0] + lw, pts[0][1] - lw);
  });
}

function rerun() {
  if (lastUpload) recognizeUpload(lastUpload);
  else if (strokes.length) recognizePad();
}

$("copy").addEventListener("click", async () => {
  try { await navigator.clipboard.writeText(textBox.value); setStatus("Copied."); }
  catch { textBox.select(); document.execCommand("copy"); }
});

window.addEventListener("resize", () => {
  // keep strokes in place: they are stored in CSS pixels
  resizePad();
});
resizePad();
