/**
 * The default transport for connection checks: global `fetch` with a 10 s timeout. The gateway
 * may inject its own (pooled) one; the service only needs `ProbeFn`.
 */
import { ApiError } from '../errors.js';
import type { UpstreamCall } from '../providers/types.js';

/** Sends one upstream call; resolves with any HTTP answer, throws ApiError when there is none. */
export type ProbeFn = (call: UpstreamCall) => Promise<{ status: number; bodyText: string }>;

/** An error body is only read for its message; a hostile endpoint must not fill memory. */
const MAX_BODY_BYTES = 64 * 1024;

async function readCapped(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= MAX_BODY_BYTES) { await reader.cancel(); break; }
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8');
}

export function createFetchProbe(timeoutMs = 10_000): ProbeFn {
  return async (call) => {
    const origin = (() => { try { return new URL(call.url).origin; } catch { return 'the configured URL'; } })();
    try {
      const res = await fetch(call.url, {
        method: call.method,
        headers: call.headers,
        body: call.body,
        // Never follow a redirect: fetch would resend provider auth headers (api-key, x-api-key) to wherever it points.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: res.status, bodyText: await readCapped(res) };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      if (e.name === 'TimeoutError') throw new ApiError('upstream_timeout', `No answer from ${origin} within ${Math.round(timeoutMs / 1000)} s`);
      throw new ApiError('upstream_error', `Could not connect to ${origin}${e.cause?.code ? ` (${e.cause.code})` : ''}`);
    }
  };
}

/** global fetch, 10 s. */
export const fetchProbe: ProbeFn = createFetchProbe();
