/**
 * Fake Anthropic Messages API on a local socket. Speaks the documented wire format: `x-api-key`
 * auth (`test-key`), `anthropic-version` required, Anthropic's error body, and SSE streams framed as
 * `event: <type>\ndata: <json>\n\n` with a `ping`.
 *
 * Scenarios, by the last user text: `[tools]` -> a short text then two tool_use blocks (for the
 * request's first two tools, else get_weather / get_time), stop_reason tool_use; `[length]` ->
 * stop_reason max_tokens; `[cache]` -> usage with cache reads and writes; `[overloaded]` (streaming)
 * -> an `error` event (overloaded_error) after the first text delta; else "Hello from anthropic!".
 */
import type { ServerResponse } from 'node:http';
import { lastUserText, sendJson, sse, startFakeServer, writeFrames, type FakeContext, type FakeServer } from './server.js';

export const ANTHROPIC_TEST_KEY = 'test-key';

type Json = Record<string, unknown>;
type Block = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Json };
interface Usage { input_tokens: number; output_tokens: number; cache_creation_input_tokens: number; cache_read_input_tokens: number }
interface Plan { blocks: Block[]; stopReason: string; usage: Usage; streamError?: boolean }

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error', 401: 'authentication_error', 402: 'billing_error', 403: 'permission_error',
  404: 'not_found_error', 413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error',
  504: 'timeout_error', 529: 'overloaded_error',
};

/** Anthropic's error body for a status. */
export function anthropicErrorBody(status: number, message: string): Json {
  return { type: 'error', error: { type: ERROR_TYPES[status] ?? 'api_error', message } };
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, anthropicErrorBody(status, message), { 'request-id': 'req_fake_error' });
}

/** Auth and version headers, as the real API checks them first. Returns false when it answered. */
function checkHeaders(ctx: FakeContext): boolean {
  const key = ctx.req.headers['x-api-key'];
  if (!key) { fail(ctx.res, 401, 'x-api-key header is required'); return false; }
  if (key !== ANTHROPIC_TEST_KEY) { fail(ctx.res, 401, 'invalid x-api-key'); return false; }
  if (!ctx.req.headers['anthropic-version']) { fail(ctx.res, 400, 'anthropic-version: header is required'); return false; }
  return true;
}

function blocksOf(content: unknown): Json[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return Array.isArray(content) ? content.filter(isObj) : [];
}

/**
 * The validations that matter for a translator. Note: today's API merges consecutive same-role
 * turns itself; older versions rejected them with the message below. The fake stays strict so the
 * translator's own merge is proven.
 */
export function validateMessagesRequest(body: unknown): string | undefined {
  if (!isObj(body)) return 'There was an error parsing the body: not a JSON object';
  if (typeof body['model'] !== 'string') return 'model: Field required';
  const maxTokens = body['max_tokens'];
  if (maxTokens === undefined) return 'max_tokens: Field required';
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) return 'max_tokens: Input should be a valid positive integer';
  const system = body['system'];
  if (system !== undefined && typeof system !== 'string' && !Array.isArray(system)) return 'system: Input should be a valid string or list';
  const messages = body['messages'];
  if (!Array.isArray(messages)) return 'messages: Field required';
  if (messages.length === 0) return 'messages: at least one message is required';
  let previousToolUses: string[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isObj(m)) return `messages.${i}: Input should be a valid dictionary`;
    const role = m['role'];
    if (role === 'system') {
      return 'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.';
    }
    if (role !== 'user' && role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (i === 0 && role !== 'user') return 'messages: first message must use the "user" role';
    if (i > 0 && isObj(messages[i - 1]) && messages[i - 1].role === role) {
      return `messages: roles must alternate between "user" and "assistant", but found multiple "${role}" roles in a row`;
    }
    const blocks = blocksOf(m['content']);
    const isFinalAssistant = role === 'assistant' && i === messages.length - 1;
    if (blocks.length === 0 && !isFinalAssistant) {
      return `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
    }
    if (blocks.some((b) => b['type'] === 'text' && b['text'] === '')) return 'messages: text content blocks must be non-empty';
    const results = blocks.filter((b) => b['type'] === 'tool_result').map((b) => String(b['tool_use_id']));
    const stray = results.filter((id) => !previousToolUses.includes(id));
    if (stray.length > 0) {
      return `messages.${i}.content.0: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${stray.join(', ')}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
    }
    const unanswered = previousToolUses.filter((id) => !results.includes(id));
    if (unanswered.length > 0) {
      return `messages.${i - 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${unanswered.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
    }
    const uses = blocks.filter((b) => b['type'] === 'tool_use');
    if (uses.some((b) => !isObj(b['input']))) return `messages.${i}: tool_use.input: Input should be a valid dictionary`;
    previousToolUses = uses.map((b) => String(b['id']));
  }
  const tools = body['tools'];
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return 'tools: Input should be a valid list';
    for (let i = 0; i < tools.length; i++) {
      const t: unknown = tools[i];
      if (!isObj(t) || typeof t['name'] !== 'string') return `tools.${i}.name: Field required`;
      if (!isObj(t['input_schema']) || t['input_schema']['type'] !== 'object') return `tools.${i}.input_schema.type: Input should be 'object'`;
    }
  }
  return undefined;
}

function toolNames(body: Json): [string, string] {
  const names = Array.isArray(body['tools'])
    ? body['tools'].filter(isObj).map((t) => t['name']).filter((n): n is string => typeof n === 'string')
    : [];
  return [names[0] ?? 'get_weather', names[1] ?? 'get_time'];
}

function plan(body: Json): Plan {
  const text = lastUserText(Array.isArray(body['messages']) ? body['messages'] : []);
  const usage: Usage = { input_tokens: 12, output_tokens: 6, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  if (text.includes('[tools]')) {
    const [first, second] = toolNames(body);
    return {
      blocks: [
        { type: 'text', text: 'Let me look that up.' },
        { type: 'tool_use', id: 'toolu_01FakeFirst0000000000001', name: first, input: { location: 'Paris, France', unit: 'celsius' } },
        { type: 'tool_use', id: 'toolu_01FakeSecond000000000002', name: second, input: { timezone: 'Europe/Paris' } },
      ],
      stopReason: 'tool_use',
      usage: { ...usage, input_tokens: 320, output_tokens: 58 },
    };
  }
  if (text.includes('[length]')) {
    return { blocks: [{ type: 'text', text: 'Hello from anthropic! This answer stops at the' }], stopReason: 'max_tokens', usage: { ...usage, output_tokens: 10 } };
  }
  const hello: Block[] = [{ type: 'text', text: 'Hello from anthropic!' }];
  if (text.includes('[cache]')) {
    return { blocks: hello, stopReason: 'end_turn', usage: { ...usage, input_tokens: 14, cache_read_input_tokens: 1800, cache_creation_input_tokens: 200 } };
  }
  return { blocks: hello, stopReason: 'end_turn', usage, streamError: text.includes('[overloaded]') };
}

/** Split a string into pieces of at most `size` characters (how partial_json arrives). */
function pieces(s: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out;
}

function streamFrames(id: string, model: string, p: Plan): string[] {
  const frames: string[] = [];
  const ev = (type: string, data: Json): void => { frames.push(sse({ type, ...data }, type)); };
  const { output_tokens, ...inputUsage } = p.usage;
  ev('message_start', {
    message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...inputUsage, output_tokens: 1 } },
  });
  for (const [index, b] of p.blocks.entries()) {
    if (b.type === 'text') {
      ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
      if (index === 0) ev('ping', {});
      const words = b.text.split(/(?<= )/);
      const half = Math.ceil(words.length / 2);
      for (const part of [words.slice(0, half).join(''), words.slice(half).join('')].filter(Boolean)) {
        ev('content_block_delta', { index, delta: { type: 'text_delta', text: part } });
        if (p.streamError) {
          ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
          return frames;
        }
      }
    } else {
      ev('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
      if (index === 0) ev('ping', {});
      for (const part of ['', ...pieces(JSON.stringify(b.input), 9)]) {
        ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: part } });
      }
    }
    ev('content_block_stop', { index });
  }
  ev('message_delta', { delta: { stop_reason: p.stopReason, stop_sequence: null }, usage: { output_tokens } });
  ev('message_stop', {});
  return frames;
}

/** Start the fake. `baseUrl` is the bare origin, as `ANTHROPIC_BASE_URL` is. */
export async function startFakeAnthropic(): Promise<FakeServer & { baseUrl: string }> {
  let counter = 0;
  const server = await startFakeServer({
    errorBody: anthropicErrorBody,
    routes: [
      {
        method: 'POST',
        path: '/v1/messages',
        handler: async (ctx) => {
          if (!checkHeaders(ctx)) return;
          const body: unknown = ctx.recorded.json;
          const problem = validateMessagesRequest(body);
          if (problem !== undefined || !isObj(body)) return fail(ctx.res, 400, problem ?? 'invalid body');
          counter++;
          const id = `msg_01Fake${String(counter).padStart(18, '0')}`;
          const model = String(body['model']);
          const p = plan(body);
          if (body['stream'] === true) {
            await writeFrames(ctx, 'text/event-stream; charset=utf-8', streamFrames(id, model, p));
            return;
          }
          sendJson(ctx.res, 200, {
            id, type: 'message', role: 'assistant', model, content: p.blocks,
            stop_reason: p.stopReason, stop_sequence: null, usage: p.usage,
          }, { 'request-id': `req_fake_${counter}` });
        },
      },
      {
        method: 'GET',
        path: '/v1/models',
        handler: (ctx) => {
          if (!checkHeaders(ctx)) return;
          const data = [{ type: 'model', id: 'claude-sonnet-4-5-20250929', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' }];
          sendJson(ctx.res, 200, { data, has_more: false, first_id: data[0]!.id, last_id: data[0]!.id });
        },
      },
    ],
  });
  return { ...server, baseUrl: server.origin };
}
