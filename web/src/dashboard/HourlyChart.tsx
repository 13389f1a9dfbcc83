import type { HourlyAttempts } from '../api/client';

const OUTCOMES = [
  { key: 'success', label: 'Delivered', className: 'bar-success' },
  { key: 'retrying', label: 'Retrying', className: 'bar-retrying' },
  { key: 'failed', label: 'Failed', className: 'bar-failed' },
] as const;

const WIDTH = 720;
const HEIGHT = 220;
const PAD = { top: 12, right: 8, bottom: 28, left: 40 };

/**
 * Attempts per hour by outcome, stacked bars drawn as SVG (no chart library: the whole console
 * stays small). The same numbers are in a table below it for screen readers and for exact values.
 */
export function HourlyChart({ data }: { data: HourlyAttempts[] }) {
  const max = Math.max(1, ...data.map((h) => h.success + h.failed + h.retrying));
  const niceMax = niceCeil(max);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, data.length);
  const barW = Math.max(2, slot * 0.7);
  const y = (v: number) => PAD.top + plotH - (v / niceMax) * plotH;
  const ticks = [0, niceMax / 2, niceMax];
  const total = data.reduce((s, h) => s + h.success + h.failed + h.retrying, 0);
  const hourLabel = (iso: string) =>
    new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

  return (
    <figure className="chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`Attempts per hour over the last ${data.length} hours: ${total} in all. The table below has each hour's numbers.`}
      >
        {ticks.map((t) => (
          <g key={t}>
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(t)} y2={y(t)} className="grid" />
            <text x={PAD.left - 6} y={y(t) + 4} textAnchor="end" className="axis">
              {t}
            </text>
          </g>
        ))}
        {data.map((hour, i) => {
          let base = 0;
          const x = PAD.left + i * slot + (slot - barW) / 2;
          return (
            <g key={hour.hour}>
              {OUTCOMES.map((o) => {
                const value = hour[o.key];
                if (value === 0) return null;
                const top = y(base + value);
                const height = y(base) - top;
                base += value;
                return (
                  <rect
                    key={o.key}
                    x={x}
                    y={top}
                    width={barW}
                    height={height}
                    className={o.className}
                  >
                    <title>{`${hourLabel(hour.hour)}: ${value} ${o.label.toLowerCase()}`}</title>
                  </rect>
                );
              })}
              {i % 6 === 0 && (
                <text x={x + barW / 2} y={HEIGHT - 8} textAnchor="middle" className="axis">
                  {hourLabel(hour.hour)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption className="legend">
        {OUTCOMES.map((o) => (
          <span key={o.key}>
            <span className={`swatch ${o.className}`} aria-hidden="true" /> {o.label}
          </span>
        ))}
      </figcaption>
      <details>
        <summary>The numbers, hour by hour</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Hour</th>
              <th scope="col">Delivered</th>
              <th scope="col">Retrying</th>
              <th scope="col">Failed</th>
            </tr>
          </thead>
          <tbody>
            {data.map((h) => (
              <tr key={h.hour}>
                <td>
                  <time dateTime={h.hour}>{hourLabel(h.hour)}</time>
                </td>
                <td>{h.success}</td>
                <td>{h.retrying}</td>
                <td>{h.failed}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

function niceCeil(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}
