/** The `backbone` CLI as a separate process on the same store as a running server. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { backends } from '../support/backends.js';
import { startTestApp, TEST_SECRET, type TestApp } from '../support/app.js';

const run = promisify(execFile);
const all = await backends();

for (const backend of all) {
  describe(`CLI: ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let drop: () => Promise<void>;
    let env: NodeJS.ProcessEnv;
    const cli = async (...args: string[]) => {
      const r = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env, cwd: process.cwd() });
      return r.stdout;
    };

    before(async () => {
      const db = await backend.fresh();
      drop = db.drop;
      t = await startTestApp(db.url);
      env = { ...process.env, DATABASE_URL: db.url, BACKBONE_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' };
    });
    after(async () => { await t?.close(); await drop?.(); });

    test('keys create --json prints one JSON object with a working key', async () => {
      const out = JSON.parse(await cli('keys', 'create', '--name', 'ci-bot', '--permissions', 'read_only', '--env', 'test', '--expires-in', '30d', '--json'));
      for (const f of ['id', 'key', 'prefix', 'name', 'permissions', 'created_at']) assert.ok(f in out, f);
      assert.match(out.key, /^sk_test_/);
      assert.ok(out.key.startsWith(out.prefix));
      assert.deepEqual(out.permissions, ['models:read', 'usage:read', 'keys:read', 'providers:read']);
      assert.ok(Date.parse(out.expires_at) > Date.now() + 29 * 86400_000);
      const res = await t.call('/api/v1/keys', { key: out.key });
      assert.equal(res.status, 200);
      assert.ok(res.json.data.some((k: any) => k.id === out.id && k.created_by === 'cli'));
    });

    test('keys revoke stops a key that the running server has cached, within a second', async () => {
      const out = JSON.parse(await cli('keys', 'create', '--name', 'to-revoke', '--permissions', 'keys:read', '--json'));
      assert.equal((await t.call('/api/v1/keys', { key: out.key })).status, 200); // cached now
      const text = await cli('keys', 'revoke', out.id);
      assert.match(text, /Revoked/);
      const revokedAt = Date.now();
      let status = 200;
      while (Date.now() - revokedAt < 3000) {
        status = (await t.call('/api/v1/keys', { key: out.key })).status;
        if (status === 401) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const took = Date.now() - revokedAt;
      assert.equal(status, 401);
      assert.ok(took < 1000, `revocation reached the server after ${took} ms`);
      assert.equal((await t.call('/api/v1/keys', { key: out.key })).json.error.code, 'key_revoked');
    });

    test('keys rotate --grace keeps the old secret for the grace period; keys list shows prefixes only', async () => {
      const created = JSON.parse(await cli('keys', 'create', '--name', 'rot', '--permissions', 'keys:read', '--json'));
      const rotated = JSON.parse(await cli('keys', 'rotate', created.id, '--grace', '1h', '--json'));
      assert.equal(rotated.id, created.id);
      assert.notEqual(rotated.key, created.key);
      assert.ok(Date.parse(rotated.previous_key_expires_at) > Date.now() + 3500_000);
      assert.equal((await t.call('/api/v1/keys', { key: created.key })).status, 200);
      assert.equal((await t.call('/api/v1/keys', { key: rotated.key })).status, 200);
      const listed = await cli('keys', 'list', '--json');
      assert.ok(!listed.includes(created.key) && !listed.includes(rotated.key));
      assert.ok(JSON.parse(listed).data.some((k: any) => k.id === created.id && k.prefix === rotated.prefix));
      assert.match(await cli('keys', 'list'), /PREFIX/);
    });

    test('orgs create and users create; keys create --org targets that organisation', async () => {
      const org = JSON.parse(await cli('orgs', 'create', '--slug', 'acme', '--name', 'Acme', '--json'));
      assert.equal(org.slug, 'acme');
      const user = JSON.parse(await cli('users', 'create', '--email', 'ada@acme.test', '--org', 'acme', '--role', 'owner', '--json'));
      assert.equal(user.role, 'owner');
      const k = JSON.parse(await cli('keys', 'create', '--name', 'acme-key', '--org', 'acme', '--permissions', 'keys:read', '--json'));
      const res = await t.call('/api/v1/keys', { key: k.key });
      assert.deepEqual(res.json.data.map((x: any) => x.id), [k.id], 'sees only its own organisation');
    });

    test('bad CLI input fails with a clear message and a non-zero exit', async () => {
      await assert.rejects(cli('keys', 'create', '--name', 'x', '--permissions', 'root'), (e: any) => e.code === 1 && /Unknown permission 'root'/.test(e.stderr));
      await assert.rejects(cli('keys', 'revoke', 'key_nope'), (e: any) => e.code === 1 && /No such API key/.test(e.stderr));
      await assert.rejects(cli('keys', 'create', '--name', 'x', '--org', 'nope'), (e: any) => /No organisation/.test(e.stderr));
      await assert.rejects(run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'keys', 'list'], { env: { ...env, DATABASE_URL: 'postgres://x/y', BACKBONE_SECRET: '' } }),
        (e: any) => e.code === 2 && /BACKBONE_SECRET/.test(e.stderr));
    });
  });
}
