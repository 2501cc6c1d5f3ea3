/**
 * The dashboard end to end in headless Chromium (Debian's `chromium`, driven by playwright-core),
 * against a real Backbone on SQLite with the fake OpenAI provider: first-run setup -> sign in ->
 * create a key -> read it from the one-time dialog -> call /api/v1/chat/completions with it -> see
 * the request in Usage -> revoke it -> the same key gets 401 -> the list shows it revoked. Then a
 * member who joined by invite link sees neither the owner's key nor provider controls, and the API
 * refuses them too. Screenshots of every page go to test-artifacts/screenshots/.
 *
 * Without Chromium the suite is skipped outside CI (with the reason printed) and fails in CI.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Writable } from 'node:stream';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { TEST_SECRET } from '../support/app.js';
import { startFakeOpenAI } from '../fakes/openai.js';
import type { FakeServer } from '../fakes/server.js';
import { ensureWebBuild, WEB_DIST } from '../support/web-build.js';

// Functions passed to page.evaluate run in the browser; the test project compiles without the DOM lib.
declare const document: any;

const CHROMIUM = process.env.BACKBONE_TEST_CHROMIUM ?? '/usr/bin/chromium';
const inCI = process.env.CI === 'true' || process.env.CI === '1';
const SHOTS = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));

let skip: string | undefined;
if (!existsSync(CHROMIUM)) {
  const reason = `Chromium not found at ${CHROMIUM} (install Debian's chromium package, as .ci/run does)`;
  if (inCI) throw new Error(`CI requires Chromium for the end-to-end suite. ${reason}`);
  console.log(`# skipping the dashboard end-to-end suite: ${reason}`);
  skip = reason;
}

const OWNER = { org: 'Acme Robotics', name: 'Olivia Owner', email: 'olivia@example.com', password: 'a long owner password' };

describe('dashboard end to end in Chromium', { skip, timeout: 180_000 }, () => {
  // A fresh install: no keys, no users (the shared test helper would make an admin key first).
  let t: { app: App; url: string; logs: string[] };
  let fake: FakeServer & { baseUrl: string };
  let dataDir: string;
  let profileDirs: string[] = [];
  let owner: BrowserContext;
  let page: Page;
  let secret: string;
  const consoleErrors: string[] = [];

  const chat = (key: string) => fetch(`${t.url}/api/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello from the dashboard test' }] }),
  });

  async function launch(): Promise<BrowserContext> {
    const dir = mkdtempSync(join(tmpdir(), 'backbone-chromium-'));
    profileDirs.push(dir);
    return chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1360, height: 900 },
      baseURL: t.url,
    });
  }

  async function shot(p: Page, name: string): Promise<void> {
    await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  /** Go to a page through the sidebar, as a user would, and wait for its heading. */
  async function open(p: Page, label: string): Promise<void> {
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true }).click();
    await p.getByRole('heading', { level: 1, name: label }).waitFor();
  }

  before(async () => {
    ensureWebBuild();
    mkdirSync(SHOTS, { recursive: true });
    fake = await startFakeOpenAI();
    dataDir = mkdtempSync(join(tmpdir(), 'backbone-e2e-'));
    const logs: string[] = [];
    const config = loadConfig({
      DATABASE_URL: join(dataDir, 'backbone.db'), BACKBONE_SECRET: TEST_SECRET, LOG_LEVEL: 'info',
      OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.baseUrl, BACKBONE_LAST_USED_FLUSH_SECONDS: '0.2',
    }, { generateSecret: false });
    const app = await createApp(config, { webDir: WEB_DIST, logDestination: new Writable({ write(c, _e, cb) { logs.push(String(c)); cb(); } }) });
    t = { app, url: await app.listen(0), logs };
    owner = await launch();
    page = owner.pages()[0] ?? await owner.newPage();
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  });

  after(async () => {
    await owner?.close().catch(() => {});
    await t?.app.close();
    await fake?.close();
    const logs = t?.logs.join('') ?? '';
    assert.ok(!secret || !logs.includes(secret), 'the API key was logged');
    assert.ok(!logs.includes(OWNER.password), 'a password was logged');
    for (const d of [dataDir, ...profileDirs]) if (d) rmSync(d, { recursive: true, force: true });
  });

  test('first-run setup creates the owner and signs in', async () => {
    await page.goto('/');
    await page.waitForURL('**/setup');
    await page.getByRole('heading', { name: 'Welcome to Backbone' }).waitFor();
    await page.getByLabel('Organisation name').fill(OWNER.org);
    await page.getByLabel('Your name').fill(OWNER.name);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password', { exact: true }).fill(OWNER.password);
    await page.getByLabel('Confirm password').fill(OWNER.password);
    await shot(page, '01-setup');
    await page.getByRole('button', { name: 'Create owner account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    assert.match(await page.locator('.sidebar').innerText(), /Acme Robotics/);
    // The session cookie is httpOnly: scripts on the page cannot read it.
    assert.equal(await page.evaluate(() => document.cookie), '');
    const cookies = await owner.cookies();
    assert.equal(cookies.find((c) => c.name === 'backbone_session')?.httpOnly, true);
  });

  test('sign out, then sign in with email and password (a wrong password is refused)', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal((await owner.cookies()).some((c) => c.name === 'backbone_session' && c.value), false);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Incorrect email or password' }).waitFor();
    await page.getByLabel('Password').fill(OWNER.password);
    await shot(page, '02-sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  });

  test('the sidebar lists every section', async () => {
    const links = await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allInnerTexts();
    assert.deepEqual(links.map((l) => l.replace(/^\W+/, '').trim()), ['Overview', 'API Keys', 'AI Providers', 'Models', 'Usage', 'Members', 'Settings', 'Audit log']);
  });

  test('API Keys: the empty state, keyboard and Escape in the dialog, then Create API Key shows the key once', async () => {
    await open(page, 'API Keys');
    await page.getByText('No API keys yet').waitFor();
    await shot(page, '03-api-keys-empty');

    // Keyboard: open with Enter, Escape closes, and focus returns to the button that opened it.
    const createButton = page.getByRole('button', { name: 'Create API Key' }).first();
    await createButton.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Create API Key' });
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'key-name', 'focus moves into the dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await createButton.evaluate((el) => el === document.activeElement), true, 'focus returns to the opener');

    await createButton.click();
    await dialog.getByLabel('Name').fill('e2e production key');
    await dialog.getByLabel('Live').check();
    await dialog.getByText('Restrictions, expiry and limits').click();
    await dialog.getByLabel('Requests per minute').fill('600');
    await dialog.getByLabel('Concurrent requests').fill('8');
    await shot(page, '04-create-api-key');
    await dialog.getByRole('button', { name: 'Create key' }).click();

    const shown = page.getByRole('dialog', { name: 'API key created' });
    await shown.waitFor();
    await shown.getByText('Save your key immediately').waitFor();
    secret = await shown.getByLabel('Your new API key').inputValue();
    assert.match(secret, /^sk_live_[0-9A-Za-z]{20,}/);
    await shown.getByRole('button', { name: 'Copy' }).waitFor();
    await shot(page, '05-key-shown-once');
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'hidden' });

    const row = page.getByRole('row').filter({ hasText: 'e2e production key' });
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, new RegExp(`${secret.slice(0, 12)}`), 'the list shows the prefix');
    assert.ok(!text.includes(secret), 'the list never shows the full key');
    assert.match(text, /live/);
    assert.match(text, /Active/);
    assert.ok(!(await page.content()).includes(secret), 'the key is gone from the page once the dialog is closed');
    // The limits typed in the form are the key's (read back through the API).
    const made = await t.app.store.db.kysely.selectFrom('api_keys').select(['rpm_limit', 'concurrency_limit'])
      .where('name', '=', 'e2e production key').executeTakeFirstOrThrow();
    assert.deepEqual([made.rpm_limit, made.concurrency_limit], [600, 8]);
  });

  test('the key calls the gateway (fake OpenAI), and the request shows in Usage', async () => {
    const res = await chat(secret);
    assert.equal(res.status, 200, await res.clone().text());
    const body = await res.json() as { choices: { message: { content: string } }[] };
    assert.ok(body.choices[0]!.message.content.length > 0);
    await t.app.ledger.flush();

    await open(page, 'Usage');
    const stats = page.getByTestId('usage-stats');
    await stats.getByText('Requests', { exact: true }).waitFor();
    // The first stat is Requests: exactly the one call made above.
    await page.waitForFunction(() => document.querySelector('[data-testid="usage-stats"] .stat .stat-value')?.textContent === '1');
    const top = page.getByRole('table', { name: 'Top keys' });
    await top.getByRole('cell', { name: 'e2e production key' }).waitFor();
    // Filter by the key: still there; by another model: gone.
    const options = await page.getByLabel('API key').locator('option').allInnerTexts();
    const option = options.find((o) => o.startsWith('e2e production key ('));
    assert.ok(option && secret.startsWith(option.slice('e2e production key ('.length, -2)), `the key filter names the key by its prefix: ${options.join(' | ')}`);
    await page.getByLabel('API key').selectOption({ label: option });
    await top.getByRole('cell', { name: 'e2e production key' }).waitFor();
    await page.locator('canvas').first().waitFor();
    await shot(page, '06-usage');

    // CSV export through the session.
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const file = await download;
    assert.match(file.suggestedFilename(), /\.csv$/);
  });

  test('revoke names the key, and the same key then gets 401; the list shows it revoked', async () => {
    await open(page, 'API Keys');
    await page.getByRole('button', { name: 'Revoke e2e production key' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke API key' });
    await confirm.waitFor();
    assert.match(await confirm.innerText(), /e2e production key/);
    await shot(page, '07-revoke-confirm');
    await confirm.getByRole('button', { name: 'Revoke key' }).click();
    await confirm.waitFor({ state: 'hidden' });
    await page.getByRole('row').filter({ hasText: 'e2e production key' }).getByText('Revoked').waitFor();

    const res = await chat(secret);
    assert.equal(res.status, 401);
    const body = await res.json() as { error: { code: string } };
    assert.equal(body.error.code, 'key_revoked');
    await shot(page, '08-api-keys-revoked');
  });

  test('every other page renders (screenshots)', async () => {
    for (const [label, file] of [['Overview', '09-overview'], ['AI Providers', '10-ai-providers'], ['Models', '11-models'], ['Members', '12-members'], ['Settings', '13-settings'], ['Audit log', '14-audit-log']] as const) {
      await open(page, label);
      await page.locator('.state-loading').first().waitFor({ state: 'detached' }).catch(() => {});
      await page.waitForLoadState('networkidle');
      assert.equal(await page.locator('.state-error').count(), 0, `${label} shows an error`);
      await shot(page, file);
    }
    await open(page, 'Models');
    await page.getByRole('cell', { name: 'gpt-4o-mini', exact: true }).waitFor();
    await open(page, 'Audit log');
    await page.getByRole('cell', { name: 'api_key.revoked' }).waitFor();
  });

  test('AI Providers: an owner adds an OpenAI account; the secret is masked after saving', async () => {
    await open(page, 'AI Providers');
    await page.getByRole('button', { name: 'Add OpenAI' }).click();
    const d = page.getByRole('dialog', { name: 'Add OpenAI account' });
    await d.getByLabel('API key (required)').fill('sk-proj-e2eSecretValue9876');
    await d.getByRole('button', { name: 'Add account' }).click();
    await d.waitFor({ state: 'hidden' });
    await page.getByText('...9876').waitFor();
    assert.ok(!(await page.content()).includes('e2eSecretValue'), 'the provider secret is never shown again');
    await shot(page, '15-ai-providers-connected');
    assert.equal(await page.getByTestId('byok-notice').count(), 0, 'the unlimited plan includes BYOK');

    // On a plan without BYOK the page says so (the owner changes the plan in Settings).
    await open(page, 'Settings');
    await page.getByLabel('Plan').selectOption('free');
    await page.getByRole('button', { name: 'Save organisation' }).click();
    await page.getByText('Organisation saved').waitFor();
    await open(page, 'AI Providers');
    await page.getByTestId('byok-notice').getByText('BYOK is not included in the free plan').waitFor();
    await shot(page, '16-ai-providers-no-byok');
    await open(page, 'Settings');
    await page.getByLabel('Plan').selectOption('unlimited');
    await page.getByRole('button', { name: 'Save organisation' }).click();
    for (let i = 0; i < 100 && (await t.app.store.orgs.ensureDefault()).plan !== 'unlimited'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await t.app.store.orgs.ensureDefault()).plan, 'unlimited');
  });

  test('a member (joined by invite link) sees neither the owner\'s keys nor provider controls, and the API refuses them', async () => {
    // The owner makes the invite link in the UI.
    await open(page, 'Members');
    await page.getByRole('button', { name: 'Invite member' }).click();
    const inv = page.getByRole('dialog', { name: 'Invite member' });
    await inv.getByLabel('Role').selectOption('member');
    await inv.getByRole('button', { name: 'Create invite link' }).click();
    const linkDialog = page.getByRole('dialog', { name: 'Invite link created' });
    const link = await linkDialog.getByLabel('Invite link').inputValue();
    assert.match(link, /\/invite#[\w-]{20,}$/);
    await linkDialog.getByRole('button', { name: 'Done' }).click();

    const memberCtx = await launch();
    try {
      const m = memberCtx.pages()[0] ?? await memberCtx.newPage();
      await m.goto(link);
      await m.getByRole('heading', { name: 'Create your account' }).waitFor();
      await m.getByLabel('Your name').fill('Mia Member');
      await m.getByLabel('Email').fill('mia@example.com');
      await m.getByLabel('Password').fill('a long member password');
      await shot(m, '17-accept-invite');
      await m.getByRole('button', { name: 'Accept invitation' }).click();
      await m.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();

      await open(m, 'API Keys');
      await m.getByText('No API keys yet').waitFor();
      assert.equal(await m.getByText('e2e production key').count(), 0, 'a member does not see the owner\'s key');
      await shot(m, '18-member-api-keys');

      await open(m, 'AI Providers');
      await m.getByText('...9876').waitFor();
      for (const name of ['Edit OpenAI', 'Remove OpenAI', 'Add Anthropic']) {
        assert.equal(await m.getByRole('button', { name }).count(), 0, `${name} is hidden from a member`);
      }
      await m.getByText('Your role can view providers').waitFor();
      await shot(m, '19-member-ai-providers');

      // The API refuses too, with the member's own session and CSRF token.
      const refused = await m.evaluate(async () => {
        const s = await (await fetch('/api/v1/session')).json() as { csrf_token: string };
        const keys = await (await fetch('/api/v1/keys')).json() as { data: unknown[] };
        const h = { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token };
        const provider = await fetch('/api/v1/providers', { method: 'POST', headers: h, body: JSON.stringify({ provider: 'anthropic', api_key: 'sk-ant-xxxxxxxxxxxxxxxx' }) });
        const list = await (await fetch('/api/v1/providers')).json() as { data: { id: string }[] };
        const remove = await fetch(`/api/v1/providers/${list.data[0]!.id}`, { method: 'DELETE', headers: h });
        return { keys: keys.data.length, provider: provider.status, remove: remove.status };
      });
      assert.deepEqual(refused, { keys: 0, provider: 403, remove: 403 });
      const ownerKeyId = (await t.app.store.keys.list((await t.app.store.orgs.ensureDefault()).id, { limit: 100 })).find((k) => k.name === 'e2e production key')!.id;
      const revokeOthers = await m.evaluate(async (id) => {
        const s = await (await fetch('/api/v1/session')).json() as { csrf_token: string };
        return (await fetch(`/api/v1/keys/${id}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token }, body: '{}' })).status;
      }, ownerKeyId);
      assert.equal(revokeOthers, 404);
    } finally {
      await memberCtx.close();
    }
  });

  test('no uncaught errors in the browser console', () => {
    // 401s from deliberate refusals are logged by Chromium as failed resource loads; anything else is a bug.
    const real = consoleErrors.filter((e) => !/status of (401|403|404)/.test(e));
    assert.deepEqual(real, []);
  });
});
