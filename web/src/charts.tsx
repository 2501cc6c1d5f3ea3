/** Chart.js (tree-shaken: only what the dashboard draws), with one look for every chart. */
import {
  BarElement, CategoryScale, Chart as ChartJS, Filler, Legend, LinearScale, LineElement, PointElement, Tooltip,
} from 'chart.js';
import { Bar, Line } from 'react-chartjs-2';

ChartJS.register(CategoryScale, LinearScale, PointElement, LineElement, BarElement, Filler, Tooltip, Legend);
ChartJS.defaults.font.family = getComputedStyle(document.documentElement).getPropertyValue('--font').trim() || 'system-ui, sans-serif';
ChartJS.defaults.color = '#6b7280';

export interface Series { label: string; data: number[]; color: string }

const base = (stacked: boolean, format?: (n: number) => string) => ({
  responsive: true,
  maintainAspectRatio: false,
  animation: false as const,
  interaction: { mode: 'index' as const, intersect: false },
  plugins: {
    legend: { display: false },
    tooltip: { callbacks: format ? { label: (c: { dataset: { label?: string }; parsed: { y: number | null } }) => `${c.dataset.label}: ${format(c.parsed.y ?? 0)}` } : {} },
  },
  scales: {
    x: { stacked, grid: { display: false }, ticks: { maxTicksLimit: 8 } },
    y: { stacked, beginAtZero: true, grid: { color: '#f1f2f4' }, ticks: { maxTicksLimit: 5, callback: format ? (v: string | number) => format(Number(v)) : undefined } },
  },
});

/** A chart with a text alternative: the figure is described for screen readers. */
export function LineChart({ labels, series, format, title }: { labels: string[]; series: Series[]; format?: (n: number) => string; title: string }) {
  return (
    <figure className="chart" aria-label={title}>
      <div className="chart-canvas">
        <Line
          aria-hidden="true"
          options={base(false, format)}
          data={{ labels, datasets: series.map((s) => ({ label: s.label, data: s.data, borderColor: s.color, backgroundColor: `${s.color}22`, fill: true, tension: 0.3, pointRadius: 0, borderWidth: 2 })) }}
        />
      </div>
    </figure>
  );
}

export function BarChart({ labels, series, format, title, stacked = true }: { labels: string[]; series: Series[]; format?: (n: number) => string; title: string; stacked?: boolean }) {
  return (
    <figure className="chart" aria-label={title}>
      <div className="chart-canvas">
        <Bar
          aria-hidden="true"
          options={base(stacked, format)}
          data={{ labels, datasets: series.map((s) => ({ label: s.label, data: s.data, backgroundColor: s.color, borderRadius: 3, maxBarThickness: 28 })) }}
        />
      </div>
    </figure>
  );
}
