/** Members: who is in the organisation and with which role; owners invite, change roles and remove. */
import { useState } from 'react';
import { del, get, patch, post, type Invite, type List, type Member, type Role } from '../api';
import { useSession } from '../session';
import { Badge, ConfirmDialog, CopyButton, Dialog, ErrorState, Loading, PageHeader, errorMessage, fmtDate, useLoad, useToast } from '../ui';

const ROLE_TEXT: Record<Role, string> = {
  owner: 'Everything, including members, invites and the plan',
  admin: 'Every key and AI provider in the organisation',
  member: 'Their own API keys; reads providers, models and usage',
};

export function Members() {
  const session = useSession();
  const toast = useToast();
  const isOwner = session.role === 'owner';
  const org = session.organization?.id;
  const members = useLoad(() => get<List<Member>>('/members'), [org]);
  const invites = useLoad(() => (isOwner ? get<List<Invite>>('/invites') : Promise.resolve({ object: 'list', data: [], has_more: false } as List<Invite>)), [org, isOwner]);
  const [inviting, setInviting] = useState(false);
  const [link, setLink] = useState<string | null>(null);
  const [removing, setRemoving] = useState<Member | null>(null);

  const changeRole = async (m: Member, role: Role) => {
    try { await patch(`/members/${m.id}`, { role }); toast(`${m.name} is now ${role}`); members.reload(); } catch (e) { toast(errorMessage(e), 'error'); members.reload(); }
  };

  return (
    <div className="page">
      <PageHeader title="Members" description="People in this organisation and what their role lets them do."
        actions={isOwner && <button type="button" className="button button-primary" onClick={() => setInviting(true)}>Invite member</button>} />
      <dl className="roles-legend">
        {(Object.keys(ROLE_TEXT) as Role[]).map((r) => <div key={r}><dt><Badge tone={r === 'owner' ? 'blue' : r === 'admin' ? 'green' : 'neutral'}>{r}</Badge></dt><dd>{ROLE_TEXT[r]}</dd></div>)}
      </dl>
      {members.loading && !members.data ? <Loading /> : members.error ? <ErrorState message={members.error} onRetry={members.reload} /> : (
        <div className="table-wrap">
          <table className="table" aria-label="Members">
            <thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Joined</th>{isOwner && <th scope="col"><span className="sr-only">Actions</span></th>}</tr></thead>
            <tbody>{members.data!.data.map((m) => (
              <tr key={m.id}>
                <td className="strong">{m.name}{m.id === session.user.id && <span className="muted"> (you)</span>}</td>
                <td>{m.email}</td>
                <td>{isOwner ? (
                  <select aria-label={`Role of ${m.name}`} value={m.role} onChange={(e) => void changeRole(m, e.target.value as Role)}>
                    <option value="owner">owner</option><option value="admin">admin</option><option value="member">member</option>
                  </select>
                ) : m.role}</td>
                <td>{fmtDate(m.joined_at)}</td>
                {isOwner && <td className="row-actions"><button type="button" className="button button-small button-danger-ghost" onClick={() => setRemoving(m)} aria-label={`Remove ${m.name}`}>Remove</button></td>}
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      {isOwner && invites.data && invites.data.data.length > 0 && (
        <section className="card">
          <h2>Pending invites</h2>
          <table className="table table-compact" aria-label="Pending invites">
            <thead><tr><th scope="col">For</th><th scope="col">Role</th><th scope="col">Expires</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{invites.data.data.map((i) => (
              <tr key={i.id}><td>{i.email ?? 'Anyone with the link'}</td><td>{i.role}</td><td>{fmtDate(i.expires_at)}</td>
                <td className="row-actions"><button type="button" className="button button-small" onClick={async () => { await del(`/invites/${i.id}`); invites.reload(); }}>Cancel invite</button></td></tr>
            ))}</tbody>
          </table>
        </section>
      )}
      <InviteDialog open={inviting} onClose={() => setInviting(false)} onCreated={(url) => { setInviting(false); setLink(url); invites.reload(); }} />
      <Dialog open={!!link} title="Invite link created" onClose={() => setLink(null)} footer={<button type="button" className="button button-primary" onClick={() => setLink(null)}>Done</button>}>
        <p>Send this link to the person you are inviting. It works once, and is shown only now.</p>
        <div className="secret-row"><label htmlFor="invite-link" className="sr-only">Invite link</label><input id="invite-link" className="secret" readOnly value={link ?? ''} onFocus={(e) => e.currentTarget.select()} /><CopyButton value={link ?? ''} /></div>
      </Dialog>
      <ConfirmDialog open={!!removing} danger title="Remove member" confirmLabel="Remove member"
        body={removing && <p>Remove <strong>{removing.name}</strong> ({removing.email}) from this organisation? They are signed out of it at once. Keys they created keep working until revoked.</p>}
        onClose={() => setRemoving(null)}
        onConfirm={async () => { await del(`/members/${removing!.id}`); toast(`Removed ${removing!.name}`); setRemoving(null); members.reload(); }} />
    </div>
  );
}

function InviteDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (url: string) => void }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog open={open} title="Invite member" onClose={onClose} description="Create a single-use invite link.">
      <form className="form" onSubmit={async (e) => {
        e.preventDefault();
        const f = new FormData(e.currentTarget);
        try {
          const inv = await post<Invite>('/invites', { role: f.get('role'), email: f.get('email') || null });
          onCreated(`${window.location.origin}${inv.path}`);
        } catch (err) { setError(errorMessage(err)); }
      }}>
        <div className="field"><label htmlFor="inv-email">Email (optional)</label><input id="inv-email" name="email" type="email" aria-describedby="inv-email-hint" /><span id="inv-email-hint" className="field-hint">If given, only this address can accept.</span></div>
        <div className="field"><label htmlFor="inv-role">Role</label><select id="inv-role" name="role" defaultValue="member"><option value="member">member</option><option value="admin">admin</option><option value="owner">owner</option></select></div>
        {error && <p className="form-error" role="alert">{error}</p>}
        <div className="dialog-footer"><button type="button" className="button" onClick={onClose}>Cancel</button><button className="button button-primary">Create invite link</button></div>
      </form>
    </Dialog>
  );
}
