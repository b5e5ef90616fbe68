/* hwocr web page: a handwriting pad that writes line after line into a text you can edit, plus image and
 * PDF uploads. Plain ES modules, no build step, no inline scripts or styles (CSP default-src 'self'). */
"use strict";

import { TextDoc } from "./textdoc.js";
import { Pad } from "./pad.js";
import { Channel } from "./api.js";
import { charChip, cropPolygon, lineGlyphs, paintOutlines, paintSpans, pct, plural } from "./view.js";

const $ = (id) => document.getElementById(id);
const textBox = $("result-text"), charsEl = $("chars"), statusEl = $("status"), errorEl = $("error");
const pageLinesEl = $("page-lines"), legendEl = $("legend"), padEl = $("pad");
const DEBOUNCE_MS = 300;
const LANG_NAMES = { zh: "中文", ja: "日本語" };
const store = window.sessionStorage;
let ready = false; // set once everything below is wired

// ---- settings ---------------------------------------------------------------------------
const apiKeyInput = $("api-key"), topKSelect = $("top-k"), pauseSelect = $("pause"), sepSelect = $("separator");
apiKeyInput.value = store.getItem("hwocr.apiKey") || "";
try { localStorage.removeItem("hwocr.apiKey"); } catch { /* storage disabled */ } // older pages kept it there
apiKeyInput.addEventListener("change", () => { store.setItem("hwocr.apiKey", apiKeyInput.value); rerun(); });
topKSelect.addEventListener("change", rerun);
$("settings-form").addEventListener("submit", (e) => e.preventDefault());
const radio = (name) => document.querySelector(`input[name="${name}"]:checked`).value;
const settings = () => ({ lang: radio("lang"), topK: topKSelect.value, apiKey: apiKeyInput.value });
document.querySelectorAll('input[name="lang"]').forEach((r) => r.addEventListener("change", rerun));
document.querySelectorAll('input[name="mode"]').forEach((r) => r.addEventListener("change", () => upload && readUpload(upload)));

// ---- status and errors ------------------------------------------------------------------
let busy = 0;
function setStatus(msg) {
  statusEl.textContent = msg;
  statusEl.classList.toggle("busy", busy > 0);
}
async function tracked(promise) {
  busy++;
  setStatus("Recognising…");
  try { return await promise; } finally { busy--; statusEl.classList.toggle("busy", busy > 0); }
}
function showError(msg) {
  errorEl.textContent = msg;
  errorEl.hidden = false;
  setStatus("Failed.");
  if (/API key/.test(msg)) $("settings").open = true;
}
function clearError() { errorEl.hidden = true; errorEl.textContent = ""; }
function langNote(body) {
  if (settings().lang !== "auto" || !LANG_NAMES[body.lang]) return "";
  return ` · ${LANG_NAMES[body.lang]}${body.lang_by === "hint" ? " (as the lines before)" : ""}`;
}
/* The language of the last pad line whose own characters decided it (lang_by "evidence"): sent with
 * Auto as the hint, so that a line that says little (an isolated kanji) reads in the language being
 * written rather than as a guess. */
let padLang = null;
const padHint = () => (settings().lang === "auto" && padLang ? { hint: padLang } : {});

// ---- the text ---------------------------------------------------------------------------
const doc = new TextDoc(textBox, onTextChange);
doc.reset(store.getItem("hwocr.text") || "");
function onTextChange() {
  store.setItem("hwocr.text", textBox.value);
  if (shown) renderChars(shown);
  if (ready) updateButtons(); // undo may reopen only an unedited line
}
textBox.addEventListener("beforeinput", () => commit()); // typing keeps the line being written
for (const ev of ["click", "keyup"]) {
  textBox.addEventListener(ev, () => {
    const line = doc.lineAt(textBox.selectionStart);
    if (line && line !== shown && line.kind !== "page") showChars(line);
  });
}

// ---- candidates -------------------------------------------------------------------------
let shown = null; // the line whose characters and candidates are shown

function showChars(line, keepPage = false) {
  shown = line;
  pageLinesEl.hidden = pageLinesEl.hidden || !keepPage;
  legendEl.textContent = "Shading: the redder a character, the less sure the model is. Click a candidate to put it in place of that character.";
  renderChars(line);
}

function renderChars(line) {
  const els = line.chars.filter((m) => !m.info.newline).map((m) => charChip(m, (ch) => pickCandidate(line, m, ch)));
  charsEl.replaceChildren(...els);
}

function pickCandidate(line, m, ch) {
  if (line.busy) return setStatus("Still reading this line…");
  if (line === pending) commit(); // a later re-read must not undo the choice
  if (!doc.pick(m, ch)) showError("That character was changed in the text, so its candidates no longer apply.");
  renderChars(line);
}

// ---- the pad ----------------------------------------------------------------------------
const pad = new Pad(padEl, onPadChange);
let pending = null, lastCommitted = null, recogTimer = null, commitTimer = null;

pad.width = $("pen").value;
$("pen").addEventListener("change", (e) => { pad.width = e.target.value; });

function onPadChange(why) {
  clearTimeout(commitTimer);
  if (why === "pen-down") {
    clearTimeout(recogTimer);
    recogTimer = null;
    if (document.activeElement === textBox && matchMedia("(pointer: coarse)").matches) textBox.blur(); // hide the phone keyboard
    if (!pending) pending = { kind: "pad", marks: [], chars: [], channel: new Channel(settings) };
    updateButtons();
    return;
  }
  if (!pending) pending = { kind: "pad", marks: [], chars: [], channel: new Channel(settings) };
  pending.channel.cancel();
  clearTimeout(recogTimer);
  recogTimer = null;
  if (pad.strokes.length) {
    const line = pending;
    line.busy = true;
    recogTimer = setTimeout(() => { recogTimer = null; readStrokes(line, pad.strokes, pad.frame); }, DEBOUNCE_MS);
  } else {
    pending.busy = false;
    doc.place(pending, [], "");
    if (shown === pending) charsEl.replaceChildren();
    setStatus("Ready.");
  }
  updateButtons();
}

async function readStrokes(line, strokes, frame) {
  line.busy = true;
  const blob = await pad.image(strokes, frame);
  const r = await tracked(line.channel.post("line", blob, padHint()));
  if (!r) return; // superseded by a newer reading of the same line
  line.busy = false;
  if (!r.ok) {
    if (line === pending) { doc.place(line, [], ""); charsEl.replaceChildren(); }
    return showError(r.error);
  }
  clearError();
  if (r.body.lang_by === "evidence" && LANG_NAMES[r.body.lang]) padLang = r.body.lang;
  if (!doc.place(line, r.body.chars, sepSelect.value)) return setStatus("The line was edited meanwhile; its new reading was not put in.");
  if (line === pending || shown === line || !shown) showChars(line);
  const n = r.body.chars.length;
  setStatus(n ? `${plural(n, "character")} · confidence ${pct(r.body.confidence)}${langNote(r.body)} · ${Math.round(r.body.roundtrip)} ms`
    : "No text found in the strokes.");
  scheduleCommit();
}

function scheduleCommit() {
  clearTimeout(commitTimer);
  const ms = Number(pauseSelect.value);
  if (ms > 0 && pending && !pad.drawing && !recogTimer && !pending.busy) commitTimer = setTimeout(commit, ms);
}

/** Keep the line being written (its text is already in place) and clear the pad for the next one. */
function commit() {
  clearTimeout(commitTimer);
  if (!pending) return;
  if (!recogTimer && !pending.busy && !pending.marks.length && pad.strokes.length) {
    return setStatus("Nothing was read from these strokes yet, so they stay on the pad.");
  }
  if (recogTimer) { // strokes not read yet: read them now, the reading still lands in this line
    clearTimeout(recogTimer);
    recogTimer = null;
    readStrokes(pending, pad.strokes, pad.frame);
  }
  if (pad.strokes.length) {
    pending.saved = pad.take();
    lastCommitted = pending;
  }
  pending = null;
  updateButtons();
}

/** Undo on an empty pad gives the last kept line back to the pad, if its text was not edited since. */
function canReopen() {
  return pad.empty && !pending && lastCommitted && lastCommitted.saved && !lastCommitted.chars.some((m) => m.picked)
    && doc.extent(lastCommitted) !== null;
}
function undo() {
  if (pad.drawing) return;
  if (!pad.canUndo && canReopen()) {
    pending = lastCommitted;
    lastCommitted = null;
    pad.restore(pending.saved);
  }
  pad.undo();
}
function redo() { if (!pad.drawing) pad.redo(); }
function clearPad() { if (!pad.drawing) pad.clear(); }

function updateButtons() {
  $("undo").disabled = !pad.canUndo && !canReopen();
  $("redo").disabled = !pad.canRedo;
  $("clear").disabled = pad.empty;
  $("commit").disabled = !pending || pad.empty;
  $("pad-empty").hidden = !pad.empty;
  padEl.dataset.strokes = pad.strokes.length; // for tests and for styling
}

$("undo").addEventListener("click", undo);
$("redo").addEventListener("click", redo);
$("clear").addEventListener("click", clearPad);
$("commit").addEventListener("click", commit);
$("newline").addEventListener("click", newline);
function newline() {
  commit();
  const at = textBox.selectionEnd;
  doc.replace(at, at, "\n");
}

const editing = (t) => t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && /^(text|password|search|number|url|email)$/.test(t.type));
document.addEventListener("keydown", (e) => {
  const mod = e.ctrlKey || e.metaKey, key = e.key.toLowerCase(), typing = editing(e.target);
  if (mod && key === "z" && !e.shiftKey && !typing) { e.preventDefault(); undo(); }
  else if (mod && ((key === "z" && e.shiftKey) || key === "y") && !typing) { e.preventDefault(); redo(); }
  else if (e.key === "Escape") {
    if ($("settings").open) { $("settings").open = false; return; }
    clearPad();
  } else if (e.key === "Enter" && (mod || (!typing && !/^(BUTTON|SELECT|SUMMARY|A|LI)$/.test(e.target.tagName)))) {
    e.preventDefault();
    if (e.shiftKey) newline(); else commit();
  }
}, true);

new ResizeObserver(() => pad.resize()).observe(padEl);

// ---- upload / paste / drop -------------------------------------------------------------
const drop = $("drop"), previewEl = $("preview"), img = $("preview-img"), overlay = $("overlay"), dropMsg = $("drop-msg");
let upload = null, objectUrl = null;

$("file").addEventListener("change", (e) => { if (e.target.files[0]) useFile(e.target.files[0]); e.target.value = ""; });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const f = [...e.dataTransfer.files].find((f) => f.type.startsWith("image/") || isDocument(f));
  if (f) useFile(f);
});
document.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData?.items || [])].find((i) => i.type.startsWith("image/"));
  if (!item) return;
  e.preventDefault();
  useFile(item.getAsFile());
});

const isDocument = (f) => f.type === "application/pdf" || f.type === "image/tiff" || /\.(pdf|tiff?)$/i.test(f.name || "");

function useFile(file) {
  commit();
  upload = { kind: "upload", file, marks: [], chars: [], channel: new Channel(settings), preview: null };
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  objectUrl = null;
  clearOverlay();
  previewEl.hidden = true;
  dropMsg.hidden = false;
  dropMsg.textContent = file.name || "pasted image";
  if (!isDocument(file)) {
    objectUrl = URL.createObjectURL(file);
    upload.preview = new Promise((ok) => {
      img.onload = () => { previewEl.hidden = false; dropMsg.hidden = true; fitPreview(); ok(true); };
      img.onerror = () => { dropMsg.textContent = `${file.name || "image"} (this browser cannot show it)`; ok(false); };
    });
    img.src = objectUrl;
  }
  readUpload(upload);
}

/** One line or a whole page? PDFs and TIFFs are documents; an image taller than a line is a page. */
async function uploadMode(u) {
  const chosen = radio("mode");
  if (isDocument(u.file)) return "page";
  if (chosen !== "auto") return chosen;
  if (!(await u.preview)) return "line";
  const w = img.naturalWidth, h = img.naturalHeight;
  return (h >= 200 && h / w > 0.45) || Math.min(w, h) >= 900 ? "page" : "line";
}

async function readUpload(u) {
  const m = await uploadMode(u);
  let r = m === "page" ? await tracked(u.channel.post("page", u.file)) : null;
  let note = "";
  if (r && !r.ok && r.status === 501 && !isDocument(u.file)) { r = null; note = " · page reading is not available here: read as one line"; }
  if (r) return r.ok ? showPage(u, r.body) : uploadFailed(u, r.error);
  r = r || await tracked(u.channel.post("line", u.file));
  if (!r) return;
  if (!r.ok) return uploadFailed(u, r.error);
  clearError();
  pageLinesEl.hidden = true;
  if (!doc.place(u, r.body.chars, sepSelect.value)) { u.marks = []; doc.place(u, r.body.chars, sepSelect.value); }
  lastCommitted = null;
  showChars(u);
  const n = r.body.chars.length;
  setStatus((n ? `${plural(n, "character")} · confidence ${pct(r.body.confidence)}${langNote(r.body)} · ${Math.round(r.body.roundtrip)} ms`
    : "No text found in the image.") + note);
  drawSpans(r.body);
}

function uploadFailed(u, msg) {
  if (u !== upload) return;
  charsEl.replaceChildren();
  pageLinesEl.hidden = true;
  clearOverlay();
  showError(msg);
}

/** Small images (a cropped line) are enlarged up to 4x to fill the drop zone; large ones shrink to fit. */
function fitPreview() {
  const maxW = drop.clientWidth - 20, maxH = 520;
  const w = Math.min(maxW, img.naturalWidth * 4, maxH * img.naturalWidth / Math.max(1, img.naturalHeight));
  img.style.width = `${Math.max(1, Math.round(w))}px`;
}
window.addEventListener("resize", () => { if (!previewEl.hidden && img.naturalWidth) fitPreview(); });

function clearOverlay() { overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height); }

async function prepareOverlay(w, h) {
  if (!upload || !(await upload.preview)) return null;
  overlay.width = img.naturalWidth;
  overlay.height = img.naturalHeight;
  const g = overlay.getContext("2d");
  g.clearRect(0, 0, overlay.width, overlay.height);
  // results are in the pixels of the image the server decoded (EXIF-rotated); scale to what the browser shows
  g.setTransform(overlay.width / (w || overlay.width), 0, 0, overlay.height / (h || overlay.height), 0, 0);
  return g;
}

async function drawSpans(r) {
  const g = await prepareOverlay(r.width, r.height);
  if (g) paintSpans(g, r);
}

async function showPage(u, p) {
  if (u !== upload) return;
  clearError();
  const lines = Array.isArray(p.lines) ? p.lines : [];
  const chars = [], spans = []; // spans[i]: where page line i's characters sit in chars
  lines.forEach((l, i) => {
    if (i) chars.push({ char: "\n", confidence: 1, newline: true });
    const cs = Array.isArray(l.chars) && l.chars.length ? l.chars : Array.from(l.text || "", (ch) => ({ char: ch, confidence: l.confidence ?? 1 }));
    spans.push([chars.length, chars.length + cs.length]);
    for (const c of cs) chars.push({ char: c.char, confidence: c.confidence ?? 1, alternatives: [] });
  });
  u.kind = "page";
  if (!doc.place(u, chars, "\n")) { u.marks = []; doc.place(u, chars, "\n"); }
  lastCommitted = null;
  shown = null;
  charsEl.replaceChildren();
  pageLinesEl.replaceChildren();
  pageLinesEl.hidden = !lines.length;
  legendEl.textContent = "Shading: the redder a character, the less sure the model is. Click a line to get the candidates of its characters.";
  for (const [i, l] of lines.entries()) {
    const li = document.createElement("li");
    li.tabIndex = 0;
    li.title = "Candidates for this line";
    const pick = () => {
      pageLinesEl.querySelectorAll("li").forEach((x) => x.classList.toggle("active", x === li));
      pageLineCandidates(u, p, l, u.chars.slice(...spans[i]));
    };
    li.addEventListener("click", pick);
    li.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } });
    li.append(...lineGlyphs(l));
    pageLinesEl.append(li);
  }
  setStatus(`${plural(lines.length, "line")}${langNote(p)} · ${Math.round(p.roundtrip)} ms`);
  const g = await prepareOverlay(p.width, p.height);
  if (!g) return;
  paintOutlines(g, lines, p.width || overlay.width);
}

/** Candidates for one line of a page: the line is cut out of the image and read alone with top-k
 * alternatives; they apply to the page's characters when that reading has as many characters. */
async function pageLineCandidates(u, p, l, marks) {
  if (u !== upload) return;
  if (l.direction === "vertical" || !(await u.preview) || !Array.isArray(l.polygon))
    return setStatus("Candidates are offered for horizontal lines of images.");
  const blob = await cropPolygon(img, l.polygon, img.naturalWidth / (p.width || img.naturalWidth),
    img.naturalHeight / (p.height || img.naturalHeight));
  if (!blob) return;
  u.lineChannel = u.lineChannel || new Channel(settings);
  const r = await tracked(u.lineChannel.post("line", blob));
  if (!r) return;
  if (!r.ok) return showError(r.error);
  clearError();
  const got = r.body.chars;
  if (got.length !== marks.length) {
    return setStatus(`Read alone, this line gives “${r.body.text}” (${plural(got.length, "character")}, the page has ${marks.length}): no candidates.`);
  }
  marks.forEach((m, k) => { m.info = { ...got[k], confidence: m.info.confidence }; });
  showChars({ kind: "page-line", marks, chars: marks }, true);
  setStatus(`Candidates for line “${marks.map((m) => m.text).join("")}”`);
}

/** The language or the number of candidates changed: read again what is not yet kept, and the upload. */
function rerun() {
  if (pending && pad.strokes.length) { pending.channel.cancel(); readStrokes(pending, pad.strokes, pad.frame); }
  if (upload) readUpload(upload);
}

// ---- copy and download ------------------------------------------------------------------
$("copy").addEventListener("click", async () => {
  try { await navigator.clipboard.writeText(textBox.value); }
  catch { textBox.select(); document.execCommand("copy"); } // plain-http pages on another host
  setStatus("Copied the text.");
});
$("download").addEventListener("click", () => {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([textBox.value], { type: "text/plain;charset=utf-8" }));
  a.download = `hwocr-${new Date().toISOString().slice(0, 16).replace(/[-:T]/g, "")}.txt`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  setStatus("Saved the text as a file.");
});

pad.resize();
updateButtons();
ready = true;
document.body.dataset.ready = "1";
