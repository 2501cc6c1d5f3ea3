/**
 * OpenAI chat stream -> OpenAI chat stream, cheaply. Each upstream `data` string is forwarded
 * unchanged; only chunks that can carry something the gateway needs (usage, a finish_reason, an
 * error, a droppable empty chunk) are parsed, found with substring checks on the raw text.
 *
 * Quirks handled:
 * - With `include_usage`, OpenAI sends `"usage":null` in every chunk and one final chunk with
 *   `choices: []` and the usage object; `finish_reason` is `null` in every chunk but the last.
 *   So the checks look at the value after the key, not just the key.
 * - Some compatible servers put `usage` on the last chunk that still has choices: that chunk is
 *   forwarded without it and a usage-only chunk is made at the end.
 * - Azure sends a first chunk with `choices: []` and only `prompt_filter_results` (and an empty
 *   `model`); it is dropped, since many clients read `choices[0]` of every chunk.
 * - `[DONE]` is swallowed (the gateway sends its own); `{"error":{...}}` mid-stream becomes an error.
 */
import { mapUpstreamError } from '../errors.js';
import type { NormalizedUsage, SseEvent, StreamOutput, StreamTranslator } from '../types.js';
import { isRecord, str, tryParseJson, type JsonObject } from './json.js';
import { normalizeOpenAIUsage } from './usage.js';

/**
 * Index of the first non-blank character of the value of any occurrence of `"key"` in `text`
 * for which `accept(char)` holds, else -1. JSON escapes quotes inside strings, so a model writing
 * `"usage"` in its answer does not match; a false match would only cost an extra parse.
 */
function findValue(text: string, key: string, accept: (c: number) => boolean): number {
  const needle = `"${key}"`;
  let at = text.indexOf(needle);
  while (at >= 0) {
    let i = at + needle.length;
    while (i < text.length && isBlank(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) === 58 /* : */) {
      i++;
      while (i < text.length && isBlank(text.charCodeAt(i))) i++;
      if (i < text.length && accept(text.charCodeAt(i))) return i;
    }
    at = text.indexOf(needle, at + needle.length);
  }
  return -1;
}

const isBlank = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;
const isObjectStart = (c: number): boolean => c === 123; // {
const isNotNull = (c: number): boolean => c !== 110; // n(ull)
const isArrayStart = (c: number): boolean => c === 91; // [

/** True when some `"key":"..."` has a non-empty string value. */
function hasNonEmptyString(text: string, key: string): boolean {
  const i = findValue(text, key, (c) => c === 34);
  return i >= 0 && text.charCodeAt(i + 1) !== 34;
}

/** Per-stream state for one OpenAI-shaped upstream stream. */
export class OpenAIStreamTranslator implements StreamTranslator {
  usage: NormalizedUsage | undefined = undefined;
  finishReason: string | null = null;
  started = false;
  private sawDone = false;
  /** An error was emitted: the stream is over for the client. */
  private failed = false;
  private usageEmitted = false;
  /** Envelope fields of the last parsed chunk, to build a usage-only chunk when needed. */
  private envelope: { id: string; created: number; model: string } | undefined;

  constructor(private readonly provider: string) {}

  push(event: SseEvent): StreamOutput[] {
    const data = event.data;
    if (data.length === 0 || this.sawDone || this.failed) return [];
    if (data.length < 16 && data.trim() === '[DONE]') { this.sawDone = true; return []; }

    if (event.event === 'error' || data.includes('"error"')) {
      const err = this.errorOf(data);
      if (err) { this.failed = true; return [err]; }
    }
    if (!this.started && (hasNonEmptyString(data, 'content') || hasNonEmptyString(data, 'refusal')
      || findValue(data, 'tool_calls', isArrayStart) >= 0 || findValue(data, 'function_call', isObjectStart) >= 0)) {
      this.started = true;
    }

    const hasUsage = findValue(data, 'usage', isObjectStart) >= 0;
    const hasFinish = findValue(data, 'finish_reason', isNotNull) >= 0;
    const maybeEmpty = data.includes('"choices":[]') || data.includes('prompt_filter_results');
    if (!hasUsage && !hasFinish && !maybeEmpty) return [{ kind: 'chunk', data }];

    const chunk = tryParseJson(data);
    if (!isRecord(chunk)) return [{ kind: 'chunk', data }];
    const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
    this.noteEnvelope(chunk);
    for (const c of choices) {
      if (isRecord(c) && typeof c.finish_reason === 'string') this.finishReason = c.finish_reason;
    }
    const usage = normalizeOpenAIUsage(chunk.usage);
    if (usage) this.usage = usage;
    if (choices.length === 0) {
      if (!usage) return []; // Azure's prompt_filter_results chunk, or an empty keep-alive chunk
      this.usageEmitted = true;
      return [{ kind: 'chunk', data, usageOnly: true }];
    }
    if (usage) {
      // usage riding on a chunk with choices: strip it here, re-emit it alone at the end
      const { usage: _drop, ...rest } = chunk;
      return [{ kind: 'chunk', data: JSON.stringify(rest) }];
    }
    return [{ kind: 'chunk', data }];
  }

  end(): StreamOutput[] {
    if (this.failed) return [];
    const out: StreamOutput[] = [];
    if (this.usage && !this.usageEmitted && this.envelope) {
      this.usageEmitted = true;
      out.push({ kind: 'chunk', data: this.usageChunk(this.envelope), usageOnly: true });
    }
    if (!this.sawDone && this.finishReason === null) {
      // A clean close without [DONE] or a finish_reason: the answer was cut off somewhere.
      out.push({ kind: 'error', error: mapUpstreamError(this.provider, 502, 'the stream ended before the response was complete').error });
    }
    return out;
  }

  private errorOf(data: string): StreamOutput | undefined {
    const json = tryParseJson(data);
    if (!isRecord(json) || Array.isArray(json.choices)) return undefined;
    const e = json.error;
    const message = isRecord(e) ? str(e.message) : typeof e === 'string' ? e : str(json.message);
    if (message === undefined && !isRecord(e)) return undefined;
    return { kind: 'error', error: mapUpstreamError(this.provider, 502, message).error };
  }

  private noteEnvelope(chunk: JsonObject): void {
    if (typeof chunk.id === 'string' && chunk.id && typeof chunk.model === 'string' && chunk.model) {
      this.envelope = { id: chunk.id, created: typeof chunk.created === 'number' ? chunk.created : 0, model: chunk.model };
    }
  }

  private usageChunk(env: { id: string; created: number; model: string }): string {
    const u = this.usage!;
    return JSON.stringify({
      id: env.id,
      object: 'chat.completion.chunk',
      created: env.created,
      model: env.model,
      choices: [],
      usage: {
        prompt_tokens: u.promptTokens,
        completion_tokens: u.completionTokens,
        total_tokens: u.promptTokens + u.completionTokens,
        prompt_tokens_details: { cached_tokens: u.cachedTokens },
        completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
      },
    });
  }
}
