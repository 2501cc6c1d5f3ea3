/**
 * Pipes a provider's stream to the client as OpenAI SSE: decode once (SSE or NDJSON), translate
 * typed events, write with backpressure (a slow client slows the upstream read, nothing piles up
 * in memory), emit `data: [DONE]` exactly once, and turn a mid-stream failure into an
 * `{"error":{...}}` event followed by the end of the stream.
 */
import type { ClientGone } from './client-gone.js';
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

/**
 * Resolves once the client's response has ended (or the client went away) and the Meter has the
 * request's usage. Everything runs in the upstream body's callbacks: each chunk is decoded,
 * translated and written in the call that received it.
 */
export function pipeStream(o: PipeOptions): Promise<void> {
  const { raw, translator, meter, signal } = o;
  const body = o.res.body;
  raw.writeHead(200, { ...SSE_HEADERS, ...o.headers });
  const decoder = o.format === 'sse' ? new SseDecoder() : new NdjsonDecoder();
  let failure: ErrorBody | undefined;

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

  return new Promise<void>((resolve) => {
    let settled = false;
    // A slow client pauses the upstream read (sink.data returns false); its 'drain' resumes it.
    const onDrain = () => body.resume();
    raw.on('drain', onDrain);
    const settle = (status: number, code: string | null): void => {
      settled = true;
      raw.removeListener('drain', onDrain);
      meter.usage(translator.usage);
      meter.finish(status, code);
      resolve();
    };
    const end = (): void => {
      if (settled) return;
      if (failure) body.destroy();
      raw.end();
      settle(200, failure ? failure.code : null);
    };
    const fail = (err: unknown): void => {
      if (settled) return;
      if (signal.aborted) {
        // The client went away: the upstream request was cancelled with it. Record what was used.
        body.destroy();
        settle(CLIENT_CLOSED, 'client_closed_request');
        return;
      }
      failure = classify(o.provider, err).toJSON().error;
      if (raw.writable) raw.write(`data: ${JSON.stringify({ error: failure })}\n\n`);
      end();
    };

    body.pipe({
      data(chunk) {
        if (settled) return false;
        try {
          let buf = '';
          for (const event of decoder.push(chunk)) {
            buf += render(translator.push(event));
            if (failure) break;
          }
          const more = buf.length === 0 || raw.write(buf);
          if (failure) end();
          return more && !failure;
        } catch (err) {
          fail(err);
          return false;
        }
      },
      end() {
        if (settled) return;
        try {
          let buf = '';
          for (const event of decoder.end()) buf += render(translator.push(event));
          if (!failure) buf += render(translator.end());
          if (!failure) buf += 'data: [DONE]\n\n';
          raw.write(buf);
          end();
        } catch (err) {
          fail(err);
        }
      },
      error: fail,
    });
  });
}
