/**
 * Gemini `streamGenerateContent?alt=sse` -> OpenAI `chat.completion.chunk`s.
 *
 * Each SSE event is a whole `GenerateContentResponse` holding only the new parts; there is no
 * `[DONE]` (the stream just ends). Gemini sends function calls whole, never as fragments, and
 * often several in one event, so each call becomes one tool_calls delta with its own index
 * (0, 1, 2... per choice, in order of appearance across the stream; the classic gateway bug is to
 * send index 0 for every call, which makes clients glue the calls together). `usageMetadata`
 * arrives on several events with running counts; the last one is final and is emitted once, at
 * end(), as the usage-only chunk. A mid-stream failure arrives as `data: {"error":{...}}`.
 */
import type { ChatCompletionChunk, NormalizedUsage, SseEvent, StreamOutput, StreamTranslator, TranslateContext } from '../types.js';
import { streamErrorBody } from './error.js';
import { completionId, mapFinishReason, normalizeUsage, openAiUsage } from './chat-response.js';
import { makeToolCallId } from './tool-call-id.js';
import { findGoogleError, narrowGenerateContentResponse, type GeminiCandidate } from './wire.js';

type ChunkChoice = ChatCompletionChunk.Choice;

interface ChoiceState {
  /** Tool calls emitted so far: the next call's index. */
  toolCalls: number;
  finished: boolean;
}

/** Stream translator with explicit per-stream state. */
export class GeminiStreamTranslator implements StreamTranslator {
  private readonly choices = new Map<number, ChoiceState>();
  private _usage: NormalizedUsage | undefined;
  private _finishReason: string | null = null;
  private _started = false;
  private ended = false;

  constructor(private readonly ctx: TranslateContext) {}

  get usage(): NormalizedUsage | undefined { return this._usage; }
  get finishReason(): string | null { return this._finishReason; }
  get started(): boolean { return this._started; }

  push(event: SseEvent): StreamOutput[] {
    if (this.ended || !event.data.trim()) return [];
    let json: unknown;
    try {
      json = JSON.parse(event.data);
    } catch {
      return [{ kind: 'error', error: { message: 'vertex-ai: malformed stream event', type: 'api_error', code: 'upstream_error' } }];
    }
    const err = findGoogleError(json);
    if (err) return [{ kind: 'error', error: streamErrorBody(err) }];

    const res = narrowGenerateContentResponse(json);
    if (res.usage) this._usage = normalizeUsage(res.usage);
    const out: StreamOutput[] = [];
    for (const cand of res.candidates) out.push(...this.candidate(cand));
    if (res.candidates.length === 0 && res.blockReason) {
      // Blocked prompt: an empty answer that says why (see chat-response.ts).
      out.push(...this.opening(0), this.finish(0, 'content_filter'));
    }
    return out;
  }

  end(): StreamOutput[] {
    if (this.ended) return [];
    this.ended = true;
    const out: StreamOutput[] = [];
    // A stream that ended cleanly without a finishReason still gets its finish chunk.
    for (const [index, state] of this.choices) {
      if (!state.finished) out.push(this.finish(index, mapFinishReason(undefined, state.toolCalls > 0)));
    }
    if (this._usage) {
      out.push({ kind: 'chunk', usageOnly: true, data: this.chunk([], openAiUsage(this._usage)) });
    }
    return out;
  }

  private chunk(choices: ChunkChoice[], usage?: ChatCompletionChunk['usage']): string {
    const body: ChatCompletionChunk = {
      id: completionId(this.ctx),
      object: 'chat.completion.chunk',
      created: this.ctx.created,
      model: this.ctx.requestedModel,
      choices,
      ...(usage ? { usage } : {}),
    };
    return JSON.stringify(body);
  }

  private delta(index: number, delta: ChunkChoice['delta']): StreamOutput {
    return { kind: 'chunk', data: this.chunk([{ index, delta, finish_reason: null }]) };
  }

  /** The first chunk of a choice: `delta: {role: 'assistant', content: ''}`. */
  private opening(index: number): StreamOutput[] {
    if (this.choices.has(index)) return [];
    this.choices.set(index, { toolCalls: 0, finished: false });
    return [this.delta(index, { role: 'assistant', content: '' })];
  }

  private finish(index: number, reason: ChunkChoice['finish_reason']): StreamOutput {
    const state = this.choices.get(index);
    if (state) state.finished = true;
    this._finishReason = reason;
    return { kind: 'chunk', data: this.chunk([{ index, delta: {}, finish_reason: reason }]) };
  }

  private candidate(cand: GeminiCandidate): StreamOutput[] {
    const out = this.opening(cand.index);
    const state = this.choices.get(cand.index)!;
    if (state.finished) return out;
    let text = '';
    const flushText = (): void => {
      if (!text) return;
      out.push(this.delta(cand.index, { content: text }));
      this._started = true;
      text = '';
    };
    for (const part of cand.parts) {
      if (part.thought) continue;
      if (part.text !== undefined) text += part.text;
      if (part.functionCall) {
        flushText();
        const index = state.toolCalls++;
        out.push(this.delta(cand.index, {
          tool_calls: [{
            index,
            id: makeToolCallId(this.ctx.requestId, cand.index, index, part.thoughtSignature),
            type: 'function',
            function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) },
          }],
        }));
        this._started = true;
      }
    }
    flushText();
    if (cand.finishReason) out.push(this.finish(cand.index, mapFinishReason(cand.finishReason, state.toolCalls > 0)));
    return out;
  }
}
