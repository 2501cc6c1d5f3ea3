/** AI Providers: the organisation's own provider accounts (BYOK), one per provider type. */
import { useState, type FormEvent } from 'react';
import { del, get, patch, post, type List, type Organization, type ProviderAccount } from '../api';
import { useSession } from '../session';
import { Badge, ConfirmDialog, Dialog, ErrorState, Loading, PageHeader, errorMessage, fmtDate, useLoad, useToast } from '../ui';

type ProviderType = 'openai' | 'anthropic' | 'azure-openai' | 'vertex-ai' | 'ollama';
type FieldName = 'api_key' | 'base_url' | 'api_version' | 'service_account_json' | 'project_id' | 'location';

interface FieldSpec { name: FieldName; label: string; required?: boolean; secret?: boolean; placeholder?: string; hint?: string; multiline?: boolean }

/** What each provider needs (mirrors the server's rules; the server validates again). */
const TYPES: Record<ProviderType, { label: string; blurb: string; fields: FieldSpec[] }> = {
  openai: { label: 'OpenAI', blurb: 'Models as openai/<model>', fields: [
    { name: 'api_key', label: 'API key', required: true, secret: true, placeholder: 'sk-proj-…' },
    { name: 'base_url', label: 'Base URL', placeholder: 'https://api.openai.com/v1', hint: 'Optional: for a proxy or an OpenAI-compatible endpoint.' },
  ] },
  anthropic: { label: 'Anthropic', blurb: 'Models as anthropic/<model>', fields: [
    { name: 'api_key', label: 'API key', required: true, secret: true, placeholder: 'sk-ant-…' },
    { name: 'base_url', label: 'Base URL', placeholder: 'https://api.anthropic.com', hint: 'Optional.' },
  ] },
  'azure-openai': { label: 'Azure OpenAI', blurb: 'Deployments as azure-openai/<deployment>', fields: [
    { name: 'base_url', label: 'Endpoint', required: true, placeholder: 'https://my-resource.openai.azure.com' },
    { name: 'api_key', label: 'API key', required: true, secret: true },
    { name: 'api_version', label: 'API version', placeholder: '2024-10-21', hint: 'Optional.' },
  ] },
  'vertex-ai': { label: 'Vertex AI', blurb: 'Gemini models as vertex-ai/<model>', fields: [
    { name: 'api_key', label: 'Gemini API key', secret: true, hint: 'Either a Gemini API key or a service account.' },
    { name: 'service_account_json', label: 'Service account key (JSON)', secret: true, multiline: true, hint: 'Paste the key file’s JSON.' },
    { name: 'project_id', label: 'Project ID', hint: 'With a service account.' },
    { name: 'location', label: 'Location', placeholder: 'us-central1', hint: 'With a service account.' },
  ] },
  ollama: { label: 'Ollama', blurb: 'Local models as ollama/<model>', fields: [
    { name: 'base_url', label: 'Base URL', required: true, placeholder: 'http://127.0.0.1:11434' },
    { name: 'api_key', label: 'API key', secret: true, hint: 'Optional: for a hosted Ollama or a proxy in front of one.' },
  ] },
};

export function Providers() {
  const session = useSession();
  const toast = useToast();
  const accounts = useLoad(() => get<List<ProviderAccount>>('/providers'), [session.organization?.id]);
  const org = useLoad(() => get<Organization>('/organization'), [session.organization?.id]);
  const [editing, setEditing] = useState<{ type: ProviderType; account?: ProviderAccount } | null>(null);
  const [removing, setRemoving] = useState<ProviderAccount | null>(null);
  const [testing, setTesting] = useState<string | null>(null);
  const canWrite = session.can('providers:write');

  const test = async (a: ProviderAccount) => {
    setTesting(a.id);
    try {
      const r = await post<{ ok: boolean; latency_ms: number; error?: { message: string } }>(`/providers/${a.id}/test`);
      toast(r.ok ? `${a.name}: connected (${r.latency_ms} ms)` : `${a.name}: ${r.error?.message ?? 'the check failed'}`, r.ok ? 'success' : 'error');
    } catch (e) { toast(errorMessage(e), 'error'); } finally { setTesting(null); }
  };

  const configured = new Map((accounts.data?.data ?? []).map((a) => [a.provider as ProviderType, a]));

  return (
    <div className="page">
      <PageHeader title="AI Providers" description="Connect your organisation's own provider accounts (Bring Your Own Key). Requests for provider/model, such as openai/gpt-4o, go to your account and are billed by the provider." />
      {org.data && !org.data.byok_available && (
        <div className="callout callout-info" role="note" data-testid="byok-notice">
          <strong>BYOK is not included in the {org.data.plan} plan</strong>
          <p>You can save provider accounts, but requests for provider/model are refused (403 byok_not_available) until the organisation moves to the Scale plan or above{session.role === 'owner' ? ' (Settings → Plan)' : '; ask an owner'}.</p>
        </div>
      )}
      {!canWrite && <p className="muted">Your role can view providers; an admin or owner can add or change them.</p>}
      {accounts.loading && !accounts.data ? <Loading /> : accounts.error ? <ErrorState message={accounts.error} onRetry={accounts.reload} /> : (
        <div className="cards">
          {(Object.keys(TYPES) as ProviderType[]).map((type) => {
            const a = configured.get(type);
            return (
              <section key={type} className="card provider-card" aria-labelledby={`prov-${type}`}>
                <div className="card-head">
                  <h2 id={`prov-${type}`}>{TYPES[type].label}</h2>
                  {a ? <Badge tone="green">Connected</Badge> : <Badge>Not connected</Badge>}
                </div>
                <p className="muted small">{TYPES[type].blurb}</p>
                {a ? (
                  <dl className="kv">
                    <dt>Name</dt><dd>{a.name}</dd>
                    {a.api_key_hint && <><dt>API key</dt><dd><code>{a.api_key_hint}</code></dd></>}
                    {a.service_account_email && <><dt>Service account</dt><dd>{a.service_account_email}</dd></>}
                    {a.base_url && <><dt>URL</dt><dd className="break">{a.base_url}</dd></>}
                    {a.api_version && <><dt>API version</dt><dd>{a.api_version}</dd></>}
                    {a.project_id && <><dt>Project</dt><dd>{a.project_id}{a.location ? ` · ${a.location}` : ''}</dd></>}
                    <dt>Added</dt><dd>{fmtDate(a.created_at)}</dd>
                  </dl>
                ) : <p className="provider-empty">{canWrite ? 'Add an account to call these models with your own credentials.' : 'No account added.'}</p>}
                {canWrite && (
                  <div className="card-actions">
                    {a ? <>
                      <button type="button" className="button button-small" onClick={() => void test(a)} disabled={testing === a.id}>{testing === a.id ? 'Testing…' : 'Test'}</button>
                      <button type="button" className="button button-small" onClick={() => setEditing({ type, account: a })} aria-label={`Edit ${TYPES[type].label}`}>Edit</button>
                      <button type="button" className="button button-small button-danger-ghost" onClick={() => setRemoving(a)} aria-label={`Remove ${TYPES[type].label}`}>Remove</button>
                    </> : <button type="button" className="button button-small button-primary" onClick={() => setEditing({ type })} aria-label={`Add ${TYPES[type].label}`}>Add account</button>}
                  </div>
                )}
              </section>
            );
          })}
        </div>
      )}
      <ProviderDialog editing={editing} onClose={() => setEditing(null)} onSaved={(name) => { setEditing(null); toast(`Saved ${name}`); accounts.reload(); }} />
      <ConfirmDialog
        open={!!removing}
        danger
        title="Remove provider account"
        confirmLabel="Remove account"
        body={removing && <p>Remove <strong>{removing.name}</strong>? Requests for {removing.provider}/… models will fail until you add an account again. Its stored credentials are deleted.</p>}
        onClose={() => setRemoving(null)}
        onConfirm={async () => { await del(`/providers/${removing!.id}`); toast(`Removed ${removing!.name}`); setRemoving(null); accounts.reload(); }}
      />
    </div>
  );
}

function ProviderDialog({ editing, onClose, onSaved }: { editing: { type: ProviderType; account?: ProviderAccount } | null; onClose: () => void; onSaved: (name: string) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const spec = editing ? TYPES[editing.type] : undefined;
  const a = editing?.account;

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (!editing || !spec) return;
    const f = new FormData(e.currentTarget);
    const body: Record<string, unknown> = { name: f.get('name') || spec.label };
    for (const field of spec.fields) {
      const v = String(f.get(field.name) ?? '').trim();
      // A blank secret on edit keeps the stored one; a blank optional field on edit clears it.
      if (field.secret) { if (v) body[field.name] = v; }
      else if (v) body[field.name] = v;
      else if (a) body[field.name] = null;
    }
    setBusy(true);
    setError(null);
    try {
      if (a) await patch(`/providers/${a.id}`, body);
      else await post('/providers', { provider: editing.type, ...body });
      onSaved(String(body.name));
    } catch (err) { setError(errorMessage(err)); } finally { setBusy(false); }
  };

  const current = (name: FieldName): string => {
    if (!a) return '';
    return ({ base_url: a.base_url, api_version: a.api_version, project_id: a.project_id, location: a.location } as Record<string, string | null>)[name] ?? '';
  };

  return (
    <Dialog open={!!editing} title={a ? `Edit ${spec?.label}` : `Add ${spec?.label ?? ''} account`} onClose={onClose} wide>
      {spec && (
        <form className="form" onSubmit={submit}>
          <div className="field">
            <label htmlFor="prov-name">Display name</label>
            <input id="prov-name" name="name" defaultValue={a?.name ?? spec.label} maxLength={200} />
          </div>
          {spec.fields.map((field) => {
            const id = `prov-${field.name}`;
            const stored = field.secret && a && (field.name === 'api_key' ? a.api_key_hint : a.has_service_account ? a.service_account_email : null);
            const hint = stored ? `Saved (${stored}). Leave blank to keep it.` : field.hint;
            return (
              <div className="field" key={field.name}>
                <label htmlFor={id}>{field.label}{field.required && !stored ? ' (required)' : ''}</label>
                {field.multiline
                  ? <textarea id={id} name={field.name} rows={4} placeholder={stored ? '••••••••' : field.placeholder} aria-describedby={hint ? `${id}-hint` : undefined} spellCheck={false} />
                  : <input id={id} name={field.name} type={field.secret ? 'password' : 'text'} autoComplete="off" required={field.required && !stored}
                      placeholder={stored ? '••••••••' : field.placeholder} defaultValue={field.secret ? '' : current(field.name)} aria-describedby={hint ? `${id}-hint` : undefined} />}
                {hint && <span id={`${id}-hint`} className="field-hint">{hint}</span>}
              </div>
            );
          })}
          {error && <p className="form-error" role="alert">{error}</p>}
          <div className="dialog-footer">
            <button type="button" className="button" onClick={onClose}>Cancel</button>
            <button className="button button-primary" disabled={busy}>{busy ? 'Saving…' : a ? 'Save changes' : 'Add account'}</button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
