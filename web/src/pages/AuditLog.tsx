/** Audit log: who created, changed, rotated or revoked what (members see their own actions). */
import { get, type AuditEvent, type List } from '../api';
import { useSession } from '../session';
import { EmptyState, ErrorState, Loading, PageHeader, fmtDateTime, useLoad } from '../ui';

function summary(e: AuditEvent): string {
  const d = e.details as Record<string, unknown>;
  if (typeof d.name === 'string') return `${d.name}${typeof d.prefix === 'string' ? ` (${d.prefix}…)` : ''}`;
  if (d.changes && typeof d.changes === 'object') return `changed ${Object.keys(d.changes).join(', ')}`;
  if (typeof d.role === 'string') return `role ${d.role}${typeof d.email === 'string' ? `, ${d.email}` : ''}`;
  return '';
}

export function AuditLog() {
  const session = useSession();
  const events = useLoad(() => get<List<AuditEvent>>('/audit-events?limit=200'), [session.organization?.id]);
  return (
    <div className="page">
      <PageHeader title="Audit log" description={session.role === 'member' ? 'Your own actions in this organisation.' : 'Every change to keys, providers, members and settings in this organisation.'} />
      {events.loading && !events.data ? <Loading /> : events.error ? <ErrorState message={events.error} onRetry={events.reload} /> : events.data!.data.length === 0 ? <EmptyState title="Nothing recorded yet" /> : (
        <div className="table-wrap">
          <table className="table" aria-label="Audit events">
            <thead><tr><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Details</th><th scope="col">IP</th></tr></thead>
            <tbody>{events.data!.data.map((e) => (
              <tr key={e.id}>
                <td>{fmtDateTime(e.created_at)}</td>
                <td><code>{e.actor === `user:${session.user.id}` ? 'you' : e.actor}</code></td>
                <td><code>{e.action}</code></td>
                <td><code>{e.target_id}</code></td>
                <td>{summary(e)}</td>
                <td>{e.ip ?? '—'}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
    </div>
  );
}
