/**
 * `GET /api/v1/pricing`: the models the caller's organisation can call (platform models, and BYOK
 * models when the plan includes BYOK), each with its list price, for the dashboard's Models page.
 */
import type { FastifyInstance } from 'fastify';
import { modelAllowed, type ModelCatalog } from '../../gateway/catalog.js';
import type { PriceTable } from '../../metering/prices.js';
import type { OrgCache } from '../../limits/org-cache.js';

export function pricingRoutes(app: FastifyInstance, deps: { catalog: ModelCatalog; prices: PriceTable; orgs: OrgCache }): void {
  app.get('/pricing', { config: { permission: 'models:read' } }, async (request) => {
    const { orgId, key } = request.auth;
    const { plan } = await deps.orgs.get(orgId);
    const models = (await deps.catalog.list(orgId)).filter((m) => (plan.byok || !m.byok) && modelAllowed(key?.allowedModels ?? null, m.id));
    return {
      object: 'list', has_more: false, byok_available: plan.byok,
      data: models.map((m) => {
        const upstream = m.byok ? m.id.slice(m.id.indexOf('/') + 1) : m.id;
        const p = deps.prices.lookup(m.provider, upstream);
        return {
          object: 'model_price', id: m.id, provider: m.provider, byok: m.byok,
          // USD per 1M tokens (per minute for audio); null when no price is known.
          input_per_million: p?.input ?? null, output_per_million: p?.output ?? null,
          cached_input_per_million: p?.cachedInput ?? null, audio_per_minute: p?.audioPerMinute ?? null,
        };
      }),
    };
  });
}
