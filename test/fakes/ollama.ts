/**
 * Fake Ollama server (`baseUrl` = origin): native `/api/chat` (NDJSON stream by default, one JSON
 * object with `stream: false`), OpenAI-compatible `/v1/embeddings`, `/api/tags`. Errors are
 * Ollama's `{"error":"..."}`; the model `missing-model` is not pulled (404). No auth unless started
 * with `{ apiKey }` (then `Authorization: Bearer KEY`, as Ollama's hosted API).
 */
import { sendJson, startFakeServer, writeFrames, type FakeContext, type FakeServer } from './server.js';
import { embeddingsResponse, FAKE_USAGE, replyPieces, scenarioOf, toolNames } from './openai-wire.js';

/** Arguments of the two tool calls of the `[tools]` scenario, as Ollama sends them (objects). */
export const OLLAMA_TOOL_ARGS = [{ location: 'Paris' }, { timezone: 'Europe/Paris' }] as const;

const CREATED_AT = '2025-01-01T00:00:00.000000Z';
const PROMPT_EVAL_COUNT = FAKE_USAGE.prompt_tokens;
const EVAL_COUNT = FAKE_USAGE.completion_tokens;

/** The final-line statistics Ollama appends (durations in nanoseconds). */
const stats = (doneReason: string): Record<string, unknown> => ({
  done_reason: doneReason, done: true, total_duration: 885_095_291, load_duration: 3_753_500,
  prompt_eval_count: PROMPT_EVAL_COUNT, prompt_eval_duration: 328_493_000, eval_count: EVAL_COUNT, eval_duration: 552_222_000,
});

function toolCalls(body: any): unknown[] {
  return toolNames(body).map((name, index) => ({ function: { index, name, arguments: OLLAMA_TOOL_ARGS[index] } }));
}

/** Start a fake Ollama. */
export async function startFakeOllama(opts: { apiKey?: string } = {}): Promise<FakeServer & { baseUrl: string }> {
  const provider = 'ollama';
  const authorized = (ctx: FakeContext): boolean => {
    if (!opts.apiKey || ctx.req.headers.authorization === `Bearer ${opts.apiKey}`) return true;
    sendJson(ctx.res, 401, { error: 'unauthorized' });
    return false;
  };
  const server = await startFakeServer({
    errorBody: (_status, message) => ({ error: message }),
    routes: [
      {
        method: 'POST', path: '/api/chat', handler: async (ctx) => {
          if (!authorized(ctx)) return;
          const body = ctx.recorded.json;
          if (!body || typeof body.model !== 'string') return sendJson(ctx.res, 400, { error: 'model is required' });
          if (body.model === 'missing-model') return sendJson(ctx.res, 404, { error: `model "${body.model}" not found, try pulling it first` });
          const scenario = scenarioOf(body);
          const line = (message: Record<string, unknown>, extra: Record<string, unknown> = { done: false }): Record<string, unknown> =>
            ({ model: body.model, created_at: CREATED_AT, message: { role: 'assistant', ...message }, ...extra });
          const doneReason = scenario === 'length' ? 'length' : 'stop'; // still "stop" after tool calls

          if (body.stream === false) {
            const message = scenario === 'tools' ? { content: '', tool_calls: toolCalls(body) } : { content: replyPieces(provider, scenario).join('') };
            return sendJson(ctx.res, 200, line(message, stats(doneReason)), { 'content-type': 'application/json; charset=utf-8' });
          }
          const lines: Record<string, unknown>[] = [];
          if (scenario === 'tools') {
            for (const call of toolCalls(body)) lines.push(line({ content: '', tool_calls: [call] }));
          } else {
            for (const p of replyPieces(provider, scenario)) lines.push(line({ content: p }));
            if (scenario === 'error') lines.push({ error: 'an error was encountered while running the model: unexpected EOF' });
          }
          if (scenario !== 'error') lines.push(line({ content: '' }, stats(doneReason)));
          await writeFrames(ctx, 'application/x-ndjson', lines.map((l) => `${JSON.stringify(l)}\n`));
        },
      },
      {
        method: 'POST', path: '/v1/embeddings', handler: (ctx) => {
          if (!authorized(ctx)) return;
          const body = ctx.recorded.json;
          if (body?.model === 'missing-model') {
            return sendJson(ctx.res, 404, { error: { message: `model "${body.model}" not found, try pulling it first`, type: 'api_error', param: null, code: null } });
          }
          sendJson(ctx.res, 200, embeddingsResponse(body));
        },
      },
      {
        method: 'GET', path: '/api/tags', handler: (ctx) => {
          if (!authorized(ctx)) return;
          const models = ['llama3.2:latest', 'nomic-embed-text:latest'].map((name) => ({
            name, model: name, modified_at: CREATED_AT, size: 2_019_393_189, digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
            details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
          }));
          sendJson(ctx.res, 200, { models });
        },
      },
    ],
  });
  return Object.assign(server, { baseUrl: server.origin });
}
