/**
 * Backbone as the gateway benchmark runs it: its own process, the compiled `dist/` build, made with `createApp(loadConfig(env))`
 * exactly as `backbone serve` does (SQLite in BACKBONE_DATA_DIR, the platform OpenAI provider from
 * OPENAI_API_KEY / OPENAI_BASE_URL), plus one real API key made through the KeyService so auth,
 * limits and metering are all on the request path. Reports `{ url, key }` over IPC; the message
 * `stop` (or a closed IPC channel) closes the app gracefully.
 *
 * With BENCH_CPU_PROFILE=<file> (run with --enable-source-maps) it profiles itself from the moment
 * it is ready until it stops, and writes a `.cpuprofile` whose positions are mapped back to the
 * TypeScript sources (tsx emits one-line modules, so raw positions would all read `:1`).
 */
import { writeFileSync } from 'node:fs';
import { findSourceMap } from 'node:module';
import { Session } from 'node:inspector/promises';
// The compiled build, as `npm start` runs it (the gateway benchmark runs `npm run build` first):
// tsx's transform of src/ adds work of its own on every closure a request creates.
// (Typed from src/; loaded from dist/ through a computed path so the typecheck does not need it.)
const dist = (m: string): Promise<unknown> => import(new URL(`../dist/${m}`, import.meta.url).href);
const { loadConfig } = (await dist('config/index.js')) as typeof import('../src/config/index.js');
const { createApp } = (await dist('app.js')) as typeof import('../src/app.js');
const { DEFAULT_PERMISSIONS } = (await dist('keys/permissions.js')) as typeof import('../src/keys/permissions.js');

const app = await createApp(loadConfig(process.env));
const org = await app.store.orgs.ensureDefault();
const { secret } = await app.keys.create(org.id, {
  name: 'gateway-bench', environment: 'live', permissions: [...DEFAULT_PERMISSIONS],
  allowedModels: null, allowedIps: null, expiresAt: null,
}, { id: 'cli', ip: null });
const url = await app.listen(0);

const profileFile = process.env.BENCH_CPU_PROFILE;
let session: Session | undefined;
if (profileFile) {
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
}

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
async function writeProfile(): Promise<void> {
  if (!session || !profileFile) return;
  const { profile } = await session.post('Profiler.stop') as unknown as { profile: { nodes: { callFrame: CallFrame }[] } };
  for (const { callFrame: cf } of profile.nodes) {
    if (!cf.url.startsWith('file:')) continue;
    const entry = findSourceMap(cf.url)?.findEntry(cf.lineNumber, cf.columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
    if (entry?.originalSource) { cf.url = entry.originalSource; cf.lineNumber = entry.originalLine ?? cf.lineNumber; }
  }
  writeFileSync(profileFile, JSON.stringify(profile));
}

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  writeProfile().catch((err) => console.error('profile:', err)).then(() => app.close()).finally(() => process.exit(0));
};
process.on('message', (m) => { if (m === 'stop') stop(); });
process.on('disconnect', stop);
process.on('SIGTERM', stop);
if (process.send) process.send({ url, key: secret });
else console.log(`Backbone on ${url}, key ${secret}`);
