/** Backbone with all five providers configured against local fakes, and a stream collector. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startTestApp, type TestApp } from './app.js';
import { startFakeOpenAI } from '../fakes/openai.js';
import { startFakeAzureOpenAI } from '../fakes/azure-openai.js';
import { startFakeAnthropic } from '../fakes/anthropic.js';
import { startFakeGemini } from '../fakes/vertex-ai.js';
import { startFakeOllama } from '../fakes/ollama.js';
import type { FakeServer } from '../fakes/server.js';
import type { UsageEvent } from '../../src/metering/usage.js';

type Fake = FakeServer & { baseUrl: string };

export interface GatewayFixture {
  t: TestApp;
  fakes: { openai: Fake; azure: Fake; anthropic: Fake; gemini: Fake; ollama: Fake };
  usage: UsageEvent[];
  client: OpenAI;
  /** The database and environment this instance runs with (for the CLI, or a second instance). */
  databaseUrl: string;
  env: Record<string, string>;
  /** Another Backbone instance on the same database, config and fakes (closed with the fixture). */
  startPeer(): Promise<TestApp>;
  close(): Promise<void>;
}

/** `yaml`: extra lines for the config file (e.g. a `plans:` section). */
export async function startGateway(env: Record<string, string> = {}, opts: { yaml?: string[] } = {}): Promise<GatewayFixture> {
  const [openai, azure, anthropic, gemini, ollama] = await Promise.all([
    startFakeOpenAI(), startFakeAzureOpenAI(), startFakeAnthropic(), startFakeGemini(), startFakeOllama(),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'backbone-gw-'));
  writeFileSync(join(dir, 'backbone.yaml'), [
    'models:',
    '  - { name: azure-gpt-4o, provider: azure-openai, upstream: gpt-4o-deployment }',
    '  - { name: llama3.2, provider: ollama }',
    '  - { name: flaky-gpt, provider: openai, upstream: gpt-4o-mini, fallbacks: [claude-sonnet-4-5] }',
    '  - { name: azure-whisper, provider: azure-openai, upstream: whisper }',
    ...(opts.yaml ?? []),
    '',
  ].join('\n'));
  const usage: UsageEvent[] = [];
  const databaseUrl = join(dir, 'backbone.db');
  const fullEnv: Record<string, string> = {
    BACKBONE_CONFIG: join(dir, 'backbone.yaml'),
    OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: openai.baseUrl,
    AZURE_OPENAI_API_KEY: 'test-key', AZURE_OPENAI_ENDPOINT: azure.baseUrl,
    ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: anthropic.baseUrl,
    GEMINI_API_KEY: 'test-key', GEMINI_BASE_URL: gemini.baseUrl,
    OLLAMA_BASE_URL: ollama.baseUrl,
    BACKBONE_UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '1500',
    BACKBONE_AUTH_FAILURE_LIMIT: '100000',
    ...env,
  };
  const sink = { record: (e: UsageEvent) => { usage.push(e); } };
  const t = await startTestApp(databaseUrl, fullEnv, { usage: sink });
  const client = new OpenAI({ apiKey: t.adminKey, baseURL: `${t.url}/api/v1`, maxRetries: 0 });
  const peers: TestApp[] = [];
  return {
    t, fakes: { openai, azure, anthropic, gemini, ollama }, usage, client, databaseUrl, env: fullEnv,
    async startPeer() {
      const peer = await startTestApp(databaseUrl, fullEnv, { usage: sink });
      peers.push(peer);
      return peer;
    },
    async close() {
      for (const p of peers) await p.close();
      await t.close();
      await Promise.all([openai, azure, anthropic, gemini, ollama].map((f) => f.close()));
    },
  };
}

/** Collect a stream the way clients do: content joined, tool calls assembled by their index. */
export async function collect(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let content = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  let chunks = 0;
  const tools = new Map<number, { id?: string; name?: string; args: string }>();
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta?.content) content += c.delta.content;
      for (const tc of c.delta?.tool_calls ?? []) {
        const cur = tools.get(tc.index) ?? { args: '' };
        if (tc.id) cur.id = tc.id;
        if (tc.function?.name) cur.name = tc.function.name;
        cur.args += tc.function?.arguments ?? '';
        tools.set(tc.index, cur);
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { content, finish, usage, chunks, tools };
}

