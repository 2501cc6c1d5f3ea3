/**
 * Pipes a provider's stream to the client as OpenAI SSE: decode once (SSE or NDJSON), translate
 * typed events, write with backpressure (a slow client slows the upstream read, nothing piles up
 * in memory), emit `data: [DONE]` exactly once, and turn a mid-stream failure into an
 * `{"error":{...}}` event followed by the end of the stream.
 */
import type { ClientGone } from './client-gone.js';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { ErrorBody, StreamOutput, StreamTranslator } from '../providers/types.js';
import { NdjsonDecoder, SseDecoder } from './sse.js';
import { classify, type UpstreamResponse } from './upstream.js';
import type { Meter } from './meter.js';
import { CLIENT_CLOSED } from './meter.js';

/** Headers that keep proxies from buffering or compressing the event stream. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

export interface PipeOptions {
  raw: ServerResponse;
  res: UpstreamResponse;
  provider: string;
  translator: StreamTranslator;
  format: 'sse' | 'ndjson';
  /** Forward the usage-only final chunk (the client asked for `stream_options.include_usage`). */
  includeUsage: boolean;
  signal: ClientGone;
  meter: Meter;
  headers: Record<string, string>;
}

export async function pipeStream(o: PipeOptions): Promise<void> {
  const { raw, translator, meter } = o;
  raw.writeHead(200, { ...SSE_HEADERS, ...o.headers });
  const decoder = o.format === 'sse' ? new SseDecoder() : new NdjsonDecoder();
  let failure: ErrorBody | undefined;

  const write = async (text: string): Promise<void> => {
    if (!raw.write(text)) await once(raw, 'drain', { signal: o.signal.signal });
  };
  const render = (outputs: StreamOutput[]): string => {
    let buf = '';
    for (const out of outputs) {
      if (out.kind === 'error') {
        failure ??= out.error;
        buf += `data: ${JSON.stringify({ error: out.error })}\n\n`;
        break; // nothing follows an error
      }
      if (out.usageOnly && !o.includeUsage) continue;
      buf += `data: ${out.data}\n\n`;
    }
    if (translator.started) meter.firstToken();
    return buf;
  };

  try {
    for await (const chunk of o.res.body) {
      let buf = '';
      for (const event of decoder.push(chunk as Buffer)) {
        buf += render(translator.push(event));
        if (failure) break;
      }
      if (buf) await write(buf);
      if (failure) break;
    }
    if (!failure) {
      let buf = '';
      for (const event of decoder.end()) buf += render(translator.push(event));
      if (!failure) buf += render(translator.end());
      if (!failure) buf += 'data: [DONE]\n\n';
      await write(buf);
    }
  } catch (err) {
    if (o.signal.aborted) {
      // The client went away: the upstream request was cancelled with it. Record what was used.
      meter.usage(translator.usage);
      meter.finish(CLIENT_CLOSED, 'client_closed_request');
      o.res.body.destroy();
      return;
    }
    const e = classify(o.provider, err);
    failure = e.toJSON().error;
    if (raw.writable) raw.write(`data: ${JSON.stringify({ error: failure })}\n\n`);
  }
  if (failure) o.res.body.destroy();
  raw.end();
  meter.usage(translator.usage);
  meter.finish(200, failure ? failure.code : null);
}
