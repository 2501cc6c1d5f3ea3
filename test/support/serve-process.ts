/**
 * Backbone as a real process (`backbone serve`, through tsx), for the tests that need signals and
 * several processes: the environment, the CLI, the listening lines of every worker, and a load
 * that is still in flight when SIGTERM arrives.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { after, before } from 'node:test';
import { TEST_SECRET } from './app.js';
import { waitFor } from './usage-events.js';
import type { Backend } from './backends.js';
import { startFakeOpenAI } from '../fakes/openai.js';
import type { FakeServer } from '../fakes/server.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/main.ts'];

/** The server's environment: this process's, minus what would confuse the child, plus the store and the fake upstream. */
export function serveEnv(databaseUrl: string, openaiBaseUrl: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // NODE_TEST_CONTEXT would make the server believe it runs under the test runner.
  const { BACKBONE_CONFIG: _config, NODE_TEST_CONTEXT: _test, ...inherited } = process.env;
  return {
    ...inherited, DATABASE_URL: databaseUrl, BACKBONE_SECRET: TEST_SECRET, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info',
    OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: openaiBaseUrl, BACKBONE_AUTH_FAILURE_LIMIT: '100000', ...extra,
  };
}

/** Run a `backbone` command that prints JSON (`--json`). */
export async function cliJson<T = any>(env: NodeJS.ProcessEnv, ...args: string[]): Promise<T> {
  return JSON.parse((await run(process.execPath, [...CLI, ...args], { env })).stdout) as T;
}

export interface Listening { url: string; pid: number; worker: number }

export interface ServeProcess {
  child: ChildProcess;
  /** Every stdout line so far (JSON logs). */
  logs: string[];
  /** One entry per "Backbone listening" line (one per worker; replacements add more). */
  listening: Listening[];
  stderr(): string;
  /** Wait until `n` processes listen; returns the base URL. Fails if the server exits first. */
  ready(n?: number): Promise<string>;
}

export function startServe(env: NodeJS.ProcessEnv, args: string[] = []): ServeProcess {
  const child = spawn(process.execPath, [...CLI, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const listening: Listening[] = [];
  let stderr = '';
  child.stderr!.on('data', (c) => { stderr += String(c); });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    logs.push(line);
    try {
      const o = JSON.parse(line);
      if (o.url && /Backbone listening/.test(o.msg)) listening.push({ url: o.url, pid: o.pid, worker: o.worker });
    } catch { /* not JSON */ }
  });
  return {
    child, logs, listening, stderr: () => stderr,
    async ready(n = 1) {
      await waitFor(() => listening.length >= n || child.exitCode !== null, 60_000, `${n} process(es) listening`);
      if (listening.length < n) throw new Error(`server exited (${child.exitCode}) before listening: ${stderr}`);
      return listening[0]!.url;
    },
  };
}

export interface Served { id: string; afterSigterm: boolean }

/**
 * Send `load` requests at once (`send(i)` resolves with the request id of a complete 200, or null),
 * SIGTERM the server once 40 have finished, wait for the rest and for the exit.
 * Returns the exit code and the requests served, each marked if it finished after SIGTERM.
 */
export async function sigtermUnderLoad(child: ChildProcess, load: number, send: (i: number) => Promise<string | null>): Promise<{ code: number | null; served: Served[] }> {
  let done = 0;
  let sigtermSent = false;
  const served: Served[] = [];
  const requests = Array.from({ length: load }, async (_, i) => {
    try {
      const id = await send(i);
      if (id) served.push({ id, afterSigterm: sigtermSent });
    } catch { /* refused or reset once the server stops taking requests: not served */ }
    done++;
  });
  while (done < 40) await new Promise((r) => setTimeout(r, 5));
  sigtermSent = true;
  child.kill('SIGTERM');
  await Promise.all(requests);
  const [code] = child.exitCode !== null ? [child.exitCode] : await once(child, 'exit');
  return { code: code as number | null, served };
}

/** What a suite that starts `backbone serve` itself works with. */
export interface ServedSuite {
  /** A fresh database on the suite's backend. */
  url: string;
  fake: FakeServer & { baseUrl: string };
  /** The server the suite started: killed after the suite if still running. */
  server: ServeProcess | undefined;
}

/** Registers the suite's before/after: a fresh database and a fake OpenAI, dropped and closed after. */
export function servedSuite(backend: Backend): ServedSuite {
  const suite = { server: undefined } as ServedSuite;
  let drop: (() => Promise<void>) | undefined;
  before(async () => {
    const db = await backend.fresh();
    drop = db.drop;
    suite.url = db.url;
    suite.fake = await startFakeOpenAI();
  });
  after(async () => {
    if (suite.server && suite.server.child.exitCode === null) suite.server.child.kill('SIGKILL');
    await suite.fake?.close();
    await drop?.();
  });
  return suite;
}
