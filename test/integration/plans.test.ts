/**
 * Plans through the real HTTP stack: BYOK only where the plan has it, the monthly platform-token
 * quota (seeded from the usage ledger, BYOK never counting), plan defaults for keys, unknown plans,
 * limits in the key API and CLI, and `backbone orgs update` reaching a running server within a second.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startGateway, type GatewayFixture } from '../support/gateway.js';
import { TEST_SECRET } from '../support/app.js';
import { keyWith } from '../support/limits.js';
import { PERMISSIONS } from '../../src/keys/permissions.js';
import { randomUUID } from 'node:crypto';

const run = promisify(execFile);
const hi = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, ...extra });
const byok = (extra: Record<string, unknown> = {}) => hi({ model: 'openai/gpt-4o-mini', ...extra });

describe('plans', () => {
  let g: GatewayFixture;
  let cli: (...args: string[]) => Promise<string>;
  before(async () => {
    g = await startGateway({}, {
      yaml: [
        'plans:',
        '  - { name: tiny, monthly_platform_tokens: 40, byok: false }',
        '  - { name: scale, monthly_platform_tokens: 40, byok: true }',
      ],
    });
    const env = { ...process.env, ...g.env, DATABASE_URL: g.databaseUrl, BACKBONE_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' };
    cli = async (...args) => (await run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env })).stdout;
  });
  after(async () => { await g?.close(); });

  /** An organisation on `plan` with an admin key and, for BYOK, an OpenAI account of its own. */
  const orgOn = async (slug: string, plan: string) => {
    const org = await g.t.app.store.orgs.create({ slug, name: slug, plan });
    const admin = await keyWith(g.t, {}, org.id, [...PERMISSIONS]);
    const account = await g.t.call('/api/v1/providers', { key: admin.key, body: { provider: 'openai', api_key: 'test-key', base_url: g.fakes.openai.baseUrl } });
    assert.equal(account.status, 201, account.text);
    return { org, key: admin.key };
  };
  const chat = (key: string, body: unknown) => g.t.call('/api/v1/chat/completions', { key, body });

  test('BYOK on the free plan is 403 byok_not_available; platform models work; keys get the plan\'s rpm', async () => {
    const { key } = await orgOn('free-org', 'free');
    const refused = await chat(key, byok());
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error.code, 'byok_not_available');
    assert.equal(refused.json.error.type, 'permission_error');
    assert.equal(refused.headers.get('x-ratelimit-limit-requests'), '60', 'headers on a refusal after admission; the free plan\'s rpm');
    const ok = await chat(key, hi());
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-ratelimit-limit-tokens'), '40000');
    const models = (await g.t.call('/api/v1/models', { key })).json.data.map((m: any) => m.id);
    assert.ok(models.includes('gpt-4o-mini') && !models.some((id: string) => id.startsWith('openai/')), '/models lists no model the plan cannot call');
    assert.equal((await g.t.call('/api/v1/models/openai/gpt-4o-mini', { key })).status, 404);
  });

  test('platform usage over the monthly quota is 429 insufficient_quota', async () => {
    const { key } = await orgOn('tiny-org', 'tiny');
    assert.equal((await chat(key, hi())).status, 200); // 17 of 40
    assert.equal((await chat(key, hi())).status, 200); // 34 of 40
    const over = await chat(key, hi());
    assert.equal(over.status, 429);
    assert.equal(over.json.error.code, 'insufficient_quota');
    assert.equal(over.json.error.type, 'insufficient_quota');
    assert.match(over.json.error.message, /monthly platform token quota of the 'tiny' plan/);
    const huge = await chat((await orgOn('tiny-org-2', 'tiny')).key, hi({ max_tokens: 1000 }));
    assert.equal(huge.status, 429, 'a worst case larger than the quota is refused before it is sent');
  });

  test('BYOK usage on a scale plan does not count against its platform-token quota', async () => {
    const { org, key } = await orgOn('scale-org', 'scale');
    assert.ok((await g.t.call('/api/v1/models', { key })).json.data.some((m: any) => m.id === 'openai/gpt-4o-mini'), 'BYOK models are listed on a plan with BYOK');
    for (let i = 0; i < 4; i++) assert.equal((await chat(key, byok())).status, 200, `BYOK request ${i}`); // 68 tokens, over 40
    const month = new Date().toISOString().slice(0, 8) + '01';
    assert.deepEqual(await g.t.app.limiter.store.budget(`{${org.id}}:quota:${month}`), { spent: 0, reserved: 0 });
    assert.equal((await chat(key, hi())).status, 200);
    assert.equal((await chat(key, hi())).status, 200);
    assert.equal((await chat(key, hi())).json.error.code, 'insufficient_quota');
    assert.equal((await chat(key, byok())).status, 200, 'BYOK still works with the platform quota used up');
  });

  test('the quota starts from the usage ledger: platform tokens of this month only, once per process', async () => {
    const org = await g.t.app.store.orgs.create({ slug: 'seeded', name: 'seeded', plan: 'tiny' });
    const { key, id } = await keyWith(g.t, {}, org.id);
    const now = Date.now();
    const lastMonth = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1) - 1000;
    const row = (over: Record<string, unknown>) => ({
      id: randomUUID(), org_id: org.id, key_id: id, endpoint: 'chat', model: 'gpt-4o-mini', provider: 'openai', upstream_model: 'gpt-4o-mini',
      byok: 0, stream: 0, status: 200, error_code: null, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0, cache_write_tokens: 0,
      reasoning_tokens: 0, audio_seconds: null, cost_usd: 0, latency_ms: 1, ttft_ms: null, created_at: now - 1000, ...over,
    });
    await g.t.app.store.db.kysely.insertInto('usage_events').values([
      row({ prompt_tokens: 15, completion_tokens: 5 }), // counts: 20 of 40
      row({ prompt_tokens: 900, completion_tokens: 100, byok: 1 }), // BYOK: never counts
      row({ prompt_tokens: 900, completion_tokens: 100, created_at: lastMonth }), // last month
    ]).execute();
    assert.equal((await chat(key, hi())).status, 200, '20 + 16 worst case fits in 40');
    assert.equal((await chat(key, hi())).json.error.code, 'insufficient_quota', '37 + 16 does not: the ledger\'s 20 were counted');
  });

  test('an unknown plan name is logged loudly and treated as free', async () => {
    const { key } = await orgOn('gold-org', 'gold');
    assert.equal((await chat(key, byok())).json.error.code, 'byok_not_available');
    assert.equal((await chat(key, hi())).headers.get('x-ratelimit-limit-requests'), '60');
    const lines = g.t.logs.filter((l) => l.includes("plan 'gold' is not defined"));
    assert.equal(lines.length, 1, 'logged once');
    assert.equal(JSON.parse(lines[0]!).level, 50, 'at error level');
  });

  test('backbone orgs update --plan reaches a running server within a second, with an audit event', async () => {
    const { org, key } = await orgOn('upgrade', 'free');
    assert.equal((await chat(key, byok())).status, 403); // the organisation is cached now
    const out = JSON.parse(await cli('orgs', 'update', 'upgrade', '--plan', 'scale', '--rpm', '1000', '--budget', '50', '--budget-period', 'month', '--json'));
    assert.deepEqual({ plan: out.plan, rpm: out.rpm_limit, budget: out.budget_usd, period: out.budget_period }, { plan: 'scale', rpm: 1000, budget: 50, period: 'month' });
    const at = Date.now();
    let status = 403;
    while (Date.now() - at < 3000 && status !== 200) {
      status = (await chat(key, byok())).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    const took = Date.now() - at;
    assert.equal(status, 200);
    assert.ok(took < 1000, `the plan change reached the server after ${took} ms`);
    const events = await g.t.app.store.audit.list(org.id, { limit: 10, targetId: org.id });
    const ev = events.find((e) => e.action === 'organization.updated')!;
    assert.deepEqual((ev.details as any).changes.plan, { from: 'free', to: 'scale' });
    assert.equal(ev.actor, 'cli');
    assert.match(await cli('orgs', 'list'), /upgrade\tscale/);
    await assert.rejects(cli('orgs', 'update', 'upgrade', '--plan', 'platinum'), (e: any) => e.code === 1 && /Unknown plan 'platinum'/.test(e.stderr));
    await assert.rejects(cli('orgs', 'update', 'upgrade', '--rpm', '0'), (e: any) => e.code === 1 && /rpm_limit/.test(e.stderr));
  });

  test('key limits through the API and the CLI: shown in the key JSON, validated, audited', async () => {
    const admin = g.t.adminKey;
    const created = await g.t.call('/api/v1/keys', { key: admin, body: { name: 'metered', rpm_limit: 100, tpm_limit: 5000, concurrency_limit: 3, budget_usd: 12.5, budget_period: 'week' } });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual([created.json.rpm_limit, created.json.tpm_limit, created.json.concurrency_limit, created.json.budget_usd, created.json.budget_period], [100, 5000, 3, 12.5, 'week']);
    const patched = await g.t.call(`/api/v1/keys/${created.json.id}`, { method: 'PATCH', key: admin, body: { rpm_limit: null, budget_usd: 20 } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual([patched.json.rpm_limit, patched.json.tpm_limit, patched.json.budget_usd, patched.json.budget_period], [null, 5000, 20, 'week']);
    const got = await g.t.call(`/api/v1/keys/${created.json.id}`, { key: admin });
    assert.equal(got.json.budget_usd, 20);
    const events = await g.t.call(`/api/v1/audit-events?target_id=${created.json.id}`, { key: admin });
    const upd = events.json.data.find((e: any) => e.action === 'api_key.updated');
    assert.deepEqual(upd.details.changes.rpm_limit, { from: 100, to: null });
    for (const [body, param] of [
      [{ name: 'x', rpm_limit: 0 }, 'rpm_limit'], [{ name: 'x', tpm_limit: 1.5 }, 'tpm_limit'], [{ name: 'x', budget_usd: -1 }, 'budget_usd'],
      [{ name: 'x', budget_period: 'year', budget_usd: 1 }, 'budget_period'], [{ name: 'x', budget_period: 'month' }, 'budget_period'],
    ] as const) {
      const r = await g.t.call('/api/v1/keys', { key: admin, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.json.error.param, param);
    }
    const viaCli = JSON.parse(await cli('keys', 'create', '--name', 'cli-limited', '--rpm', '7', '--tpm', '900', '--concurrency', '2', '--budget', '50', '--budget-period', 'month', '--json'));
    assert.deepEqual([viaCli.rpm_limit, viaCli.tpm_limit, viaCli.concurrency_limit, viaCli.budget_usd, viaCli.budget_period], [7, 900, 2, 50, 'month']);
    const r = await chat(viaCli.key, hi());
    assert.equal(r.headers.get('x-ratelimit-limit-requests'), '7');
  });
});
