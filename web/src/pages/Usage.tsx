/** Usage: requests, tokens, cost and errors over time, filterable by key, model and provider; top keys; recent errors; CSV export. */
import { useState } from 'react';
import { downloadCsv, get, type ApiKey, type List, type UsageError } from '../api';
import { useSession } from '../session';
import { BarChart, LineChart } from '../charts';
import { loadGroups, loadTimeline, rangeParams, RANGES, type Filters, type Range } from '../usage-data';
import { Badge, EmptyState, ErrorState, Loading, PageHeader, errorMessage, fmtCompact, fmtDateTime, fmtNumber, fmtUsd, fmtUsdTick, useLoad, useToast } from '../ui';

const PROVIDERS = ['openai', 'anthropic', 'azure-openai', 'vertex-ai', 'ollama'];

export function Usage() {
  const session = useSession();
  const toast = useToast();
  const [filters, setFilters] = useState<Filters>({ range: '7d' });
  const org = session.organization?.id;
  const keys = useLoad(() => get<List<ApiKey>>('/keys?limit=1000'), [org]);
  const models = useLoad(() => loadGroups({ range: '90d' }, 'model'), [org]);
  const timeline = useLoad(() => loadTimeline(filters), [org, filters]);
  const topKeys = useLoad(() => loadGroups(filters, 'key'), [org, filters]);
  const errors = useLoad(() => get<List<UsageError>>(`/usage/errors?${rangeParams(filters, { limit: '10' })}`), [org, filters]);
  const keyName = (id: string) => keys.data?.data.find((k) => k.id === id)?.name ?? id;

  const set = (patch: Partial<Filters>) => setFilters((f) => ({ ...f, ...patch }));

  return (
    <div className="page">
      <PageHeader
        title="Usage"
        description="Every request through the gateway, as recorded in the usage ledger."
        actions={<button type="button" className="button" onClick={async () => {
          try { await downloadCsv(`/usage?${rangeParams(filters, { group_by: filters.range === '24h' ? 'hour' : 'day', format: 'csv' })}`, `backbone-usage-${filters.range}.csv`); }
          catch (e) { toast(errorMessage(e), 'error'); }
        }}>Export CSV</button>}
      />
      <form className="filters" aria-label="Usage filters" onSubmit={(e) => e.preventDefault()}>
        <label>Range
          <select value={filters.range} onChange={(e) => set({ range: e.target.value as Range })}>
            {RANGES.map((r) => <option key={r.value} value={r.value}>{r.label}</option>)}
          </select>
        </label>
        <label>API key
          <select value={filters.keyId ?? ''} onChange={(e) => set({ keyId: e.target.value || undefined })}>
            <option value="">All keys</option>
            {keys.data?.data.map((k) => <option key={k.id} value={k.id}>{k.name} ({k.prefix}…)</option>)}
          </select>
        </label>
        <label>Model
          <select value={filters.model ?? ''} onChange={(e) => set({ model: e.target.value || undefined })}>
            <option value="">All models</option>
            {models.data?.map((m) => <option key={m.group} value={m.group}>{m.group}</option>)}
          </select>
        </label>
        <label>Provider
          <select value={filters.provider ?? ''} onChange={(e) => set({ provider: e.target.value || undefined })}>
            <option value="">All providers</option>
            {PROVIDERS.map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
        </label>
      </form>

      {timeline.error ? <ErrorState message={timeline.error} onRetry={timeline.reload} /> : !timeline.data ? <Loading /> : <>
        <div className="stats" data-testid="usage-stats">
          <Stat label="Requests" value={fmtNumber(timeline.data.totals.requests)} />
          <Stat label="Tokens" value={fmtCompact(timeline.data.totals.prompt_tokens + timeline.data.totals.completion_tokens)} detail={`${fmtCompact(timeline.data.totals.prompt_tokens)} in · ${fmtCompact(timeline.data.totals.completion_tokens)} out`} />
          <Stat label="Cost" value={fmtUsd(timeline.data.totals.cost_usd)} />
          <Stat label="Errors" value={fmtNumber(timeline.data.totals.errors)} detail={timeline.data.totals.requests ? `${((timeline.data.totals.errors / timeline.data.totals.requests) * 100).toFixed(1)}% of requests` : undefined} />
        </div>
        <div className="chart-grid">
          <section className="card"><h2>Requests</h2>
            <LineChart title="Requests over time" labels={timeline.data.labels} series={[{ label: 'Requests', data: timeline.data.points.map((p) => p.requests), color: '#4f46e5' }]} /></section>
          <section className="card"><h2>Tokens</h2>
            <BarChart title="Tokens over time" labels={timeline.data.labels} format={fmtCompact} series={[
              { label: 'Input', data: timeline.data.points.map((p) => p.prompt_tokens), color: '#6366f1' },
              { label: 'Output', data: timeline.data.points.map((p) => p.completion_tokens), color: '#a5b4fc' },
            ]} /></section>
          <section className="card"><h2>Cost</h2>
            <LineChart title="Cost over time" labels={timeline.data.labels} format={fmtUsdTick} series={[{ label: 'Cost', data: timeline.data.points.map((p) => p.cost_usd), color: '#059669' }]} /></section>
          <section className="card"><h2>Errors</h2>
            <BarChart title="Errors over time" labels={timeline.data.labels} series={[{ label: 'Errors', data: timeline.data.points.map((p) => p.errors), color: '#dc2626' }]} /></section>
        </div>
      </>}

      <div className="split">
        <section className="card">
          <h2>Top keys</h2>
          {topKeys.error ? <ErrorState message={topKeys.error} /> : !topKeys.data ? <Loading /> : topKeys.data.length === 0 ? <EmptyState title="No requests in this range" /> : (
            <table className="table table-compact" aria-label="Top keys">
              <thead><tr><th scope="col">Key</th><th scope="col" className="num">Requests</th><th scope="col" className="num">Tokens</th><th scope="col" className="num">Cost</th><th scope="col" className="num">Errors</th></tr></thead>
              <tbody>{topKeys.data.slice(0, 10).map((g) => (
                <tr key={g.group}><td>{keyName(g.group)}</td><td className="num">{fmtNumber(g.requests)}</td><td className="num">{fmtCompact(g.prompt_tokens + g.completion_tokens)}</td><td className="num">{fmtUsd(g.cost_usd)}</td><td className="num">{fmtNumber(g.errors)}</td></tr>
              ))}</tbody>
            </table>
          )}
        </section>
        <RecentErrors errors={errors} keyName={keyName} />
      </div>
    </div>
  );
}

export function Stat({ label, value, detail }: { label: string; value: string; detail?: string }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {detail && <div className="stat-detail">{detail}</div>}
    </div>
  );
}

export function RecentErrors({ errors, keyName }: { errors: { data?: List<UsageError>; error: string | null }; keyName: (id: string) => string }) {
  return (
    <section className="card">
      <h2>Recent errors</h2>
      {errors.error ? <ErrorState message={errors.error} /> : !errors.data ? <Loading /> : errors.data.data.length === 0 ? <EmptyState title="No errors in this range" /> : (
        <table className="table table-compact" aria-label="Recent errors">
          <thead><tr><th scope="col">Time</th><th scope="col">Key</th><th scope="col">Model</th><th scope="col">Error</th></tr></thead>
          <tbody>{errors.data.data.map((e) => (
            <tr key={e.id}><td>{fmtDateTime(e.created_at)}</td><td>{keyName(e.key_id)}</td><td><code>{e.model}</code></td><td><Badge tone="red">{e.status}</Badge> {e.error_code ?? ''}</td></tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}
