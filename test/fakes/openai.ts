/**
 * Fake OpenAI API (`baseUrl` = origin + `/v1`, key `test-key`): chat completions (JSON and SSE),
 * embeddings, audio transcriptions, models. Speaks OpenAI's wire format, including its 401 bodies
 * and `model_not_found` for the model `missing-model`.
 */
import { sendJson, startFakeServer, writeFrames, type FakeContext, type FakeServer } from './server.js';
import { answerTranscription, chatCompletion, chatStreamFrames, embeddingsResponse, openaiErrorBody, replyText } from './openai-wire.js';

export const FAKE_KEY = 'test-key';

const MISSING_KEY = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.";

/** OpenAI's 401s: no key (code null) vs a wrong one (`invalid_api_key`, key partly masked). */
function authorized(ctx: FakeContext): boolean {
  const auth = String(ctx.req.headers.authorization ?? '');
  if (auth === `Bearer ${FAKE_KEY}`) return true;
  if (!auth) {
    sendJson(ctx.res, 401, openaiErrorBody(401, MISSING_KEY));
  } else {
    const key = auth.replace(/^Bearer\s+/i, '');
    const masked = key.length > 8 ? `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}` : '****';
    sendJson(ctx.res, 401, openaiErrorBody(401, `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`, 'invalid_api_key'));
  }
  return false;
}

function modelMissing(ctx: FakeContext): boolean {
  const model = ctx.recorded.json?.model;
  if (model !== 'missing-model') return false;
  sendJson(ctx.res, 404, openaiErrorBody(404, `The model \`${model}\` does not exist or you do not have access to it.`, 'model_not_found'));
  return true;
}

/** Start a fake OpenAI server. */
export async function startFakeOpenAI(): Promise<FakeServer & { baseUrl: string }> {
  const provider = 'openai';
  const server = await startFakeServer({
    errorBody: (status, message) => openaiErrorBody(status, message),
    routes: [
      {
        method: 'POST', path: '/v1/chat/completions', handler: async (ctx) => {
          if (!authorized(ctx) || modelMissing(ctx)) return;
          const body = ctx.recorded.json;
          if (!body || !Array.isArray(body.messages)) return sendJson(ctx.res, 400, openaiErrorBody(400, "Missing required parameter: 'messages'.", null, 'messages'));
          if (body.stream_options && body.stream !== true) {
            return sendJson(ctx.res, 400, openaiErrorBody(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", null, 'stream_options'));
          }
          if (body.stream === true) return writeFrames(ctx, 'text/event-stream; charset=utf-8', chatStreamFrames(body, { provider }));
          sendJson(ctx.res, 200, chatCompletion(body, { provider }));
        },
      },
      {
        method: 'POST', path: '/v1/embeddings', handler: (ctx) => {
          if (!authorized(ctx) || modelMissing(ctx)) return;
          if (ctx.recorded.json?.input === undefined) return sendJson(ctx.res, 400, openaiErrorBody(400, "Missing required parameter: 'input'.", null, 'input'));
          sendJson(ctx.res, 200, embeddingsResponse(ctx.recorded.json));
        },
      },
      {
        method: 'POST', path: '/v1/audio/transcriptions', handler: async (ctx) => {
          if (!authorized(ctx)) return;
          await answerTranscription(ctx, replyText(provider), (s, m, p) => openaiErrorBody(s, m, null, p));
        },
      },
      {
        method: 'GET', path: '/v1/models', handler: (ctx) => {
          if (!authorized(ctx)) return;
          const ids = ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small', 'whisper-1'];
          sendJson(ctx.res, 200, { object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'system' })) });
        },
      },
    ],
  });
  return Object.assign(server, { baseUrl: `${server.origin}/v1` });
}
