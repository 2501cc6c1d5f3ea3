/**
 * Anthropic Messages stream -> OpenAI `chat.completion.chunk`s, with explicit per-stream state.
 *
 * Anthropic event order: message_start (input usage, incl. cache fields) -> per content block:
 * content_block_start, content_block_delta*, content_block_stop -> message_delta (stop_reason,
 * cumulative output_tokens) -> message_stop; `ping` anywhere; `error` may arrive after the 200.
 *
 * Tool calls: each `tool_use` block gets its own OpenAI tool-call index 0, 1, 2... counted over
 * tool_use blocks only. Anthropic's block `index` also counts text and thinking blocks, and peers
 * that sent `index: 0` for every call made clients glue all arguments into one call.
 */
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { NormalizedUsage, SseEvent, StreamOutput, StreamTranslator, TranslateContext } from '../types.js';
import { AnthropicTranslationError, mapAnthropicStreamError } from './error.js';
import { toFinishReason, type OpenAIFinishReason } from './finish-reason.js';
import { completionId } from './ids.js';
import { parseStreamEvent } from './parse.js';
import { normalizeUsage, toOpenAIUsage } from './usage.js';
import type { AnthropicStreamEvent, AnthropicUsage } from './wire.js';

type Delta = ChatCompletionChunk.Choice.Delta;

/** One stream's translation state. Create one per upstream response via `anthropicStream(ctx)`. */
export class AnthropicStreamTranslator implements StreamTranslator {
  private messageId = '';
  /** Anthropic content block index -> OpenAI tool-call index, for tool_use blocks only. */
  private readonly toolIndexByBlock = new Map<number, number>();
  private nextToolIndex = 0;
  private usageSoFar: Partial<AnthropicUsage> | undefined;
  private finish: OpenAIFinishReason | null = null;
  private roleSent = false;
  private finishSent = false;
  /** message_stop, an error event, or end() seen: later events are ignored. */
  private done = false;
  private contentStarted = false;

  constructor(private readonly ctx: TranslateContext) {}

  get usage(): NormalizedUsage | undefined {
    return this.usageSoFar ? normalizeUsage(this.usageSoFar) : undefined;
  }

  get finishReason(): string | null {
    return this.finish;
  }

  get started(): boolean {
    return this.contentStarted;
  }

  push(event: SseEvent): StreamOutput[] {
    if (this.done || event.data.trim() === '') return [];
    let ev: AnthropicStreamEvent;
    try {
      ev = parseStreamEvent(event.data);
    } catch (err) {
      if (!(err instanceof AnthropicTranslationError)) throw err;
      this.done = true;
      return [{ kind: 'error', error: err.error }];
    }
    return this.translate(ev);
  }

  end(): StreamOutput[] {
    if (this.done) return [];
    this.done = true;
    // The body ended without message_stop. With a stop reason already known only the marker was
    // lost; without one the answer is truncated, and must not look like a complete success.
    if (this.finish === null) {
      return [{ kind: 'error', error: AnthropicTranslationError.badUpstream('stream ended before the message was complete').error }];
    }
    return this.closing();
  }

  private translate(ev: AnthropicStreamEvent): StreamOutput[] {
    switch (ev.type) {
      case 'message_start':
        this.messageId = ev.id;
        this.mergeUsage(ev.usage);
        return this.open();
      case 'content_block_start':
        if (ev.block.type === 'text') return ev.block.text ? this.content({ content: ev.block.text }) : [];
        if (ev.block.type === 'tool_use') {
          const index = this.nextToolIndex++;
          this.toolIndexByBlock.set(ev.index, index);
          return this.content({ tool_calls: [{ index, id: ev.block.id, type: 'function', function: { name: ev.block.name, arguments: '' } }] });
        }
        return []; // thinking and server-tool blocks have no OpenAI chat equivalent
      case 'content_block_delta': {
        const d = ev.delta;
        if (d.type === 'text_delta') return d.text ? this.content({ content: d.text }) : [];
        if (d.type === 'input_json_delta') {
          const index = this.toolIndexByBlock.get(ev.index);
          if (index === undefined || d.partial_json === '') return [];
          return this.content({ tool_calls: [{ index, function: { arguments: d.partial_json } }] });
        }
        return []; // thinking_delta, signature_delta, citations_delta
      }
      case 'message_delta':
        this.mergeUsage(ev.usage);
        if (ev.stopReason === null) return [];
        this.finish = toFinishReason(ev.stopReason);
        return this.finishChunk();
      case 'message_stop':
        this.done = true;
        return this.closing();
      case 'error':
        this.done = true;
        return [{ kind: 'error', error: mapAnthropicStreamError(ev.error) }];
      case 'content_block_stop':
      case 'ping':
      case 'unknown':
        return [];
    }
  }

  /** Later events repeat or complete earlier counts (output_tokens is cumulative): last value wins. */
  private mergeUsage(u: Partial<AnthropicUsage>): void {
    if (Object.keys(u).length === 0) return;
    this.usageSoFar = { ...this.usageSoFar, ...u };
  }

  private chunk(delta: Delta, finish: OpenAIFinishReason | null): StreamOutput {
    const body: ChatCompletionChunk = {
      id: completionId(this.messageId, this.ctx),
      object: 'chat.completion.chunk',
      created: this.ctx.created,
      model: this.ctx.requestedModel,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    };
    return { kind: 'chunk', data: JSON.stringify(body) };
  }

  /** The first chunk, as OpenAI sends it: the role and an empty content. */
  private open(): StreamOutput[] {
    if (this.roleSent) return [];
    this.roleSent = true;
    return [this.chunk({ role: 'assistant', content: '' }, null)];
  }

  private content(delta: Delta): StreamOutput[] {
    this.contentStarted = true;
    return [...this.open(), this.chunk(delta, null)];
  }

  private finishChunk(): StreamOutput[] {
    if (this.finishSent) return [];
    this.finishSent = true;
    return [...this.open(), this.chunk({}, this.finish ?? 'stop')];
  }

  /** Finish chunk (if message_delta did not bring one) and the one usage-only chunk. */
  private closing(): StreamOutput[] {
    if (this.finish === null) this.finish = 'stop';
    const out = this.finishChunk();
    const usage = this.usage;
    if (usage) {
      const body: ChatCompletionChunk = {
        id: completionId(this.messageId, this.ctx),
        object: 'chat.completion.chunk',
        created: this.ctx.created,
        model: this.ctx.requestedModel,
        choices: [],
        usage: toOpenAIUsage(usage),
      };
      out.push({ kind: 'chunk', data: JSON.stringify(body), usageOnly: true });
    }
    return out;
  }
}

/** Create the translator for one successful streaming response. */
export function anthropicStream(ctx: TranslateContext): StreamTranslator {
  return new AnthropicStreamTranslator(ctx);
}
