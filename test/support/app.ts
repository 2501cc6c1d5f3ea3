/** Start a real Backbone app (real HTTP on 127.0.0.1:0) on a given backend, with logs captured. */
import { Writable } from 'node:stream';
import { createApp, type App, type AppDeps } from '../../src/app.js';
import { loadConfig, type Env } from '../../src/config/index.js';
import { DEFAULT_PERMISSIONS, PERMISSIONS, type Permission } from '../../src/keys/permissions.js';
import type { Backend } from './backends.js';

export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123456789';

export interface TestApp {
  app: App;
  url: string;
  /** Everything the app logged, one JSON line per entry. */
  logs: string[];
  /** A key with every permission in the default organisation. */
  adminKey: string;
  /** Create a key directly (as the CLI would) in an organisation (default: the default one). */
  createKey(opts?: { permissions?: Permission[]; orgSlug?: string; name?: string; allowedIps?: string[]; allowedModels?: string[]; expiresAt?: number | null }): Promise<{ id: string; key: string }>;
  /** fetch against the app with an optional key. */
  call(path: string, init?: { method?: string; key?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; text: string; json: any }>;
  close(): Promise<void>;
}

export async function startTestApp(databaseUrl: string, env: Env = {}, deps: Omit<AppDeps, 'logDestination'> = {}): Promise<TestApp> {
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const config = loadConfig({ DATABASE_URL: databaseUrl, BACKBONE_SECRET: TEST_SECRET, LOG_LEVEL: 'debug', BACKBONE_INVALIDATION_POLL_MS: '100', ...env }, { generateSecret: false });
  const app = await createApp(config, { ...deps, logDestination: sink });
  const url = await app.listen(0);
  const createKey: TestApp['createKey'] = async (opts = {}) => {
    const org = opts.orgSlug
      ? (await app.store.orgs.bySlug(opts.orgSlug)) ?? (await app.store.orgs.create({ slug: opts.orgSlug, name: opts.orgSlug }))
      : await app.store.orgs.ensureDefault();
    const { key, secret } = await app.keys.create(org.id, {
      name: opts.name ?? 'test key', environment: 'live', permissions: opts.permissions ?? [...DEFAULT_PERMISSIONS],
      allowedModels: opts.allowedModels ?? null, allowedIps: opts.allowedIps ?? null, expiresAt: opts.expiresAt ?? null,
    }, { id: 'cli', ip: null });
    return { id: key.id, key: secret };
  };
  const admin = await createKey({ permissions: [...PERMISSIONS], name: 'admin' });
  return {
    app, url, logs, adminKey: admin.key, createKey,
    async call(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      if (init.key !== undefined) headers.authorization = `Bearer ${init.key}`;
      let body: string | undefined;
      if (init.body !== undefined) {
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(url + path, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body });
      const text = await res.text();
      let json: any;
      try { json = JSON.parse(text); } catch { json = undefined; }
      return { status: res.status, headers: res.headers, text, json };
    },
    close: () => app.close(),
  };
}
