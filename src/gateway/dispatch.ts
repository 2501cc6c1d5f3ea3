/**
 * Send one logical call to a provider: translate for the route, authenticate, send with retries,
 * and on a retryable failure move on to the next fallback route. Only a 2xx response comes back;
 * anything else becomes the ApiError the client sees (the provider's status class preserved).
 */
import type { FormData } from 'undici';
import { ApiError, type ErrorCode } from '../errors.js';
import type { UpstreamCall, UpstreamErrorInfo } from '../providers/types.js';
import type { Route } from './catalog.js';
import type { UpstreamClient, UpstreamResponse } from './upstream.js';
import { ClientGone } from './client-gone.js';

export interface Dispatched {
  route: Route;
  res: UpstreamResponse;
}

/** Failures worth trying the next fallback for: the provider, not the request, is at fault. */
const FALLBACK_CODES = new Set(['rate_limit_exceeded', 'upstream_error', 'upstream_timeout']);

export async function dispatch(
  upstream: UpstreamClient,
  routes: Route[],
  build: (route: Route) => { call: UpstreamCall; form?: FormData },
  signal: ClientGone,
  onFallback?: (from: Route, err: ApiError) => void,
  /** The answer is read whole (not streamed to the client). */
  buffered = false,
): Promise<Dispatched> {
  let last: ApiError | undefined;
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!;
    const { call, form } = build(route); // a translation error (400) is the request's fault: no fallback
    const auth = await route.adapter.authHeaders(route.account);
    let err: ApiError;
    try {
      const headers = Object.assign({}, call.headers, auth);
      const res = await upstream.send(route.provider, { method: call.method, url: call.url, headers, body: call.body }, { signal, form, buffered });
      if (res.status >= 200 && res.status < 300) return { route, res };
      const text = await res.body.text().catch(() => '');
      err = toApiError(route.adapter.error(res.status, text, res.headers));
    } catch (e) {
      if (signal.aborted || !(e instanceof ApiError)) throw e;
      err = e;
    }
    last = err;
    if (i + 1 < routes.length && FALLBACK_CODES.has(err.code)) {
      onFallback?.(route, err);
      continue;
    }
    throw err;
  }
  throw last ?? new ApiError('upstream_error', 'No provider route was available');
}

export function toApiError(info: UpstreamErrorInfo): ApiError {
  return new ApiError(info.error.code as ErrorCode, info.error.message, {
    status: info.status,
    type: info.error.type,
    param: info.error.param ?? undefined,
    headers: info.retryAfter !== undefined ? { 'retry-after': String(info.retryAfter) } : {},
  });
}

/** Fires when the client goes away before the response is complete. */
export function clientGone(raw: import('node:http').ServerResponse): ClientGone {
  return new ClientGone(raw);
}
