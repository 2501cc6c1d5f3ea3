/**
 * The chat body's check: the parts the gateway itself relies on (provider translators check the
 * rest). The zod schema is the rule and words every error. Ahead of it runs a plain check that
 * only ever says "certainly valid": when it is unsure, zod decides. Zod's walk of its schema tree
 * cost ~26 µs per request when the process is woken from idle (at 200 req/s in the gateway
 * benchmark), about as much as the rest of authentication; the plain check costs ~1 µs.
 * test/unit/chat-body.test.ts holds the two together: whatever the plain check passes, zod passes.
 */
import { z } from 'zod';
import { parseInput } from '../keys/input.js';
import type { ChatCompletionCreateParams } from '../providers/types.js';

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;
const message = z.object({ role: z.enum(ROLES) }).passthrough();
const nullableNumber = z.number().nullable().optional();

export const chatBodySchema = z.object({
  model: z.string().min(1).max(256),
  messages: z.array(message).min(1).max(100_000),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullable().optional(),
  n: z.number().int().min(1).max(128).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: nullableNumber,
  tools: z.array(z.object({ type: z.string() }).passthrough()).max(512).nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullable().optional(),
  user: z.string().max(512).optional(),
}).passthrough();

export type ChatBody = ChatCompletionCreateParams & { model: string };

/** The body, checked; a 400 `invalid_request` naming the parameter otherwise. */
export function parseChatBody(input: unknown): ChatBody {
  if (plainlyValid(input)) return input as ChatBody;
  return parseInput(chatBodySchema, input) as unknown as ChatBody;
}

const roles = new Set<unknown>(ROLES);

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const absent = (v: unknown): boolean => v === undefined || v === null;
const intIn = (v: unknown, min: number, max: number): boolean => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
const stringArray = (v: unknown, max: number): boolean => {
  if (!Array.isArray(v) || v.length > max) return false;
  for (const s of v) if (typeof s !== 'string') return false;
  return true;
};

/**
 * For a parsed JSON value: true only when `chatBodySchema` certainly accepts `v` as it is (the schema transforms nothing,
 * so zod's output would equal its input). False means "let zod decide", not "invalid".
 */
export function plainlyValid(v: unknown): boolean {
  if (!isObject(v)) return false;
  const b = v;
  if (typeof b.model !== 'string' || b.model.length < 1 || b.model.length > 256) return false;
  const messages = b.messages;
  if (!Array.isArray(messages) || messages.length < 1 || messages.length > 100_000) return false;
  for (const m of messages) if (!isObject(m) || !roles.has(m.role)) return false;
  if (!absent(b.stream) && typeof b.stream !== 'boolean') return false;
  const so = b.stream_options;
  if (!absent(so) && !(isObject(so) && (so.include_usage === undefined || typeof so.include_usage === 'boolean'))) return false;
  if (!absent(b.n) && !intIn(b.n, 1, 128)) return false;
  if (!absent(b.max_tokens) && !intIn(b.max_tokens, 1, Number.MAX_SAFE_INTEGER)) return false;
  if (!absent(b.max_completion_tokens) && !intIn(b.max_completion_tokens, 1, Number.MAX_SAFE_INTEGER)) return false;
  const t = b.temperature;
  if (!absent(t) && !(typeof t === 'number' && t >= 0 && t <= 2)) return false;
  if (!absent(b.top_p) && !(typeof b.top_p === 'number' && Number.isFinite(b.top_p))) return false;
  const tools = b.tools;
  if (!absent(tools)) {
    if (!Array.isArray(tools) || tools.length > 512) return false;
    for (const tool of tools) if (!isObject(tool) || typeof tool.type !== 'string') return false;
  }
  if (!absent(b.stop) && typeof b.stop !== 'string' && !stringArray(b.stop, 16)) return false;
  if (b.user !== undefined && !(typeof b.user === 'string' && b.user.length <= 512)) return false;
  return true;
}
