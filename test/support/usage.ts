/** Usage-metering fixtures: Backbone with its real ledger against a fake OpenAI, and event builders. */
import OpenAI from 'openai';
import { startTestApp, type TestApp } from './app.js';
import { startFakeOpenAI } from '../fakes/openai.js';
import type { FakeServer } from '../fakes/server.js';

export interface LedgerGateway {
  t: TestApp;
  openai: FakeServer & { baseUrl: string };
  client: OpenAI;
  close(): Promise<void>;
}

/** Backbone on `databaseUrl` with the default usage sink (the real ledger), OpenAI faked. */
export async function startLedgerGateway(databaseUrl: string, env: Record<string, string> = {}): Promise<LedgerGateway> {
  const openai = await startFakeOpenAI();
  const t = await startTestApp(databaseUrl, {
    OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: openai.baseUrl, BACKBONE_AUTH_FAILURE_LIMIT: '100000', LOG_LEVEL: 'info', ...env,
  });
  const client = new OpenAI({ apiKey: t.adminKey, baseURL: `${t.url}/api/v1`, maxRetries: 0 });
  return {
    t, openai, client,
    async close() {
      await t.close();
      await openai.close();
    },
  };
}

export { usageEvent, waitFor } from './usage-events.js';
