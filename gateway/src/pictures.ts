// SVG pictures of a persistence result: the persistence diagram (birth on x,
// death on y) and the barcode (one bar per interval). Pure functions of the
// stored intervals; the gateway serves them as google.api.HttpBody
// (image/svg+xml), so REST clients get a plain SVG document.

export interface PictureInterval {
  birth: number;
  death: number;
}

export interface PictureDiagram {
  dimension: number;
  intervals: PictureInterval[];
}

export const SVG_CONTENT_TYPE = "image/svg+xml";
export const MAX_PICTURE_SIDE = 4096;
/** Bars drawn per barcode at most (the longest ones); the rest are counted in a note. */
export const MAX_BARS = 2000;
/** Points drawn per diagram at most. */
export const MAX_POINTS = 50_000;

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"];

function colour(dim: number): string {
  return COLOURS[dim % COLOURS.length]!;
}

function esc(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Compact number for labels. */
function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

function px(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}

/** Largest finite birth/death value (at least a tiny positive number, so scales never divide by 0). */
function finiteMax(diagrams: PictureDiagram[]): number {
  let max = 0;
  for (const d of diagrams)
    for (const i of d.intervals) {
      if (Number.isFinite(i.birth)) max = Math.max(max, i.birth);
      if (Number.isFinite(i.death)) max = Math.max(max, i.death);
    }
  return max > 0 ? max : 1;
}

function finiteMin(diagrams: PictureDiagram[]): number {
  let min = 0;
  for (const d of diagrams) for (const i of d.intervals) if (Number.isFinite(i.birth)) min = Math.min(min, i.birth);
  return min;
}

function ticks(lo: number, hi: number, n = 5): number[] {
  const out: number[] = [];
  for (let k = 0; k <= n; k++) out.push(lo + ((hi - lo) * k) / n);
  return out;
}

function header(w: number, h: number, title: string): string[] {
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(title)}</title>`,
    `<rect x="0" y="0" width="${w}" height="${h}" fill="#ffffff"/>`,
  ];
}

function legend(dims: number[], x: number, y: number): string[] {
  return dims.map(
    (d, k) => `<g transform="translate(${px(x)},${px(y + k * 14)})"><rect width="10" height="10" fill="${colour(d)}"/><text x="14" y="9">H${d}</text></g>`,
  );
}

export function diagramSvg(diagrams: PictureDiagram[], opts: { width?: number; height?: number; title?: string } = {}): string {
  const w = clampSide(opts.width || 480);
  const h = clampSide(opts.height || w);
  const m = { left: 48, right: 16, top: 28, bottom: 36 };
  const lo = finiteMin(diagrams);
  const hi = finiteMax(diagrams) * 1.05;
  const plotW = w - m.left - m.right;
  const plotH = h - m.top - m.bottom;
  const infRow = m.top - 12; // where infinite deaths are drawn
  const sx = (v: number) => m.left + ((v - lo) / (hi - lo)) * plotW;
  const sy = (v: number) => (Number.isFinite(v) ? m.top + plotH - ((v - lo) / (hi - lo)) * plotH : infRow);
  const out = header(w, h, opts.title ?? "persistence diagram");
  out.push(`<g stroke="#999" stroke-width="1" fill="none">`);
  out.push(`<rect x="${m.left}" y="${m.top}" width="${px(plotW)}" height="${px(plotH)}"/>`);
  out.push(`<line x1="${px(sx(lo))}" y1="${px(sy(lo))}" x2="${px(sx(hi))}" y2="${px(sy(hi))}" stroke="#555"/>`);
  out.push(`<line x1="${m.left}" y1="${infRow}" x2="${px(m.left + plotW)}" y2="${infRow}" stroke-dasharray="4 3"/>`);
  out.push(`</g>`);
  out.push(`<text x="${m.left - 6}" y="${infRow + 4}" text-anchor="end">∞</text>`);
  for (const t of ticks(lo, hi)) {
    out.push(`<text x="${px(sx(t))}" y="${px(h - m.bottom + 14)}" text-anchor="middle">${fmt(t)}</text>`);
    out.push(`<text x="${m.left - 6}" y="${px(sy(t) + 4)}" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<text x="${px(m.left + plotW / 2)}" y="${h - 6}" text-anchor="middle">birth</text>`);
  out.push(`<text x="12" y="${px(m.top + plotH / 2)}" text-anchor="middle" transform="rotate(-90 12 ${px(m.top + plotH / 2)})">death</text>`);
  let drawn = 0;
  for (const d of [...diagrams].sort((a, b) => a.dimension - b.dimension)) {
    out.push(`<g fill="${colour(d.dimension)}" fill-opacity="0.75" class="dim-${d.dimension}">`);
    for (const i of d.intervals) {
      if (drawn >= MAX_POINTS || !Number.isFinite(i.birth)) continue;
      out.push(`<circle cx="${px(sx(i.birth))}" cy="${px(sy(i.death))}" r="3"/>`);
      drawn++;
    }
    out.push(`</g>`);
  }
  out.push(
    ...legend(
      diagrams.map((d) => d.dimension).sort((a, b) => a - b),
      m.left + 8,
      m.top + 8,
    ),
  );
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

export function barcodeSvg(diagrams: PictureDiagram[], opts: { width?: number; title?: string } = {}): string {
  const w = clampSide(opts.width || 640);
  const m = { left: 40, right: 24, top: 24, bottom: 30 };
  const barH = 4;
  const gap = 2;
  const groupGap = 16;
  const lo = finiteMin(diagrams);
  const hi = finiteMax(diagrams) * 1.05;
  const plotW = w - m.left - m.right;
  const sx = (v: number) => (Number.isFinite(v) ? m.left + ((v - lo) / (hi - lo)) * plotW : m.left + plotW + 12);
  const sorted = [...diagrams].sort((a, b) => a.dimension - b.dimension);
  // Share the bar budget: longest bars first within each dimension.
  const total = sorted.reduce((n, d) => n + d.intervals.length, 0);
  const budget = Math.min(total, MAX_BARS);
  const groups = sorted.map((d) => {
    const share = total === 0 ? 0 : Math.max(Math.min(d.intervals.length, 1), Math.floor((d.intervals.length / total) * budget));
    const bars = [...d.intervals].sort((a, b) => b.death - b.birth - (a.death - a.birth) || a.birth - b.birth).slice(0, share);
    bars.sort((a, b) => a.birth - b.birth || b.death - a.death);
    return { dim: d.dimension, bars, hidden: d.intervals.length - bars.length };
  });
  const bodyH = groups.reduce((n, g) => n + g.bars.length * (barH + gap) + groupGap + (g.hidden > 0 ? 12 : 0), 0);
  const h = Math.min(m.top + bodyH + m.bottom, 64_000);
  const out = header(w, h, opts.title ?? "barcode");
  let y = m.top;
  for (const g of groups) {
    out.push(`<text x="4" y="${y + 10}" fill="${colour(g.dim)}">H${g.dim}</text>`);
    out.push(`<g fill="${colour(g.dim)}" class="dim-${g.dim}">`);
    for (const b of g.bars) {
      const x1 = sx(b.birth);
      const x2 = sx(b.death);
      out.push(`<rect x="${px(x1)}" y="${y}" width="${px(Math.max(1, x2 - x1))}" height="${barH}"${Number.isFinite(b.death) ? "" : ' class="infinite"'}/>`);
      y += barH + gap;
    }
    out.push(`</g>`);
    if (g.hidden > 0) {
      out.push(`<text x="${m.left}" y="${y + 9}" fill="#555">… ${g.hidden} shorter bars not drawn</text>`);
      y += 12;
    }
    y += groupGap;
  }
  out.push(`<g stroke="#999" fill="none"><line x1="${m.left}" y1="${y}" x2="${px(m.left + plotW)}" y2="${y}"/></g>`);
  for (const t of ticks(lo, hi)) out.push(`<text x="${px(sx(t))}" y="${y + 14}" text-anchor="middle">${fmt(t)}</text>`);
  out.push(`<text x="${px(m.left + plotW + 12)}" y="${y + 14}" text-anchor="middle">∞</text>`);
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

function clampSide(v: number): number {
  return Math.max(64, Math.min(MAX_PICTURE_SIDE, Math.round(v)));
}
