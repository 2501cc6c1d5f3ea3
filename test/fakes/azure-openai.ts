/**
 * Fake Azure OpenAI resource (`baseUrl` = origin, the resource endpoint; key `test-key` in the
 * `api-key` header). Dated API: `/openai/deployments/{deployment}/...?api-version=...`
 * (404 "Resource not found" without api-version, as Azure does; `stream_options` rejected on
 * versions before 2024-09-01); `v1` API: `/openai/v1/...`. Streams start with Azure's
 * `prompt_filter_results` chunk; the deployment `missing-deployment` is DeploymentNotFound; a last
 * user message containing `[content_filter]` gets Azure's content-filter 400.
 */
import { sendJson, startFakeServer, writeFrames, type FakeContext, type FakeServer } from './server.js';
import { answerTranscription, chatCompletion, chatStreamFrames, embeddingsResponse, replyText } from './openai-wire.js';
import { lastUserText } from './server.js';

export const FAKE_KEY = 'test-key';

const azureError = (code: string, message: string): unknown => ({ error: { code, message } });

/** Azure's content-filter refusal of a prompt. */
export const CONTENT_FILTER_ERROR = {
  error: {
    message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.",
    type: null, param: 'prompt', code: 'content_filter', status: 400,
    innererror: {
      code: 'ResponsibleAIPolicyViolation',
      content_filter_result: {
        hate: { filtered: false, severity: 'safe' }, jailbreak: { filtered: false, detected: false },
        self_harm: { filtered: true, severity: 'medium' }, sexual: { filtered: false, severity: 'safe' }, violence: { filtered: false, severity: 'safe' },
      },
    },
  },
};

/** Checks key and api-version, answering as Azure does; returns the api-version when both pass. */
function admit(ctx: FakeContext, v1: boolean): string | undefined {
  if (ctx.req.headers['api-key'] !== FAKE_KEY) {
    sendJson(ctx.res, 401, azureError('401', 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.'));
    return undefined;
  }
  if (v1) return 'v1';
  const version = new URL(ctx.recorded.url, 'http://x').searchParams.get('api-version');
  if (!version) { sendJson(ctx.res, 404, azureError('404', 'Resource not found')); return undefined; }
  return version;
}

function deploymentMissing(ctx: FakeContext, deployment: string): boolean {
  if (deployment !== 'missing-deployment') return false;
  sendJson(ctx.res, 404, azureError('DeploymentNotFound', 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.'));
  return true;
}

/** Start a fake Azure OpenAI resource. */
export async function startFakeAzureOpenAI(): Promise<FakeServer & { baseUrl: string }> {
  const provider = 'azure-openai';
  const chat = async (ctx: FakeContext, deployment: string, v1: boolean): Promise<void> => {
    const version = admit(ctx, v1);
    if (!version || deploymentMissing(ctx, deployment)) return;
    const body = { ...ctx.recorded.json, model: v1 ? ctx.recorded.json?.model : 'gpt-4o-mini-2024-07-18' };
    if (!Array.isArray(body.messages)) return sendJson(ctx.res, 400, { error: { message: "'messages' is a required property", type: 'invalid_request_error', param: null, code: null } });
    if (body.stream_options && version < '2024-09-01') {
      return sendJson(ctx.res, 400, { error: { message: 'Unrecognized request argument supplied: stream_options', type: 'invalid_request_error', param: null, code: null } });
    }
    if (lastUserText(body.messages).includes('[content_filter]')) return sendJson(ctx.res, 400, CONTENT_FILTER_ERROR);
    if (body.stream === true) return writeFrames(ctx, 'text/event-stream; charset=utf-8', chatStreamFrames(body, { provider, azure: true }));
    sendJson(ctx.res, 200, chatCompletion(body, { provider, azure: true }));
  };
  const embeddings = (ctx: FakeContext, deployment: string, v1: boolean): void => {
    if (!admit(ctx, v1) || deploymentMissing(ctx, deployment)) return;
    sendJson(ctx.res, 200, embeddingsResponse({ ...ctx.recorded.json, model: 'text-embedding-3-small' }));
  };
  const transcription = async (ctx: FakeContext, deployment: string, v1: boolean): Promise<void> => {
    if (!admit(ctx, v1) || deploymentMissing(ctx, deployment)) return;
    // the dated API takes the deployment from the URL and needs no `model` field
    await answerTranscription(ctx, replyText(provider), (_s, m, p) => ({ error: { message: m, type: 'invalid_request_error', param: p, code: null } }), v1);
  };
  const models = (ctx: FakeContext, v1: boolean): void => {
    if (!admit(ctx, v1)) return;
    const data = ['gpt-4o-mini', 'text-embedding-3-small', 'whisper'].map((id) => ({
      id, object: 'model', status: 'succeeded', created_at: 1_721_260_800, lifecycle_status: 'generally-available',
      capabilities: { fine_tune: false, inference: true, completion: false, chat_completion: id.startsWith('gpt'), embeddings: id.startsWith('text-embedding') },
      deprecation: { inference: 1_760_000_000 },
    }));
    sendJson(ctx.res, 200, { data, object: 'list' });
  };
  const server = await startFakeServer({
    errorBody: (status, message) => azureError(String(status), message),
    routes: [
      { method: 'POST', path: '/openai/deployments/:deployment/chat/completions', handler: (ctx, p) => chat(ctx, p.deployment!, false) },
      { method: 'POST', path: '/openai/deployments/:deployment/embeddings', handler: (ctx, p) => embeddings(ctx, p.deployment!, false) },
      { method: 'POST', path: '/openai/deployments/:deployment/audio/transcriptions', handler: (ctx, p) => transcription(ctx, p.deployment!, false) },
      { method: 'GET', path: '/openai/models', handler: (ctx) => models(ctx, false) },
      { method: 'POST', path: '/openai/v1/chat/completions', handler: (ctx) => chat(ctx, String(ctx.recorded.json?.model ?? ''), true) },
      { method: 'POST', path: '/openai/v1/embeddings', handler: (ctx) => embeddings(ctx, String(ctx.recorded.json?.model ?? ''), true) },
      { method: 'POST', path: '/openai/v1/audio/transcriptions', handler: (ctx) => transcription(ctx, '', true) },
      { method: 'GET', path: '/openai/v1/models', handler: (ctx) => models(ctx, true) },
    ],
  });
  return Object.assign(server, { baseUrl: server.origin });
}
