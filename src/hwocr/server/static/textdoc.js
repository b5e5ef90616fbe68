/* The text box and where every recognised character now sits in it.
 *
 * Each inserted reading is a "line": a list of marks (its characters, and the separator put before it),
 * each holding its position in the text. Every edit, typed or ours, shifts the marks after it and kills
 * the marks it touches, so a candidate always replaces the character it belongs to (or says it can't). */
"use strict";

export class TextDoc {
  /** @param {HTMLTextAreaElement} el  @param {() => void} onChange called after every change */
  constructor(el, onChange) {
    this.el = el;
    this.prev = el.value;
    this.lines = [];
    this.before = null; // selection just before a typed edit: tells "十|十" insertions apart
    this.onChange = onChange;
    el.addEventListener("beforeinput", () => { this.before = el.selectionStart; });
    el.addEventListener("input", () => this.sync());
  }

  get value() { return this.el.value; }

  /** Work out what a typed edit (key, paste, cut, drop, native undo) changed and move the marks. */
  sync() {
    const a = this.prev, b = this.el.value;
    this.before = this.before === null ? null : Math.min(this.before, this.el.selectionStart);
    if (a !== b) {
      const n = Math.min(a.length, b.length);
      const limit = this.before === null ? n : Math.min(n, this.before);
      let s = 0;
      while (s < limit && a[s] === b[s]) s++;
      let e = 0;
      while (e < n - s && a[a.length - 1 - e] === b[b.length - 1 - e]) e++;
      this.shift(s, a.length - e, b.length - a.length);
      this.prev = b;
    }
    this.before = null;
    this.onChange();
  }

  shift(start, end, delta) {
    for (const line of this.lines) {
      for (const m of line.marks) {
        if (!m.alive) continue;
        if (m.pos >= end) m.pos += delta;
        else if (m.pos + m.text.length > start) m.alive = false;
      }
    }
  }

  /** Replace [start, end) by ``text`` from code; the caret goes after it ("end") or stays ("preserve"). */
  replace(start, end, text, select = "end") {
    const el = this.el, top = el.scrollTop, atEnd = end >= el.value.length;
    el.setRangeText(text, start, end, select);
    this.shift(start, end, text.length - (end - start));
    this.prev = el.value;
    el.scrollTop = atEnd ? el.scrollHeight : top;
    this.onChange();
  }

  /** Set the whole text (a restored draft); no marks survive. */
  reset(text) {
    this.lines = [];
    this.el.value = text;
    this.prev = text;
    this.el.setSelectionRange(text.length, text.length);
  }

  /** The separator to put before a reading inserted at ``at`` ("" at the start or after a line break). */
  separatorAt(at, sep) {
    if (!sep || at === 0) return "";
    const before = this.el.value[at - 1];
    return before === "\n" || before === sep ? "" : sep;
  }

  /** Put a reading in the text: in place of the line's earlier reading if that is still intact, else at
   * the caret (with ``sep`` before it). False when the line's old text was edited (nothing replaced). */
  place(line, chars, sep) {
    const r = line.marks && line.marks.length ? this.extent(line) : null;
    if (r) {
      const s = line.marks[0].sep ? line.marks[0].text : "";
      this.fill(line, r[0], r[1], chars, chars.length ? s : "");
      return true;
    }
    if (line.marks && line.marks.length) return false;
    const at = this.el.selectionEnd;
    if (!this.lines.includes(line)) {
      this.lines.push(line);
      if (this.lines.length > 200) this.lines.shift();
    }
    this.fill(line, at, at, chars, this.separatorAt(at, sep));
    return true;
  }

  fill(line, start, end, chars, sep) {
    const marks = [];
    let pos = start;
    if (sep && chars.length) { marks.push({ text: sep, pos, alive: true, sep: true }); pos += sep.length; }
    for (const c of chars) {
      marks.push({ text: c.char, pos, alive: true, info: c });
      pos += c.char.length;
    }
    line.marks = [];
    line.chars = [];
    this.replace(start, end, marks.map((m) => m.text).join("")); // moves the other lines' marks
    line.marks = marks;
    line.chars = marks.filter((m) => !m.sep);
    this.onChange();
  }

  /** [start, end) of the line's text if every mark is alive and still next to the one before; else null. */
  extent(line) {
    const ms = line.marks;
    if (!ms.length) return null;
    for (let k = 0; k < ms.length; k++) {
      if (!ms[k].alive || this.el.value.substr(ms[k].pos, ms[k].text.length) !== ms[k].text) return null;
      if (k && ms[k].pos !== ms[k - 1].pos + ms[k - 1].text.length) return null;
    }
    return [ms[0].pos, ms.at(-1).pos + ms.at(-1).text.length];
  }

  /** Replace one recognised character by a candidate; false if that character was edited away. */
  pick(mark, ch) {
    if (!mark.alive || this.el.value.substr(mark.pos, mark.text.length) !== mark.text) return false;
    const pos = mark.pos;
    this.replace(pos, pos + mark.text.length, ch, "preserve");
    // replace() killed the mark (the edit touched it): it lives on as the new character
    Object.assign(mark, { text: ch, pos, alive: true, picked: true });
    return true;
  }

  /** The line whose text holds the caret (for showing its candidates), or null. */
  lineAt(pos) {
    for (let k = this.lines.length - 1; k >= 0; k--) {
      const l = this.lines[k];
      if (l.chars.some((m) => m.alive && pos >= m.pos && pos <= m.pos + m.text.length)) return l;
    }
    return null;
  }
}
