/** `POST /embeddings`. */
import { z } from 'zod';
import { ApiError, invalidRequest } from '../errors.js';
import { parseInput } from '../keys/input.js';
import type { CreateEmbeddingResponse, EmbeddingCreateParams } from '../providers/types.js';
import { clientGone, dispatch } from './dispatch.js';
import { fallbackLogger, newRequestId, routesFor, type GatewayCall, type GatewayAnswer, type GatewayDeps } from './context.js';
import { Meter } from './meter.js';
import { embeddingsNeed } from '../limits/estimate.js';

const embeddingsBody = z.object({
  model: z.string().min(1).max(256),
  input: z.union([
    z.string(), z.array(z.string()).min(1).max(2048),
    z.array(z.number().int()).min(1), z.array(z.array(z.number().int()).min(1)).min(1).max(2048),
  ]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().max(65_536).optional(),
  user: z.string().max(512).optional(),
}).passthrough();

/**
 * The OpenAI SDKs ask for base64 by default and decode it unconditionally; providers that only
 * return float arrays get their vectors encoded here (little-endian float32, as OpenAI does).
 */
export function encodeBase64(body: CreateEmbeddingResponse): void {
  for (const item of body.data) {
    const e = item.embedding as unknown;
    if (Array.isArray(e)) (item as { embedding: unknown }).embedding = Buffer.from(new Float32Array(e as number[]).buffer).toString('base64');
  }
}

export function embeddingsHandler(deps: GatewayDeps) {
  return async function embeddings({ body: input, key, raw, admission }: GatewayCall): Promise<GatewayAnswer> {
    const body = parseInput(embeddingsBody, input) as EmbeddingCreateParams;
    const requestId = newRequestId();
    const meter = new Meter(deps.usage, deps.prices, { requestId, orgId: key.orgId, keyId: key.id, endpoint: 'embeddings', model: body.model, stream: false }, (e) => admission.finish(e));
    try {
      const routes = await routesFor(deps, key, body.model);
      const created = Math.floor(Date.now() / 1000);
      const abort = clientGone(raw);
      await admission.reserve(routes, embeddingsNeed(body));
      const { route, res } = await dispatch(deps.upstream, routes, (r) => {
        if (!r.adapter.embeddings) throw invalidRequest(`The model '${body.model}' (${r.provider}) does not offer embeddings`, 'model');
        return { call: r.adapter.embeddings.request(body, r.account, { requestedModel: body.model, upstreamModel: r.upstreamModel, requestId, created }) };
      }, abort, fallbackLogger(deps, requestId), true);
      meter.route(route);
      let json: unknown;
      try {
        json = await res.body.json();
      } catch {
        throw new ApiError('upstream_error', `${route.provider}: the provider answered with a body that is not JSON`);
      }
      const result = route.adapter.embeddings!.response(json, { requestedModel: body.model, upstreamModel: route.upstreamModel, requestId, created });
      if (body.encoding_format === 'base64') encodeBase64(result.body);
      meter.usage(result.usage);
      return { body: result.body, headers: { 'x-request-id': requestId }, sent: () => meter.finish(200, null) };
    } catch (err) {
      meter.fail(err);
      throw err;
    }
  };
}
