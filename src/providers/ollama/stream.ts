/**
 * Ollama NDJSON chat stream -> OpenAI chat completion chunks.
 *
 * Each line is `{"message":{"role","content","tool_calls"?},"done":false}`; the last is
 * `{"done":true,"done_reason","prompt_eval_count","eval_count",...}`. A failure after the 200 is a
 * line `{"error":"..."}`. Ollama sends each tool call whole (arguments as an object) in one line,
 * so each becomes one delta carrying id, name and the full arguments string, with its own
 * `index` (0, 1, 2...) across the stream. Thinking text has no place in OpenAI's chunk and is
 * dropped (its tokens are still in `eval_count`).
 */
import { mapUpstreamError } from '../errors.js';
import { tryParseJson } from '../openai/json.js';
import type { ChatCompletionChunk, NormalizedUsage, SseEvent, StreamOutput, StreamTranslator, TranslateContext } from '../types.js';
import { completionId, finishReasonOf, ollamaUsage, readOllamaChunk, toolCallId } from './response.js';

type Delta = ChatCompletionChunk.Choice.Delta;

/** Per-stream state: tool-call count (next index), role sent, usage, finish reason. */
export class OllamaStreamTranslator implements StreamTranslator {
  usage: NormalizedUsage | undefined = undefined;
  finishReason: string | null = null;
  started = false;
  private toolCalls = 0;
  private roleSent = false;
  private done = false;
  private failed = false;
  /** `{"id":..,"object":..,"created":..,"model":..,"choices":[` — the same for every chunk, built once. */
  private readonly head: string;

  constructor(private readonly ctx: TranslateContext) {
    this.head = `{"id":${JSON.stringify(completionId(ctx))},"object":"chat.completion.chunk","created":${ctx.created},"model":${JSON.stringify(ctx.requestedModel)},"choices":[`;
  }

  push(event: SseEvent): StreamOutput[] {
    if (this.done || this.failed) return [];
    const chunk = readOllamaChunk(tryParseJson(event.data));
    if (!chunk) return [this.fail('the stream sent a line that is not JSON')];
    if (chunk.error !== undefined) return [this.fail(chunk.error)];

    const out: StreamOutput[] = [];
    const msg = chunk.message;
    if (msg && msg.content !== '') out.push(this.delta({ content: msg.content }));
    if (msg && msg.tool_calls.length > 0) {
      const calls = msg.tool_calls.map((c) => {
        const index = this.toolCalls++;
        return { index, id: toolCallId(c, this.ctx, index), type: 'function' as const, function: { name: c.function.name, arguments: JSON.stringify(c.function.arguments) } };
      });
      out.push(this.delta({ tool_calls: calls }));
    }
    if (chunk.done) {
      this.done = true;
      const reason = finishReasonOf(chunk.done_reason, this.toolCalls > 0);
      this.finishReason = reason;
      this.usage = ollamaUsage(chunk);
      const first = this.roleSent ? '{}' : '{"role":"assistant","content":""}';
      this.roleSent = true;
      out.push({ kind: 'chunk', data: `${this.head}{"index":0,"delta":${first},"logprobs":null,"finish_reason":"${reason}"}]}` });
      out.push({ kind: 'chunk', data: this.usageChunk(this.usage), usageOnly: true });
    }
    return out;
  }

  end(): StreamOutput[] {
    if (this.done || this.failed) return [];
    return [this.fail('the stream ended before the final "done" line')];
  }

  private delta(delta: Delta): StreamOutput {
    if (!this.roleSent) { delta = { role: 'assistant', ...delta }; this.roleSent = true; }
    this.started = true;
    return { kind: 'chunk', data: `${this.head}{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":null}]}` };
  }

  private usageChunk(u: NormalizedUsage): string {
    const usage = { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens };
    return `${this.head}],"usage":${JSON.stringify(usage)}}`;
  }

  private fail(message: string): StreamOutput {
    this.failed = true;
    return { kind: 'error', error: mapUpstreamError('ollama', 502, message).error };
  }
}
