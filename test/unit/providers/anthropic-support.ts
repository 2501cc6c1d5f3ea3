/** Shared helpers for the anthropic provider tests: fixtures, a fixture SSE splitter, a context. */
import { readFileSync } from 'node:fs';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { SseEvent, StreamOutput, StreamTranslator, TranslateContext } from '../../../src/providers/types.js';

const dir = new URL('../../fixtures/anthropic/', import.meta.url);

export const fixtureText = (name: string): string => readFileSync(new URL(name, dir), 'utf8');
export const fixtureJson = (name: string): unknown => JSON.parse(fixtureText(name));

export const ctx: TranslateContext = {
  requestedModel: 'anthropic/claude-sonnet-4-5',
  upstreamModel: 'claude-sonnet-4-5',
  requestId: 'req_test_1',
  created: 1_700_000_000,
};

/** Split a recorded `event: x\ndata: {...}\n\n` stream into events (fixtures only; the gateway has
 *  its own incremental decoder). */
export function sseEvents(text: string): SseEvent[] {
  return text.split(/\r?\n\r?\n/).filter((b) => b.trim() !== '').map((block) => {
    const ev: SseEvent = { data: '' };
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) ev.event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    ev.data = data.join('\n');
    return ev;
  });
}

/** Feed every event, then end(); return all outputs. */
export function run(t: StreamTranslator, events: SseEvent[]): StreamOutput[] {
  return [...events.flatMap((e) => t.push(e)), ...t.end()];
}

export function chunksOf(outputs: StreamOutput[]): Array<{ chunk: ChatCompletionChunk; usageOnly: boolean }> {
  return outputs.flatMap((o) => (o.kind === 'chunk' ? [{ chunk: JSON.parse(o.data) as ChatCompletionChunk, usageOnly: o.usageOnly === true }] : []));
}
