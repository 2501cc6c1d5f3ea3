/** Overview: the last 7 days at a glance, top keys, recent errors, and how to get started. */
import { get, type ApiKey, type List, type UsageError } from '../api';
import { useSession } from '../session';
import { Link } from '../router';
import { LineChart } from '../charts';
import { loadGroups, loadTimeline, rangeParams } from '../usage-data';
import { EmptyState, ErrorState, Loading, PageHeader, fmtCompact, fmtNumber, fmtUsd, useLoad } from '../ui';
import { RecentErrors, Stat } from './Usage';

export function Overview() {
  const session = useSession();
  const org = session.organization?.id;
  const f = { range: '7d' as const };
  const timeline = useLoad(() => loadTimeline(f), [org]);
  const keys = useLoad(() => get<List<ApiKey>>('/keys?limit=1000'), [org]);
  const topKeys = useLoad(() => loadGroups(f, 'key'), [org]);
  const errors = useLoad(() => get<List<UsageError>>(`/usage/errors?${rangeParams(f, { limit: '5' })}`), [org]);
  const keyName = (id: string) => keys.data?.data.find((k) => k.id === id)?.name ?? id;
  const activeKeys = keys.data?.data.filter((k) => k.status === 'active').length;

  return (
    <div className="page">
      <PageHeader title="Overview" description={<>Welcome back, {session.user.name}. Here is {session.organization?.name ?? 'your organisation'} over the last 7 days.</>}
        actions={session.can('keys:write') && <Link to="/api-keys" className="button button-primary">Create API Key</Link>} />
      {timeline.error ? <ErrorState message={timeline.error} onRetry={timeline.reload} /> : !timeline.data ? <Loading /> : <>
        <div className="stats">
          <Stat label="Requests" value={fmtNumber(timeline.data.totals.requests)} />
          <Stat label="Tokens" value={fmtCompact(timeline.data.totals.prompt_tokens + timeline.data.totals.completion_tokens)} />
          <Stat label="Cost" value={fmtUsd(timeline.data.totals.cost_usd)} />
          <Stat label="Active keys" value={activeKeys === undefined ? '…' : String(activeKeys)} />
        </div>
        <section className="card">
          <h2>Requests</h2>
          <LineChart title="Requests per day, last 7 days" labels={timeline.data.labels} series={[{ label: 'Requests', data: timeline.data.points.map((p) => p.requests), color: '#4f46e5' }]} />
        </section>
      </>}
      <div className="split">
        <section className="card">
          <h2>Top keys</h2>
          {!topKeys.data ? <Loading /> : topKeys.data.length === 0 ? (
            <EmptyState title="No requests yet">Create an API key and send your first request: <code>POST /api/v1/chat/completions</code> with <code>Authorization: Bearer sk_…</code>.</EmptyState>
          ) : (
            <ol className="ranked">{topKeys.data.slice(0, 5).map((g) => <li key={g.group}><span>{keyName(g.group)}</span><span className="muted">{fmtNumber(g.requests)} {g.requests === 1 ? 'request' : 'requests'} · {fmtUsd(g.cost_usd)}</span></li>)}</ol>
          )}
        </section>
        <RecentErrors errors={errors} keyName={keyName} />
      </div>
      <section className="card">
        <h2>Quick start</h2>
        <pre className="code"><code>{`curl ${window.location.origin}/api/v1/chat/completions \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer $BACKBONE_API_KEY" \\
  -d '{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello!"}]}'`}</code></pre>
      </section>
    </div>
  );
}
