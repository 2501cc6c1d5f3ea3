/**
 * Zero-latency fake OpenAI chat completions server for the gateway benchmark, run as its own
 * process (`node --import tsx bench/fake-upstream.ts`) so its CPU time can be told apart from the
 * proxy's. `POST /v1/chat/completions` (any path ending in `/chat/completions`):
 *  - `"stream": false` (default): one `chat.completion` JSON body with usage;
 *  - `"stream": true`: SSE — a role chunk, 5 content chunks, a finish chunk, a usage chunk (only when
 *    `stream_options.include_usage` is true, as OpenAI does) and `data: [DONE]`, each its own write.
 * Requires `Authorization: Bearer <anything>` like the real API. Listens on 127.0.0.1 (port from
 * `PORT`, default 0 = any) and reports `{ port }` over IPC when started by the benchmark.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export const REPLY_PIECES = ['Hello', ' from', ' the', ' fake', ' upstream!'];
export const REPLY_TEXT = REPLY_PIECES.join('');
export const USAGE = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };
const CREATED = 1_735_689_600;

let seq = 0;
const id = (): string => `chatcmpl-bench${(++seq).toString(36)}`;

function completion(model: string): string {
  return JSON.stringify({
    id: id(), object: 'chat.completion', created: CREATED, model, system_fingerprint: 'fp_bench',
    choices: [{ index: 0, message: { role: 'assistant', content: REPLY_TEXT, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage: { ...USAGE, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } },
    service_tier: 'default',
  });
}

function frames(model: string, includeUsage: boolean): string[] {
  const cid = id();
  const chunk = (delta: Record<string, unknown>, finish: string | null): string => {
    const c: Record<string, unknown> = {
      id: cid, object: 'chat.completion.chunk', created: CREATED, model, system_fingerprint: 'fp_bench',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    if (includeUsage) c.usage = null;
    return `data: ${JSON.stringify(c)}\n\n`;
  };
  const out = [chunk({ role: 'assistant', content: '', refusal: null }, null)];
  for (const p of REPLY_PIECES) out.push(chunk({ content: p }, null));
  out.push(chunk({}, 'stop'));
  if (includeUsage) {
    out.push(`data: ${JSON.stringify({ id: cid, object: 'chat.completion.chunk', created: CREATED, model, system_fingerprint: 'fp_bench', choices: [], usage: USAGE })}\n\n`);
  }
  out.push('data: [DONE]\n\n');
  return out;
}

function error(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: null } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
  if (req.method !== 'POST' || !req.url?.split('?')[0]!.endsWith('/chat/completions')) return error(res, 404, `Unknown route ${req.method} ${req.url}`);
  if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) return error(res, 401, 'You must provide an API key in the Authorization header');
  let body: { model?: unknown; stream?: unknown; stream_options?: { include_usage?: unknown }; messages?: unknown };
  try {
    body = JSON.parse(raw) as typeof body;
  } catch {
    return error(res, 400, 'We could not parse the JSON body of your request.');
  }
  if (typeof body.model !== 'string' || !Array.isArray(body.messages)) return error(res, 400, "'model' and 'messages' are required");
  const headers = { 'x-request-id': `req_${seq}`, 'openai-processing-ms': '0' };
  if (body.stream === true) {
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    for (const f of frames(body.model, body.stream_options?.include_usage === true)) res.write(f);
    res.end();
    return;
  }
  const json = completion(body.model);
  res.writeHead(200, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

const server = createServer({ keepAliveTimeout: 60_000, noDelay: true }, (req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => { raw += c; if (raw.length > 1_000_000) req.destroy(); });
  req.on('end', () => handle(req, res, raw));
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  if (process.send) process.send({ port, reply: REPLY_TEXT });
  else console.log(`fake upstream on http://127.0.0.1:${port}/v1`);
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
