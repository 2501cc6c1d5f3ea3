/** What every gateway handler needs, built once by the composition root. */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { UsageSink } from '../metering/usage.js';
import type { PriceTable } from '../metering/prices.js';
import type { ModelCatalog, Route } from './catalog.js';
import { modelAllowed } from './catalog.js';
import type { UpstreamClient } from './upstream.js';
import { ApiError } from '../errors.js';
import type { ApiKey } from '../keys/types.js';
import type { Limiter } from '../limits/limiter.js';
import type { Admission } from '../limits/admission.js';

export interface GatewayDeps {
  catalog: ModelCatalog;
  upstream: UpstreamClient;
  usage: UsageSink;
  prices: PriceTable;
  /** Rate limits, budgets and plan quotas (see gateway/limited.ts). */
  limiter: Limiter;
  log: FastifyBaseLogger;
}

/**
 * Backbone's id for one gateway request: the usage row's id and `x-request-id`. A UUIDv7 (RFC 9562)
 * written as 32 hex digits: the first 48 bits are the Unix time in ms, the rest random. Ids made
 * in time order land at the end of the usage table's primary-key index instead of at a random
 * page (on SQLite a random v4 id made each row cost ~2.8x the insert time: 26 vs 9.4 µs).
 */
export function newRequestId(now = Date.now()): string {
  const v4 = randomUUID(); // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx, V the variant: keep it, set version 7
  return now.toString(16).padStart(12, '0').slice(-12) + '7' + v4.slice(15, 18) + v4.slice(19, 23) + v4.slice(24);
}

/** Check the key's model allow-list, then resolve the model (and its fallbacks) to routes. */
export async function routesFor(deps: GatewayDeps, key: ApiKey, model: string): Promise<Route[]> {
  if (!modelAllowed(key.allowedModels, model)) {
    throw new ApiError('model_not_allowed', `This API key may not use the model '${model}'`, { param: 'model' });
  }
  const { route, fallbacks } = await deps.catalog.resolve(model, key.orgId);
  return [route, ...fallbacks.filter((f) => modelAllowed(key.allowedModels, f.requestedModel))];
}

export function fallbackLogger(deps: GatewayDeps, requestId: string) {
  return (from: Route, err: ApiError) =>
    deps.log.warn({ requestId, provider: from.provider, model: from.requestedModel, code: err.code }, 'provider failed; trying the next fallback');
}

/** One JSON gateway request as its handler sees it, after authentication and admission. */
export interface GatewayCall {
  /** The parsed JSON body (undefined when it was empty); the handler validates it. */
  body: unknown;
  key: ApiKey;
  /** The client's response: watched for the client going away; a stream is written to it directly. */
  raw: ServerResponse;
  admission: Admission;
}

/**
 * A JSON answer for the HTTP front to send (status 200), or `null` when the handler already wrote
 * the response itself (a stream). `sent` runs once the answer is written or failed to be: what a
 * request records about itself (usage, limits) waits until the client has its bytes.
 */
export type GatewayAnswer = { body: unknown; headers: Record<string, string>; sent?: () => void } | null;

export type GatewayHandler = (call: GatewayCall) => Promise<GatewayAnswer>;
