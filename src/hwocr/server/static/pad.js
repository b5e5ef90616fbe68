/* The writing pad: strokes from mouse, pen or finger, undo/redo, and the ink as an image to recognise.
 *
 * Strokes are kept in the pad's own units (CSS pixels of the pad when the line was started), never in
 * canvas pixels: a resize or a phone rotation scales the view so all the ink stays visible, and the image
 * sent for recognition is drawn from the strokes, so nothing outside the visible canvas is ever lost. */
"use strict";

export const WIDTHS = { thin: 0.6, medium: 1, thick: 1.6 };

export class Pad {
  /** @param {HTMLCanvasElement} canvas  @param {(why: string) => void} onChange */
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onChange = onChange;
    this.history = [[]]; // every state of the line's strokes; undo/redo move along it
    this.at = 0;
    this.current = null;
    this.frame = null; // pad size (CSS px) when the line's first stroke was made
    this.scale = 1;
    this.dpr = 1;
    this.width = "medium";
    this.penSeen = false;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.up(e));
    canvas.addEventListener("pointercancel", (e) => this.up(e));
  }

  get strokes() { return this.history[this.at]; }
  get empty() { return this.strokes.length === 0 && !this.current; }
  get drawing() { return !!this.current; }
  get canUndo() { return this.at > 0; }
  get canRedo() { return this.at < this.history.length - 1; }

  push(strokes) {
    this.history = this.history.slice(0, this.at + 1);
    this.history.push(strokes);
    this.at++;
    this.fit();
    this.onChange("strokes");
  }
  undo() { if (!this.canUndo) return false; this.at--; this.fit(); this.onChange("undo"); return true; }
  redo() { if (!this.canRedo) return false; this.at++; this.fit(); this.onChange("redo"); return true; }
  clear() { if (this.strokes.length) this.push([]); }

  /** Hand the line over (it is committed): its history goes with it, the pad starts empty. */
  take() {
    const saved = { history: this.history.slice(0, this.at + 1), frame: this.frame };
    this.history = [[]];
    this.at = 0;
    this.current = null;
    this.frame = null;
    this.fit();
    return saved;
  }
  /** Give a committed line back to the pad (undo after a commit). */
  restore(saved) {
    this.history = saved.history;
    this.at = saved.history.length - 1;
    this.frame = saved.frame;
    this.fit();
  }

  penWidth() { return Math.max(4, Math.min(10, this.canvas.clientHeight / 36)) * WIDTHS[this.width]; }

  resize() {
    this.dpr = window.devicePixelRatio || 1;
    const r = this.canvas.getBoundingClientRect();
    this.canvas.width = Math.max(1, Math.round(r.width * this.dpr));
    this.canvas.height = Math.max(1, Math.round(r.height * this.dpr));
    this.fit();
  }

  /** View scale so the line's frame and all its ink fit the canvas (never enlarged). */
  fit() {
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight, ink = bounds(this.strokes);
    if (!this.frame || !w || !h) { this.scale = 1; this.redraw(); return; }
    const ew = Math.max(this.frame.w, ink ? ink.x1 + 4 : 0), eh = Math.max(this.frame.h, ink ? ink.y1 + 4 : 0);
    this.scale = Math.min(1, w / ew, h / eh);
    this.redraw();
  }

  redraw() {
    const c = this.ctx;
    c.setTransform(1, 0, 0, 1, 0, 0);
    c.clearRect(0, 0, this.canvas.width, this.canvas.height); // transparent: the CSS guide line shows
    c.setTransform(this.dpr * this.scale, 0, 0, this.dpr * this.scale, 0, 0);
    for (const s of this.strokes) drawStroke(c, s);
    if (this.current) drawStroke(c, this.current);
    this.canvas.classList.toggle("inked", !this.empty);
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    // mice report pressure 0.5 while a button is down; pens report real pressure
    const p = e.pointerType === "pen" && e.pressure > 0 ? e.pressure : 0.5;
    return { x: (e.clientX - r.left) / this.scale, y: (e.clientY - r.top) / this.scale, p };
  }

  down(e) {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    if (e.pointerType === "pen") this.penSeen = true;
    else if (e.pointerType === "touch" && this.penSeen) return; // a palm resting while a pen writes
    if (this.current) return; // a second finger
    e.preventDefault();
    try { this.canvas.setPointerCapture(e.pointerId); } catch { /* synthetic or released pointer */ }
    if (!this.strokes.length && !this.frame) this.frame = { w: this.canvas.clientWidth, h: this.canvas.clientHeight };
    this.current = { points: [this.point(e)], width: this.penWidth() / this.scale, id: e.pointerId };
    this.onChange("pen-down");
    this.redraw();
  }
  move(e) {
    if (!this.current || e.pointerId !== this.current.id) return;
    const evs = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of evs.length ? evs : [e]) this.current.points.push(this.point(ev));
    this.redraw();
  }
  up(e) {
    if (!this.current || e.pointerId !== this.current.id) return;
    const s = this.current;
    this.current = null;
    this.push([...this.strokes, s]);
  }

  /** The ink as a PNG (white background, the ink's box widened so a flat 一 still gets a square-ish frame). */
  async image(strokes = this.strokes, frame = this.frame) {
    const b = bounds(strokes);
    if (!b) return null;
    const fh = frame ? frame.h : this.canvas.clientHeight;
    const h = Math.max(b.y1 - b.y0, b.x1 - b.x0 > 0 ? Math.min(b.x1 - b.x0, fh * 0.5) : 0, 24) + b.w;
    const cy = (b.y0 + b.y1) / 2, padY = Math.max(12, h * 0.18), padX = Math.max(12, h * 0.25);
    const x0 = b.x0 - b.w / 2 - padX, x1 = b.x1 + b.w / 2 + padX, y0 = cy - h / 2 - padY, y1 = cy + h / 2 + padY;
    const c = document.createElement("canvas");
    c.width = Math.max(8, Math.round(x1 - x0));
    c.height = Math.max(8, Math.round(y1 - y0));
    const g = c.getContext("2d");
    g.fillStyle = "#fff";
    g.fillRect(0, 0, c.width, c.height);
    g.translate(-x0, -y0);
    for (const s of strokes) drawStroke(g, s);
    return new Promise((ok) => c.toBlob(ok, "image/png"));
  }
}

function bounds(strokes) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, w = 0;
  for (const s of strokes) {
    w = Math.max(w, s.width);
    for (const p of s.points) {
      x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x); y1 = Math.max(y1, p.y);
    }
  }
  return isFinite(x0) ? { x0, y0, x1, y1, w } : null;
}

function drawStroke(c, s) {
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
