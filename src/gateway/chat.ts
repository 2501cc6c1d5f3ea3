/** `POST /chat/completions`: non-streamed JSON or SSE, any provider, OpenAI's semantics. */
import { ApiError } from '../errors.js';
import type { TranslateContext } from '../providers/types.js';
import { parseChatBody } from './chat-body.js';
import { clientGone, dispatch } from './dispatch.js';
import { fallbackLogger, newRequestId, routesFor, type GatewayCall, type GatewayAnswer, type GatewayDeps } from './context.js';
import { Meter } from './meter.js';
import { pipeStream } from './stream.js';
import { chatNeed } from '../limits/estimate.js';

export function chatHandler(deps: GatewayDeps) {
  return async function chat({ body: input, key, raw, admission }: GatewayCall): Promise<GatewayAnswer> {
    const body = parseChatBody(input);
    const requestId = newRequestId();
    const stream = body.stream === true;
    const meter = new Meter(deps.usage, deps.prices, { requestId, orgId: key.orgId, keyId: key.id, endpoint: 'chat', model: body.model, stream }, (e) => admission.finish(e));
    try {
      const routes = await routesFor(deps, key, body.model);
      const abort = clientGone(raw);
      await admission.reserve(routes, chatNeed(body));
      const ctxFor = (model: string, upstreamModel: string): TranslateContext => ({
        requestedModel: model, upstreamModel, requestId, created: Math.floor(Date.now() / 1000),
      });
      const { route, res } = await dispatch(deps.upstream, routes, (r) => ({
        call: r.adapter.chat.request(body, r.account, ctxFor(body.model, r.upstreamModel)),
      }), abort, fallbackLogger(deps, requestId), !stream);
      meter.route(route);
      const ctx = ctxFor(body.model, route.upstreamModel);

      if (stream) {
        await pipeStream({
          raw, res, provider: route.provider, translator: route.adapter.chat.stream(ctx),
          format: route.adapter.chat.streamFormat, includeUsage: body.stream_options?.include_usage === true,
          signal: abort, meter, headers: { ...admission.headers, 'x-request-id': requestId },
        });
        return null;
      }
      let json: unknown;
      try {
        json = await res.body.json();
      } catch {
        throw new ApiError('upstream_error', `${route.provider}: the provider answered with a body that is not JSON`);
      }
      const result = route.adapter.chat.response(json, ctx);
      meter.usage(result.usage);
      // OpenAI's usage object has no cost; an extra field is ignored by the SDKs, and the header
      // serves clients that only look at headers.
      const cost = meter.costUsd;
      if (result.body.usage) (result.body.usage as { cost_usd?: number }).cost_usd = cost;
      return {
        body: result.body,
        headers: { 'x-request-id': requestId, 'x-backbone-cost-usd': cost.toFixed(8) },
        sent: () => meter.finish(200, null),
      };
    } catch (err) {
      if (raw.headersSent) {
        // A failure after the stream started is already an error event; only a client abort lands here.
        meter.finish(499, 'client_closed_request');
        return null;
      }
      meter.fail(err);
      throw err;
    }
  };
}
