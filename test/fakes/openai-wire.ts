/**
 * OpenAI's wire format, shared by the OpenAI and Azure OpenAI fakes: chat completions (whole and
 * streamed), embeddings, transcriptions, error bodies. Scenario by the last user message:
 * `[tools]` -> two tool calls, `[length]` -> cut at the token limit, `[error]` -> an error event in
 * the middle of a stream, anything else -> `Hello from <provider>!`. Usage is fixed (FAKE_USAGE).
 */
import type { FakeContext } from './server.js';
import { lastUserText } from './server.js';

/** The usage every fake chat answer reports: 12 prompt tokens (4 of them cached), 5 completion. */
export const FAKE_USAGE = Object.freeze({
  prompt_tokens: 12,
  completion_tokens: 5,
  total_tokens: 17,
  prompt_tokens_details: { cached_tokens: 4, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
});

/** Arguments of the two tool calls of the `[tools]` scenario. */
export const FAKE_TOOL_ARGS = ['{"location":"Paris"}', '{"timezone":"Europe/Paris"}'] as const;

export const FAKE_CREATED = 1_735_689_600;

/** The plain answer of a fake. */
export const replyText = (provider: string): string => `Hello from ${provider}!`;

export type Scenario = 'text' | 'tools' | 'length' | 'error';

/** Pick the scenario from an OpenAI- or Ollama-shaped request body. */
export function scenarioOf(body: any): Scenario {
  const text = lastUserText(body?.messages);
  if (text.includes('[tools]')) return 'tools';
  if (text.includes('[length]')) return 'length';
  if (text.includes('[error]')) return 'error';
  return 'text';
}

/** The first two function names in the request's tools, else get_weather and get_time. */
export function toolNames(body: any): [string, string] {
  const names = Array.isArray(body?.tools) ? body.tools.map((t: any) => t?.function?.name).filter((n: unknown) => typeof n === 'string') : [];
  return [names[0] ?? 'get_weather', names[1] ?? 'get_time'];
}

/** Text pieces of the answer, as a stream would deliver them. */
export function replyPieces(provider: string, scenario: Scenario): string[] {
  return scenario === 'length' ? ['Hello', ' from'] : ['Hello', ' from', ` ${provider}`, '!'];
}

export interface ChatWireOptions {
  /** Name used in the reply text. */
  provider: string;
  /** Azure: content filter annotations and the leading `prompt_filter_results` chunk. */
  azure?: boolean;
}

const SAFE = { filtered: false, severity: 'safe' };
const CONTENT_FILTER_RESULTS = { hate: SAFE, self_harm: SAFE, sexual: SAFE, violence: SAFE };
const PROMPT_FILTER_RESULTS = [{ prompt_index: 0, content_filter_results: CONTENT_FILTER_RESULTS }];

/** A non-streaming `chat.completion`. */
export function chatCompletion(body: any, opts: ChatWireOptions): Record<string, unknown> {
  const scenario = scenarioOf(body);
  const [a, b] = toolNames(body);
  const message: Record<string, unknown> = scenario === 'tools'
    ? {
        role: 'assistant', content: null, refusal: null, annotations: [],
        tool_calls: [
          { id: 'call_fake_0', type: 'function', function: { name: a, arguments: FAKE_TOOL_ARGS[0] } },
          { id: 'call_fake_1', type: 'function', function: { name: b, arguments: FAKE_TOOL_ARGS[1] } },
        ],
      }
    : { role: 'assistant', content: replyPieces(opts.provider, scenario).join(''), refusal: null, annotations: [] };
  const choice: Record<string, unknown> = {
    index: 0, message, logprobs: null,
    finish_reason: scenario === 'tools' ? 'tool_calls' : scenario === 'length' ? 'length' : 'stop',
  };
  if (opts.azure) choice.content_filter_results = CONTENT_FILTER_RESULTS;
  const out: Record<string, unknown> = {
    id: 'chatcmpl-fake', object: 'chat.completion', created: FAKE_CREATED, model: body?.model ?? 'gpt-4o-mini',
    choices: [choice], usage: FAKE_USAGE, system_fingerprint: 'fp_fake',
  };
  if (opts.azure) out.prompt_filter_results = PROMPT_FILTER_RESULTS;
  else out.service_tier = 'default';
  return out;
}

/** The SSE frames of a streamed answer, ending with `data: [DONE]`. Honours
 *  `stream_options.include_usage` as OpenAI does: `"usage":null` on every chunk, then one chunk
 *  with `choices: []` and the usage. */
export function chatStreamFrames(body: any, opts: ChatWireOptions): string[] {
  const scenario = scenarioOf(body);
  const includeUsage = body?.stream_options?.include_usage === true;
  const model = body?.model ?? 'gpt-4o-mini';
  const frames: string[] = [];
  const emit = (obj: unknown): void => { frames.push(`data: ${JSON.stringify(obj)}\n\n`); };
  const chunk = (delta: Record<string, unknown>, finish: string | null): Record<string, unknown> => {
    const choice: Record<string, unknown> = { index: 0, delta, logprobs: null, finish_reason: finish };
    if (opts.azure && (delta.content || finish)) choice.content_filter_results = finish ? {} : CONTENT_FILTER_RESULTS;
    const c: Record<string, unknown> = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: FAKE_CREATED, model, system_fingerprint: 'fp_fake', choices: [choice] };
    if (!opts.azure) c.service_tier = 'default';
    if (includeUsage) c.usage = null;
    return c;
  };
  if (opts.azure) {
    // Azure's first chunk: no choices, empty model, only the prompt's filter results.
    emit({ choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: PROMPT_FILTER_RESULTS });
  }
  if (scenario === 'tools') {
    const names = toolNames(body);
    emit(chunk({ role: 'assistant', content: null, refusal: null }, null));
    names.forEach((name, index) => {
      emit(chunk({ tool_calls: [{ index, id: `call_fake_${index}`, type: 'function', function: { name, arguments: '' } }] }, null));
      const args = FAKE_TOOL_ARGS[index]!;
      const mid = Math.floor(args.length / 2);
      for (const part of [args.slice(0, mid), args.slice(mid)]) emit(chunk({ tool_calls: [{ index, function: { arguments: part } }] }, null));
    });
    emit(chunk({}, 'tool_calls'));
  } else {
    emit(chunk({ role: 'assistant', content: '', refusal: null }, null));
    const pieces = replyPieces(opts.provider, scenario);
    for (const p of pieces) emit(chunk({ content: p }, null));
    if (scenario === 'error') {
      // what OpenAI sends when the generation fails after the 200 (then it closes the stream)
      frames.push(`data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null } })}\n\n`);
      return frames;
    }
    emit(chunk({}, scenario === 'length' ? 'length' : 'stop'));
  }
  if (includeUsage) {
    const last: Record<string, unknown> = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: FAKE_CREATED, model, system_fingerprint: 'fp_fake', choices: [], usage: FAKE_USAGE };
    if (!opts.azure) last.service_tier = 'default';
    emit(last);
  }
  frames.push('data: [DONE]\n\n');
  return frames;
}

/** OpenAI's error body. */
export function openaiErrorBody(status: number, message: string, code: string | null = null, param: string | null = null): unknown {
  const type = status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type, param, code } };
}

/** A deterministic unit vector for a text: FNV-1a seed, xorshift stream. */
export function embeddingVector(text: string, dims = 8): number[] {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  const v: number[] = [];
  for (let i = 0; i < dims; i++) {
    h ^= h << 13; h >>>= 0; h ^= h >>> 17; h ^= h << 5; h >>>= 0;
    v.push((h / 0xffffffff) * 2 - 1);
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => Math.fround(x / norm));
}

/** An embeddings list for an OpenAI-shaped request (string, strings, token ids or token-id lists). */
export function embeddingsResponse(body: any): Record<string, unknown> {
  const raw = body?.input;
  const inputs: unknown[] = Array.isArray(raw) && (raw.length === 0 || typeof raw[0] !== 'number') ? raw : [raw];
  const dims = typeof body?.dimensions === 'number' ? body.dimensions : 8;
  let tokens = 0;
  const data = inputs.map((input, index) => {
    const key = typeof input === 'string' ? input : JSON.stringify(input);
    tokens += typeof input === 'string' ? input.split(/\s+/).filter(Boolean).length : Array.isArray(input) ? input.length : 1;
    const vec = embeddingVector(key, dims);
    const embedding = body?.encoding_format === 'base64' ? Buffer.from(new Float32Array(vec).buffer).toString('base64') : vec;
    return { object: 'embedding', index, embedding };
  });
  return { object: 'list', data, model: body?.model ?? 'text-embedding-3-small', usage: { prompt_tokens: tokens, total_tokens: tokens } };
}

/** Answer a multipart transcription request per `response_format`. Returns false (and answers
 *  400 with `errorBody`) when the form lacks `file` (or `model`, when `requireModel`). */
export async function answerTranscription(
  ctx: FakeContext,
  text: string,
  errorBody: (status: number, message: string, param: string) => unknown,
  requireModel = true,
): Promise<void> {
  const { res, recorded } = ctx;
  const ct = String(recorded.headers['content-type'] ?? '');
  let form: FormData;
  try {
    form = await new Request('http://fake.local/', { method: 'POST', headers: { 'content-type': ct }, body: recorded.body }).formData();
  } catch {
    return sendText(res, 400, 'application/json', JSON.stringify(errorBody(400, 'Could not parse multipart form', 'file')));
  }
  const file = form.get('file');
  if (!file || typeof file === 'string') return sendText(res, 400, 'application/json', JSON.stringify(errorBody(400, "Missing required parameter: 'file'.", 'file')));
  if (requireModel && !form.get('model')) return sendText(res, 400, 'application/json', JSON.stringify(errorBody(400, "Missing required parameter: 'model'.", 'model')));
  const format = String(form.get('response_format') ?? 'json');
  const granularities = form.getAll('timestamp_granularities[]').map(String);
  const duration = 1.5;
  switch (format) {
    case 'text':
      return sendText(res, 200, 'text/plain; charset=utf-8', `${text}\n`);
    case 'srt':
      return sendText(res, 200, 'text/plain; charset=utf-8', `1\n00:00:00,000 --> 00:00:01,500\n${text}\n\n`);
    case 'vtt':
      return sendText(res, 200, 'text/plain; charset=utf-8', `WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n${text}\n\n`);
    case 'verbose_json': {
      const out: Record<string, unknown> = {
        task: 'transcribe', language: 'english', duration, text,
        segments: [{ id: 0, seek: 0, start: 0, end: duration, text: ` ${text}`, tokens: [50364, 2425, 490], temperature: 0, avg_logprob: -0.2, compression_ratio: 0.8, no_speech_prob: 0.01 }],
        usage: { type: 'duration', seconds: 2 },
      };
      if (granularities.includes('word')) {
        const words = text.split(/\s+/);
        out.words = words.map((word, i) => ({ word: word.replace(/[^\p{L}\p{N}'-]/gu, ''), start: (i * duration) / words.length, end: ((i + 1) * duration) / words.length }));
      }
      return sendText(res, 200, 'application/json', JSON.stringify(out));
    }
    case 'json':
      return sendText(res, 200, 'application/json', JSON.stringify({ text, usage: { type: 'duration', seconds: 2 } }));
    default:
      return sendText(res, 400, 'application/json', JSON.stringify(errorBody(400, `Invalid response_format: ${format}`, 'response_format')));
  }
}

function sendText(res: FakeContext['res'], status: number, contentType: string, text: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}
