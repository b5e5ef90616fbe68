/* Building blocks of the page's views: character chips, page-line glyphs, overlays drawn over an
 * uploaded image, and cutting a line out of it. Pure DOM/canvas helpers, no page state. */
"use strict";

export const plural = (n, w) => `${n} ${w}${n === 1 ? "" : "s"}`;
export const pct = (x) => `${(x * 100).toFixed(0)}%`;

/** Red with an opacity that grows as the confidence falls. */
export function shade(conf) {
  return `rgba(220, 38, 38, ${Math.min(0.75, Math.max(0, (1 - conf) * 0.9)).toFixed(3)})`;
}

/** A character of a line: its glyph shaded by confidence, and its candidates as buttons. */
export function charChip(m, onPick) {
  const c = m.info;
  const el = document.createElement("div");
  el.className = "char" + (m.picked ? " edited" : "") + (m.alive ? "" : " gone");
  const glyph = document.createElement("div");
  glyph.className = "glyph";
  glyph.textContent = m.text;
  glyph.style.background = shade(c.confidence);
  glyph.title = m.alive ? `confidence ${(c.confidence * 100).toFixed(1)}%` : "edited in the text: no candidates";
  const conf = document.createElement("div");
  conf.className = "conf";
  conf.textContent = pct(c.confidence);
  const bar = document.createElement("div");
  bar.className = "bar";
  const fill = document.createElement("i");
  fill.style.width = `${(c.confidence * 100).toFixed(1)}%`;
  bar.append(fill);
  el.append(glyph, conf, bar);
  const alts = document.createElement("div");
  alts.className = "alts";
  for (const a of c.alternatives || []) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "alt" + (a.char === m.text ? " current" : "");
    b.dataset.char = a.char;
    b.disabled = !m.alive;
    b.title = `put ${a.char} here (${(a.confidence * 100).toFixed(1)}%)`;
    const ch = document.createElement("b"), p = document.createElement("span");
    ch.textContent = a.char;
    p.textContent = a.confidence >= 0.001 ? `${(a.confidence * 100).toFixed(a.confidence >= 0.1 ? 0 : 1)}%` : "<0.1%";
    b.append(ch, p);
    b.addEventListener("click", () => onPick(a.char));
    alts.append(b);
  }
  if (alts.childElementCount) el.append(alts);
  return el;
}

/** The characters of a page line, each shaded by its confidence, then the line's confidence. */
export function lineGlyphs(l) {
  const out = [];
  for (const c of l.chars || []) {
    const s = document.createElement("span");
    s.className = "pc";
    s.textContent = c.char;
    s.style.background = shade(c.confidence);
    s.title = `confidence ${(c.confidence * 100).toFixed(1)}%`;
    out.push(s);
  }
  if (!out.length) out.push(document.createTextNode(l.text || ""));
  const lc = document.createElement("span");
  lc.className = "lc";
  lc.textContent = pct(l.confidence || 0);
  out.push(lc);
  return out;
}

/** Green (sure) to red (unsure), for marks drawn over images. */
export const confColor = (conf) => `hsla(${Math.round(Math.max(0, Math.min(1, conf)) * 120)}, 75%, 42%, 0.9)`;

/** The character spans of a line reading, alternately tinted, with a confidence bar under each. */
export function paintSpans(g, r) {
  const lw = Math.max(1, r.height / 60);
  r.chars.forEach((c, i) => {
    g.fillStyle = i % 2 ? "rgba(36, 87, 214, 0.10)" : "rgba(36, 87, 214, 0.18)";
    g.fillRect(c.x0, 0, c.x1 - c.x0, r.height);
    g.fillStyle = confColor(c.confidence);
    g.fillRect(c.x0, r.height - lw * 3, c.x1 - c.x0, lw * 3);
  });
}

/** The outlines of a page's lines, numbered in reading order. */
export function paintOutlines(g, lines, width) {
  const lw = Math.max(2, width / 500);
  g.lineWidth = lw;
  g.font = `${Math.max(12, lw * 8)}px sans-serif`;
  lines.forEach((l, i) => {
    const pts = l.polygon;
    if (!Array.isArray(pts) || pts.length < 3) return;
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

/** The axis-aligned box of a polygon (in result pixels; sx, sy scale to the image's) as a PNG. */
export async function cropPolygon(img, polygon, sx, sy) {
  const xs = polygon.map((q) => q[0] * sx), ys = polygon.map((q) => q[1] * sy);
  const x0 = Math.max(0, Math.floor(Math.min(...xs))), y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const x1 = Math.min(img.naturalWidth, Math.ceil(Math.max(...xs))), y1 = Math.min(img.naturalHeight, Math.ceil(Math.max(...ys)));
  if (x1 - x0 < 2 || y1 - y0 < 2) return null;
  const c = document.createElement("canvas");
  c.width = x1 - x0;
  c.height = y1 - y0;
  c.getContext("2d").drawImage(img, x0, y0, c.width, c.height, 0, 0, c.width, c.height);
  return new Promise((ok) => c.toBlob(ok, "image/png"));
}
