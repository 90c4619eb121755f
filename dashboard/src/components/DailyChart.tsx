import { useEffect, useId, useRef, useState } from 'react';
import { Chart } from './chart-setup';
import { formatDecimal } from '../format';

export interface DailySeries {
  code: string;
  name: string;
  unit: string;
  aggregation: string;
  /** Days with usage: `YYYY-MM-DD` and the exact decimal. */
  days: Array<{ date: string; quantity: string }>;
}

const AGGREGATION_TEXT: Record<string, string> = {
  SUM: 'total per day',
  COUNT: 'events per day',
  MAX: 'highest value of the day',
  UNIQUE_COUNT: 'distinct values per day',
};

/** Every UTC day of `[start, end)` as `YYYY-MM-DD`. */
export function daysOf(start: string, end: string): string[] {
  const days: string[] = [];
  for (let at = new Date(start).getTime(); at < new Date(end).getTime(); at += 86_400_000) {
    days.push(new Date(at).toISOString().slice(0, 10));
  }
  return days;
}

/**
 * One metric's usage per day of the period as a bar chart (Chart.js, on a canvas), with the same figures as a table
 * for screen readers and keyboard users: the canvas is an image with a summary for its label; the table is the data.
 */
export function DailyChart({
  series,
  periodStart,
  periodEnd,
}: {
  series: DailySeries;
  periodStart: string;
  periodEnd: string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const tableId = useId();
  const days = daysOf(periodStart, periodEnd);
  const byDay = new Map(series.days.map((day) => [day.date, day.quantity]));
  const peak = series.days.reduce<{ date: string; quantity: string } | undefined>(
    (best, day) => (!best || Number(day.quantity) > Number(best.quantity) ? day : best),
    undefined,
  );
  const key = JSON.stringify([series.days, periodStart, periodEnd]);
  const [drawn, setDrawn] = useState(false);

  useEffect(() => {
    if (!canvas.current) {
      return;
    }
    const chart = draw(canvas.current);
    setDrawn(true);
    return () => {
      chart.destroy();
      setDrawn(false);
    };
    // The figures are the key: a new array with the same figures draws nothing new.
  }, [key]);

  function draw(element: HTMLCanvasElement): Chart {
    return new Chart(element, {
      type: 'bar',
      data: {
        labels: days.map((day) => day.slice(8)),
        datasets: [
          {
            label: `${series.name} (${series.unit})`,
            data: days.map((day) => Number(byDay.get(day) ?? 0)),
            backgroundColor: '#4338ca',
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false }, tooltip: { enabled: true } },
        scales: {
          x: { ticks: { color: '#4a5360', autoSkip: true, maxRotation: 0 }, grid: { display: false } },
          y: { beginAtZero: true, ticks: { color: '#4a5360' } },
        },
      },
    });
  }

  const summary =
    series.days.length === 0
      ? 'No usage in this period.'
      : `Usage on ${series.days.length} ${series.days.length === 1 ? 'day' : 'days'}; highest ${formatDecimal(
          peak?.quantity ?? '0',
        )} ${series.unit} on ${peak?.date ?? ''}.`;
  return (
    <figure className="chart panel" data-metric={series.code} data-drawn={drawn}>
      <figcaption>
        <strong>{series.name}</strong>{' '}
        <span className="hint">
          ({AGGREGATION_TEXT[series.aggregation] ?? 'per day'}, {series.unit}, UTC days)
        </span>
      </figcaption>
      <div className="chart-box">
        <canvas
          ref={canvas}
          role="img"
          aria-label={`Bar chart of ${series.name} per day. ${summary} The table below has every figure.`}
          aria-describedby={tableId}
        />
      </div>
      <details>
        <summary>Daily figures as a table</summary>
        <div className="table-wrap">
          <table className="daily" id={tableId}>
            <caption className="visually-hidden">
              {series.name} per day ({series.unit}); days without usage are left out
            </caption>
            <thead>
              <tr>
                <th scope="col">Day (UTC)</th>
                <th scope="col" className="num">
                  {series.unit}
                </th>
              </tr>
            </thead>
            <tbody>
              {series.days.map((day) => (
                <tr key={day.date}>
                  <th scope="row">{day.date}</th>
                  <td className="num">{formatDecimal(day.quantity)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
