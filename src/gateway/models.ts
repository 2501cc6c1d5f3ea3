/** `GET /models` and `GET /models/{id}`: exactly the models this key may call. */
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { modelAllowed, type ModelInfo } from './catalog.js';
import type { GatewayDeps } from './context.js';

const STARTED = Math.floor(Date.now() / 1000);
const modelJson = (m: ModelInfo) => ({ id: m.id, object: 'model' as const, created: STARTED, owned_by: m.byok ? `${m.provider} (byok)` : m.provider });

export function modelsHandlers(deps: GatewayDeps) {
  const visible = async (request: FastifyRequest) => {
    // The gateway authenticates keys only (no sessions), so there is always a key.
    const key = request.auth.key!;
    // BYOK models are listed only when the organisation's plan lets it call them.
    const { plan } = await deps.limiter.orgs.get(key.orgId);
    return (await deps.catalog.list(key.orgId)).filter((m) => modelAllowed(key.allowedModels, m.id) && (plan.byok || !m.byok));
  };
  return {
    list: async (request: FastifyRequest) => ({ object: 'list', data: (await visible(request)).map(modelJson) }),
    get: async (request: FastifyRequest) => {
      const id = (request.params as { '*': string })['*'];
      const key = request.auth.key!;
      if (!modelAllowed(key.allowedModels, id)) throw new ApiError('model_not_found', `The model '${id.slice(0, 256)}' does not exist or is not available to this key`, { param: 'model' });
      const listed = (await visible(request)).find((m) => m.id === id);
      if (listed) return modelJson(listed);
      // Routable but not listed (any name of a served family): resolve to prove it exists.
      const { route } = await deps.catalog.resolve(id, key.orgId);
      if (route.byok && !(await deps.limiter.orgs.get(key.orgId)).plan.byok) {
        throw new ApiError('model_not_found', `The model '${id.slice(0, 256)}' does not exist or is not available to this key`, { param: 'model' });
      }
      return modelJson({ id, provider: route.provider, byok: route.byok });
    },
  };
}
