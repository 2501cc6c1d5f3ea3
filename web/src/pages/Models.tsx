/** Models: what the organisation can call, with list prices. */
import { useState } from 'react';
import { get, type ModelPrice } from '../api';
import { useSession } from '../session';
import { Badge, EmptyState, ErrorState, Loading, PageHeader, useLoad } from '../ui';

const price = (n: number | null, unit = '') => (n === null ? '—' : `$${n.toLocaleString(undefined, { maximumFractionDigits: 4 })}${unit}`);

export function Models() {
  const session = useSession();
  const res = useLoad(() => get<{ data: ModelPrice[]; byok_available: boolean }>('/pricing'), [session.organization?.id]);
  const [q, setQ] = useState('');
  const rows = (res.data?.data ?? []).filter((m) => m.id.toLowerCase().includes(q.trim().toLowerCase()));
  return (
    <div className="page">
      <PageHeader title="Models" description="Every model your organisation can call. Platform models go by bare name; your own provider accounts (BYOK) by provider/model. Prices are per million tokens." />
      <div className="filters">
        <label>Search<input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="gpt-4o" /></label>
      </div>
      {res.loading && !res.data ? <Loading /> : res.error ? <ErrorState message={res.error} onRetry={res.reload} /> : rows.length === 0 ? (
        <EmptyState title={q ? 'No model matches' : 'No models available'}>{q ? 'Try another name.' : 'Configure a platform provider, or add an account under AI Providers.'}</EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table" aria-label="Models">
            <thead><tr><th scope="col">Model</th><th scope="col">Provider</th><th scope="col">Billing</th><th scope="col" className="num">Input / 1M</th><th scope="col" className="num">Cached input / 1M</th><th scope="col" className="num">Output / 1M</th><th scope="col" className="num">Audio / min</th></tr></thead>
            <tbody>{rows.map((m) => (
              <tr key={m.id}>
                <td><code>{m.id}</code></td>
                <td>{m.provider}</td>
                <td>{m.byok ? <Badge tone="amber">Your account (BYOK)</Badge> : <Badge tone="blue">Platform</Badge>}</td>
                <td className="num">{price(m.input_per_million)}</td>
                <td className="num">{price(m.cached_input_per_million)}</td>
                <td className="num">{price(m.output_per_million)}</td>
                <td className="num">{price(m.audio_per_minute)}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
    </div>
  );
}
