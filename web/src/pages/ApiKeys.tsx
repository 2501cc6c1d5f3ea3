/** API Keys: list, Create API Key (shown once), rotate with a grace period, revoke with confirmation. */
import { useState, type FormEvent } from 'react';
import { get, patch, post, type ApiKey, type List } from '../api';
import { useSession } from '../session';
import {
  Badge, ConfirmDialog, CopyButton, Dialog, EmptyState, ErrorState, Loading, PageHeader, errorMessage, fmtDate, fmtRelative, useLoad, useToast,
} from '../ui';

export const ALL_PERMISSIONS = ['chat', 'embeddings', 'audio', 'models:read', 'usage:read', 'keys:read', 'keys:write', 'providers:read', 'providers:write'] as const;
const READ_ONLY = ALL_PERMISSIONS.filter((p) => p.endsWith(':read'));
const DEFAULT = ['chat', 'embeddings', 'audio', 'models:read'];

function permissionSummary(p: string[]): string {
  if (p.length === ALL_PERMISSIONS.length) return 'All';
  if (p.length === READ_ONLY.length && READ_ONLY.every((x) => p.includes(x))) return 'Read only';
  return p.join(', ');
}

const statusTone = { active: 'green', revoked: 'red', expired: 'amber' } as const;

export function ApiKeys() {
  const session = useSession();
  const toast = useToast();
  const keys = useLoad(() => get<List<ApiKey>>('/keys?limit=1000'), [session.organization?.id]);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ key: string; name: string; title: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [rotating, setRotating] = useState<ApiKey | null>(null);
  const [renaming, setRenaming] = useState<ApiKey | null>(null);

  const canWrite = session.can('keys:write');
  const createButton = canWrite && <button type="button" className="button button-primary" onClick={() => setCreating(true)}>Create API Key</button>;

  return (
    <div className="page">
      <PageHeader
        title="API Keys"
        description={session.role === 'member'
          ? 'The keys you created. Every API request to Backbone needs one: send it as Authorization: Bearer sk_…'
          : 'Every API request to Backbone needs an API key: send it as Authorization: Bearer sk_…'}
        actions={createButton}
      />
      {keys.loading && !keys.data ? <Loading /> : keys.error ? <ErrorState message={keys.error} onRetry={keys.reload} /> : keys.data!.data.length === 0 ? (
        <EmptyState title="No API keys yet" action={createButton}>Create a key for each environment or service, so you can rotate or revoke one without affecting the others.</EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table" aria-label="API keys">
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Environment</th><th scope="col">Permissions</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Status</th>{canWrite && <th scope="col"><span className="sr-only">Actions</span></th>}</tr>
            </thead>
            <tbody>
              {keys.data!.data.slice().reverse().map((k) => (
                <tr key={k.id} data-key-id={k.id}>
                  <td className="strong key-name">{k.name}</td>
                  <td><code className="prefix">{k.prefix}…</code></td>
                  <td><Badge tone={k.environment === 'live' ? 'blue' : 'neutral'}>{k.environment}</Badge></td>
                  <td className="permissions" title={k.permissions.join(', ')}>{permissionSummary(k.permissions)}</td>
                  <td className="nowrap">{fmtDate(k.created_at)}</td>
                  <td className="nowrap">{fmtRelative(k.last_used_at)}</td>
                  <td><Badge tone={statusTone[k.status]}>{k.status === 'active' ? 'Active' : k.status === 'revoked' ? 'Revoked' : 'Expired'}</Badge></td>
                  {canWrite && (
                    <td className="row-actions">
                      {k.status !== 'revoked' && <>
                        <button type="button" className="button button-small" onClick={() => setRenaming(k)} aria-label={`Rename ${k.name}`}>Rename</button>
                        <button type="button" className="button button-small" onClick={() => setRotating(k)} aria-label={`Rotate ${k.name}`}>Rotate</button>
                        <button type="button" className="button button-small button-danger-ghost" onClick={() => setRevoking(k)} aria-label={`Revoke ${k.name}`}>Revoke</button>
                      </>}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <CreateKeyDialog
        open={creating}
        onClose={() => setCreating(false)}
        grantable={session.permissions}
        onCreated={(k) => { setCreating(false); setCreated({ key: k.key, name: k.name, title: 'API key created' }); keys.reload(); }}
      />
      <ShowKeyDialog shown={created} onClose={() => setCreated(null)} />
      <ConfirmDialog
        open={!!revoking}
        title="Revoke API key"
        danger
        confirmLabel="Revoke key"
        body={revoking && <p>Revoke <strong>{revoking.name}</strong> (<code>{revoking.prefix}…</code>)? Requests using it will fail with 401 at once. This cannot be undone.</p>}
        onClose={() => setRevoking(null)}
        onConfirm={async () => {
          await post(`/keys/${revoking!.id}/revoke`);
          toast(`Revoked ${revoking!.name}`);
          setRevoking(null);
          keys.reload();
        }}
      />
      <RotateDialog
        apiKey={rotating}
        onClose={() => setRotating(null)}
        onRotated={(secret, name) => { setRotating(null); setCreated({ key: secret, name, title: 'API key rotated' }); keys.reload(); }}
      />
      <RenameDialog apiKey={renaming} onClose={() => setRenaming(null)} onDone={() => { setRenaming(null); keys.reload(); }} />
    </div>
  );
}

type Access = 'all' | 'restricted' | 'read_only';

function lines(v: FormDataEntryValue | null): string[] | undefined {
  const list = String(v ?? '').split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
  return list.length ? list : undefined;
}

function CreateKeyDialog({ open, onClose, onCreated, grantable }: { open: boolean; onClose: () => void; onCreated: (k: ApiKey & { key: string }) => void; grantable: string[] }) {
  const [access, setAccess] = useState<Access>('restricted');
  const [checked, setChecked] = useState<string[]>(DEFAULT);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const canGrantAll = ALL_PERMISSIONS.every((p) => grantable.includes(p));

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const num = (name: string) => (f.get(name) ? Number(f.get(name)) : undefined);
    const body: Record<string, unknown> = {
      name: f.get('name'),
      environment: f.get('environment'),
      permissions: access === 'all' ? 'all' : access === 'read_only' ? 'read_only' : checked,
    };
    const models = lines(f.get('allowed_models'));
    const ips = lines(f.get('allowed_ips'));
    if (models) body.allowed_models = models;
    if (ips) body.allowed_ips = ips;
    if (f.get('expires_in')) body.expires_in = f.get('expires_in');
    if (num('rpm_limit')) body.rpm_limit = num('rpm_limit');
    if (num('tpm_limit')) body.tpm_limit = num('tpm_limit');
    if (num('concurrency_limit')) body.concurrency_limit = num('concurrency_limit');
    if (num('budget_usd') !== undefined) { body.budget_usd = num('budget_usd'); body.budget_period = f.get('budget_period') || null; }
    if (access === 'restricted' && checked.length === 0) { setError('Choose at least one permission.'); return; }
    setBusy(true);
    setError(null);
    try {
      onCreated(await post<ApiKey & { key: string }>('/keys', body));
      setAccess('restricted');
      setChecked(DEFAULT);
    } catch (err) { setError(errorMessage(err)); } finally { setBusy(false); }
  };

  return (
    <Dialog open={open} title="Create API Key" onClose={onClose} wide description="The full key is shown once, right after you create it.">
      <form className="form" onSubmit={submit} id="create-key-form">
        <div className="field">
          <label htmlFor="key-name">Name</label>
          <input id="key-name" name="name" required maxLength={200} placeholder="e.g. production backend" data-autofocus />
        </div>
        <fieldset className="field">
          <legend>Environment</legend>
          <div className="segmented">
            <label><input type="radio" name="environment" value="live" defaultChecked /> Live</label>
            <label><input type="radio" name="environment" value="test" /> Test</label>
          </div>
        </fieldset>
        <fieldset className="field">
          <legend>Permissions</legend>
          <div className="segmented">
            <label><input type="radio" name="access" checked={access === 'all'} onChange={() => setAccess('all')} disabled={!canGrantAll} /> All</label>
            <label><input type="radio" name="access" checked={access === 'restricted'} onChange={() => setAccess('restricted')} /> Restricted</label>
            <label><input type="radio" name="access" checked={access === 'read_only'} onChange={() => setAccess('read_only')} /> Read only</label>
          </div>
          {!canGrantAll && <span className="field-hint">Your role can grant only the permissions it holds.</span>}
          {access === 'restricted' && (
            <div className="checkbox-grid" role="group" aria-label="Restricted permissions">
              {ALL_PERMISSIONS.map((p) => (
                <label key={p} className={grantable.includes(p) ? '' : 'disabled'}>
                  <input
                    type="checkbox"
                    checked={checked.includes(p)}
                    disabled={!grantable.includes(p)}
                    onChange={(e) => setChecked((c) => (e.target.checked ? [...c, p] : c.filter((x) => x !== p)))}
                  /> <code>{p}</code>
                </label>
              ))}
            </div>
          )}
        </fieldset>
        <details className="advanced">
          <summary>Restrictions, expiry and limits</summary>
          <div className="grid-2">
            <div className="field">
              <label htmlFor="key-models">Allowed models</label>
              <textarea id="key-models" name="allowed_models" rows={2} placeholder="gpt-4o, openai/gpt-4o-mini" aria-describedby="key-models-hint" />
              <span id="key-models-hint" className="field-hint">Comma or newline separated. Empty: every model.</span>
            </div>
            <div className="field">
              <label htmlFor="key-ips">Allowed IP addresses</label>
              <textarea id="key-ips" name="allowed_ips" rows={2} placeholder="203.0.113.0/24" aria-describedby="key-ips-hint" />
              <span id="key-ips-hint" className="field-hint">IPs or CIDR blocks. Empty: any address.</span>
            </div>
            <div className="field">
              <label htmlFor="key-expiry">Expires</label>
              <select id="key-expiry" name="expires_in" defaultValue="">
                <option value="">Never</option><option value="7d">In 7 days</option><option value="30d">In 30 days</option>
                <option value="90d">In 90 days</option><option value="365d">In 1 year</option>
              </select>
            </div>
            <div className="field">
              <label htmlFor="key-rpm">Requests per minute</label>
              <input id="key-rpm" name="rpm_limit" type="number" min={1} placeholder="Plan default" />
            </div>
            <div className="field">
              <label htmlFor="key-tpm">Tokens per minute</label>
              <input id="key-tpm" name="tpm_limit" type="number" min={1} placeholder="Plan default" />
            </div>
            <div className="field">
              <label htmlFor="key-concurrency">Concurrent requests</label>
              <input id="key-concurrency" name="concurrency_limit" type="number" min={1} placeholder="Plan default" />
            </div>
            <div className="field">
              <label htmlFor="key-budget">Budget (USD)</label>
              <div className="inline">
                <input id="key-budget" name="budget_usd" type="number" min={0} step="0.01" placeholder="No budget" />
                <select name="budget_period" aria-label="Budget period" defaultValue="month">
                  <option value="day">per day</option><option value="week">per week</option><option value="month">per month</option><option value="">in total</option>
                </select>
              </div>
            </div>
          </div>
        </details>
        {error && <p className="form-error" role="alert">{error}</p>}
        <div className="dialog-footer">
          <button type="button" className="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="button button-primary" disabled={busy}>{busy ? 'Creating…' : 'Create key'}</button>
        </div>
      </form>
    </Dialog>
  );
}

/** The one time a full key is visible. */
function ShowKeyDialog({ shown, onClose }: { shown: { key: string; name: string; title: string } | null; onClose: () => void }) {
  return (
    <Dialog
      open={!!shown}
      title={shown?.title ?? ''}
      onClose={onClose}
      footer={<button type="button" className="button button-primary" onClick={onClose} data-autofocus>Done</button>}
    >
      {shown && <>
        <div className="callout callout-warning" role="note">
          <strong>Save your key immediately</strong>
          <p>This is the only time the full key for <strong>{shown.name}</strong> is shown. After you close this dialog only its prefix is visible; if you lose it, you will need to create a new one.</p>
        </div>
        <div className="secret-row">
          <label htmlFor="new-key" className="sr-only">Your new API key</label>
          <input id="new-key" className="secret" readOnly value={shown.key} onFocus={(e) => e.currentTarget.select()} data-testid="new-key" />
          <CopyButton value={shown.key} />
        </div>
        <p className="muted small">Use it as <code>Authorization: Bearer {shown.key.slice(0, 12)}…</code> or set <code>BACKBONE_API_KEY</code>.</p>
      </>}
    </Dialog>
  );
}

function RotateDialog({ apiKey, onClose, onRotated }: { apiKey: ApiKey | null; onClose: () => void; onRotated: (secret: string, name: string) => void }) {
  const [grace, setGrace] = useState('24h');
  return (
    <ConfirmDialog
      open={!!apiKey}
      title="Rotate API key"
      confirmLabel="Rotate key"
      onClose={onClose}
      body={apiKey && <>
        <p>Rotating <strong>{apiKey.name}</strong> makes a new secret for the same key. The current secret keeps working during the grace period, so you can deploy the new one first.</p>
        <div className="field">
          <label htmlFor="grace">Grace period for the old secret</label>
          <select id="grace" value={grace} onChange={(e) => setGrace(e.target.value)}>
            <option value="0">None: stop it now</option><option value="1h">1 hour</option><option value="24h">24 hours</option><option value="7d">7 days</option>
          </select>
        </div>
      </>}
      onConfirm={async () => {
        const r = await post<ApiKey & { key: string }>(`/keys/${apiKey!.id}/rotate`, { grace });
        onRotated(r.key, r.name);
      }}
    />
  );
}

function RenameDialog({ apiKey, onClose, onDone }: { apiKey: ApiKey | null; onClose: () => void; onDone: () => void }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog open={!!apiKey} title="Rename API key" onClose={onClose}>
      {apiKey && (
        <form className="form" onSubmit={async (e) => {
          e.preventDefault();
          try { await patch(`/keys/${apiKey.id}`, { name: new FormData(e.currentTarget).get('name') }); onDone(); } catch (err) { setError(errorMessage(err)); }
        }}>
          <div className="field"><label htmlFor="rename">Name</label><input id="rename" name="name" defaultValue={apiKey.name} required maxLength={200} /></div>
          {error && <p className="form-error" role="alert">{error}</p>}
          <div className="dialog-footer"><button type="button" className="button" onClick={onClose}>Cancel</button><button className="button button-primary">Save</button></div>
        </form>
      )}
    </Dialog>
  );
}
