/**
 * Test helpers for stream translators: feed a raw upstream stream (SSE or NDJSON bytes) through
 * the gateway's decoder and a translator, and assemble the OpenAI chunks the way a client does.
 */
import { NdjsonDecoder, SseDecoder } from '../../src/gateway/sse.js';
import type { StreamOutput, StreamTranslator } from '../../src/providers/types.js';

/** Decode `bytes` (in chunks of `chunkSize`) and translate every event; includes `end()`. */
export function translateStream(t: StreamTranslator, bytes: Uint8Array, format: 'sse' | 'ndjson', chunkSize = 17): StreamOutput[] {
  const decoder = format === 'sse' ? new SseDecoder() : new NdjsonDecoder();
  const out: StreamOutput[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) {
    for (const ev of decoder.push(bytes.subarray(i, i + chunkSize))) out.push(...t.push(ev));
  }
  for (const ev of decoder.end()) out.push(...t.push(ev));
  out.push(...t.end());
  return out;
}

export interface AssembledToolCall { index: number; id?: string; type?: string; name: string; arguments: string }

/** What an OpenAI client makes of a list of chunks. */
export interface Assembled {
  content: string;
  role?: string;
  toolCalls: AssembledToolCall[];
  finishReason: string | null;
  usage: any;
  usageChunks: number;
  errors: StreamOutput[];
  chunks: any[];
}

/** Accumulate chunk deltas by choice 0 and tool-call `index`, as the OpenAI SDK does. */
export function assemble(outputs: StreamOutput[]): Assembled {
  const a: Assembled = { content: '', toolCalls: [], finishReason: null, usage: undefined, usageChunks: 0, errors: [], chunks: [] };
  const byIndex = new Map<number, AssembledToolCall>();
  for (const o of outputs) {
    if (o.kind === 'error') { a.errors.push(o); continue; }
    const chunk = JSON.parse(o.data);
    a.chunks.push(chunk);
    if (o.usageOnly) {
      if (chunk.choices.length !== 0) throw new Error('usage-only chunk with choices');
      a.usageChunks++;
      a.usage = chunk.usage;
      continue;
    }
    if (chunk.usage) throw new Error('usage on a chunk not marked usageOnly');
    for (const choice of chunk.choices) {
      const d = choice.delta ?? {};
      if (d.role) a.role = d.role;
      if (typeof d.content === 'string') a.content += d.content;
      for (const tc of d.tool_calls ?? []) {
        let call = byIndex.get(tc.index);
        if (!call) { call = { index: tc.index, name: '', arguments: '' }; byIndex.set(tc.index, call); }
        if (tc.id) call.id = tc.id;
        if (tc.type) call.type = tc.type;
        if (tc.function?.name) call.name += tc.function.name;
        if (tc.function?.arguments) call.arguments += tc.function.arguments;
      }
      if (choice.finish_reason) a.finishReason = choice.finish_reason;
    }
  }
  a.toolCalls = [...byIndex.values()].sort((x, y) => x.index - y.index);
  return a;
}
