/**
 * Small multiples as a hand-written SVG: one panel per cost, its value against the number of
 * tasks, one line per series, and a dashed line per series for growth in proportion from its
 * smallest size (a curve that climbs above it grows more than linearly).
 */

export interface ChartSeries {
  name: string;
  /** [tasks, value]; NaN values are left out. */
  points: [number, number][];
}

export interface ChartPanel {
  title: string;
  series: ChartSeries[];
}

const PANEL = { width: 340, height: 220 };
const PLOT = { left: 52, right: 14, top: 28, bottom: 34 };
const COLUMNS = 3;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
/** The title's height, and each row of the legend's. */
const TITLE = 30;
const LEGEND_ROW = 14;
const LEGEND_ITEM_WIDTH = 200;

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Evenly spaced round ticks from 0 to at least `max`. */
function ticks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const count = Math.ceil(max / step - 1e-9);
  return Array.from({ length: count + 1 }, (_, i) => round(i * step));
}

const round = (n: number) => Number(n.toPrecision(6));
const label = (n: number) => (Math.abs(n) >= 1000 ? `${round(n / 1000)}k` : String(round(n)));

function panel(p: ChartPanel, x0: number, y0: number, colorOf: (name: string) => string): string {
  const series = p.series.map((s) => ({
    ...s,
    points: s.points.filter(([, y]) => Number.isFinite(y)).sort((a, b) => a[0] - b[0]),
  }));
  const all = series.flatMap((s) => s.points);
  const xTicks = ticks(Math.max(1, ...all.map(([x]) => x)));
  const yTicks = ticks(Math.max(0, ...all.map(([, y]) => y)) * 1.05);
  const xMax = xTicks[xTicks.length - 1]!;
  const yMax = yTicks[yTicks.length - 1]!;
  const w = PANEL.width - PLOT.left - PLOT.right;
  const h = PANEL.height - PLOT.top - PLOT.bottom;
  const sx = (x: number) => x0 + PLOT.left + (x / xMax) * w;
  const sy = (y: number) => y0 + PLOT.top + h - (Math.min(y, yMax) / yMax) * h;
  const out: string[] = [
    `<text x="${x0 + PLOT.left}" y="${y0 + 16}" class="title">${escapeXml(p.title)}</text>`,
  ];
  for (const t of yTicks)
    out.push(
      `<line x1="${sx(0)}" x2="${sx(xMax)}" y1="${sy(t)}" y2="${sy(t)}" class="grid"/>`,
      `<text x="${sx(0) - 4}" y="${sy(t) + 3}" text-anchor="end">${label(t)}</text>`,
    );
  for (const t of xTicks)
    out.push(`<text x="${sx(t)}" y="${sy(0) + 14}" text-anchor="middle">${label(t)}</text>`);
  out.push(
    `<line x1="${sx(0)}" x2="${sx(xMax)}" y1="${sy(0)}" y2="${sy(0)}" class="axis"/>`,
    `<line x1="${sx(0)}" x2="${sx(0)}" y1="${sy(0)}" y2="${sy(yMax)}" class="axis"/>`,
    `<text x="${sx(xMax / 2)}" y="${y0 + PANEL.height - 6}" text-anchor="middle">tasks</text>`,
  );
  for (const s of series) {
    const color = colorOf(s.name);
    const first = s.points[0];
    const last = s.points[s.points.length - 1];
    if (first && last && first[0] > 0 && last[0] > first[0]) {
      // Growth in proportion to the tasks from the smallest size, clipped at the panel's top.
      const x1 = Math.min(last[0], (first[0] * yMax) / Math.max(first[1], 1e-9));
      out.push(
        `<line x1="${sx(first[0])}" y1="${sy(first[1])}" x2="${sx(x1)}" y2="${sy((first[1] * x1) / first[0])}" stroke="${color}" class="linear"/>`,
      );
    }
    const path = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${path}" stroke="${color}" class="series"/>`);
    for (const [x, y] of s.points)
      out.push(
        `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${color}"><title>${escapeXml(`${s.name}: ${label(x)} tasks, ${round(y)}`)}</title></circle>`,
      );
  }
  return out.join('\n');
}

/** The panels in a grid of three columns, under a title and a legend of the series. */
export function costChart(title: string, panels: ChartPanel[]): string {
  const names = [...new Set(panels.flatMap((p) => p.series.map((s) => s.name)))];
  const colorOf = (name: string) => COLORS[names.indexOf(name) % COLORS.length]!;
  const rows = Math.ceil(panels.length / COLUMNS);
  const width = COLUMNS * PANEL.width;
  // The legend in rows that fit the width, the note on the dashed lines on a row of its own.
  const perRow = Math.max(1, Math.floor((width - 12) / LEGEND_ITEM_WIDTH));
  const legendRows = Math.ceil(names.length / perRow) + 1;
  const header = TITLE + legendRows * LEGEND_ROW + 4;
  const height = header + rows * PANEL.height;
  const at = (i: number) => ({
    x: 12 + (i % perRow) * LEGEND_ITEM_WIDTH,
    y: TITLE + Math.floor(i / perRow) * LEGEND_ROW,
  });
  const legend = names.map((name, i) => {
    const { x, y } = at(i);
    return (
      `<rect x="${x}" y="${y}" width="12" height="3" fill="${colorOf(name)}"/>` +
      `<text x="${x + 18}" y="${y + 5}">${escapeXml(name)}</text>`
    );
  });
  const noteY = TITLE + (legendRows - 1) * LEGEND_ROW + 5;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">`,
    '<style>.title{font-size:12px;font-weight:bold}.grid{stroke:#e5e5e5}.axis{stroke:#444}' +
      '.series{fill:none;stroke-width:2}.linear{stroke-dasharray:4 3;stroke-width:1;opacity:.6}</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="12" y="18" class="title">${escapeXml(title)}</text>`,
    ...legend,
    `<text x="12" y="${noteY}">dashed: growth in proportion to tasks from the smallest size</text>`,
    ...panels.map((p, i) =>
      panel(
        p,
        (i % COLUMNS) * PANEL.width,
        header + Math.floor(i / COLUMNS) * PANEL.height,
        colorOf,
      ),
    ),
    '</svg>',
    '',
  ].join('\n');
}
