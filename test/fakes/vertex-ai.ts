/**
 * Fake Google Gemini upstream: the Gemini API (`/v1beta/models/...`, `x-goog-api-key`), Vertex AI
 * (`/v1/projects/{p}/locations/{l}/publishers/google/models/...`, OAuth Bearer) and the OAuth token
 * endpoint (`POST /token`, verifying the JWT assertion's RS256 signature against a key pair made at
 * start). It rejects what Gemini rejects, in Google's words: unknown JSON Schema fields in tool
 * parameters and response schemas (proving the sanitiser end to end), empty text parts, empty
 * turns, mismatched function-response counts, bad keys and tokens.
 *
 * Scenario by the last user text: `[tools]` -> two function calls, `[length]` -> MAX_TOKENS,
 * otherwise "Hello from vertex-ai!". Streams are SSE (`alt=sse`) framed with CRLF like Google's,
 * with no [DONE], and usageMetadata (running counts) on every event.
 */
import { generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { lastUserText, sendJson, startFakeServer, writeFrames, type FakeContext, type FakeServer } from './server.js';

export const FAKE_GEMINI_API_KEY = 'test-key';
export const FAKE_VERTEX_PROJECT = 'fake-project';
export const FAKE_SERVICE_ACCOUNT_EMAIL = 'backbone-test@fake-project.iam.gserviceaccount.com';
/** Final usage of every generation (prompt includes the cached 4; total = 11 + 7 + 3). */
export const FAKE_GEMINI_USAGE = {
  promptTokenCount: 11, candidatesTokenCount: 7, thoughtsTokenCount: 3, cachedContentTokenCount: 4, totalTokenCount: 21,
} as const;
/** The thought signature the fake puts on the first function call (like Gemini 3). */
export const FAKE_THOUGHT_SIGNATURE = Buffer.from('fake-thought-signature/+').toString('base64');

export type FakeGemini = FakeServer & { baseUrl: string; serviceAccountJson: string; publicKeyPem: string };

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};

/** Google's error body. */
export function googleError(code: number, message: string, details: unknown[] = []): unknown {
  return { error: { code, message, status: STATUS_NAMES[code] ?? 'UNKNOWN', ...(details.length ? { details } : {}) } };
}

// ---------- request validation (Gemini's own rules) ----------

const SCHEMA_FIELDS = new Set([
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'items', 'minItems', 'maxItems', 'minimum', 'maximum',
  'minLength', 'maxLength', 'pattern', 'properties', 'required', 'propertyOrdering', 'anyOf', 'example', 'default',
  'minProperties', 'maxProperties',
]);
const TYPES = new Set(['STRING', 'NUMBER', 'INTEGER', 'BOOLEAN', 'ARRAY', 'OBJECT', 'NULL', 'TYPE_UNSPECIFIED']);

function schemaViolations(s: any, at: string, out: string[]): void {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) { out.push(`Invalid value at '${at}': not an object.`); return; }
  for (const k of Object.keys(s)) {
    if (!SCHEMA_FIELDS.has(k)) out.push(`Invalid JSON payload received. Unknown name "${k}" at '${at}': Cannot find field.`);
  }
  const type = typeof s.type === 'string' ? s.type.toUpperCase() : undefined;
  if (s.type !== undefined && (!type || !TYPES.has(type))) {
    out.push(`Invalid value at '${at}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), ${JSON.stringify(s.type)}`);
  }
  if (Array.isArray(s.enum)) s.enum.forEach((v: unknown, i: number) => {
    if (typeof v !== 'string') out.push(`Invalid value at '${at}.enum[${i}]' (TYPE_STRING), ${JSON.stringify(v)}`);
  });
  if (type === 'ARRAY' && s.items === undefined) out.push(`* GenerateContentRequest.${at}.items: missing field.`);
  if (s.items !== undefined) {
    if (type !== 'ARRAY') out.push(`* GenerateContentRequest.${at}.items: field predicate failed: $type == Type.ARRAY`);
    schemaViolations(s.items, `${at}.items`, out);
  }
  if (s.properties && typeof s.properties === 'object') {
    Object.values(s.properties).forEach((v, i) => schemaViolations(v, `${at}.properties[${i}].value`, out));
  }
  if (Array.isArray(s.anyOf)) s.anyOf.forEach((v: unknown, i: number) => schemaViolations(v, `${at}.any_of[${i}]`, out));
}

function requestViolations(body: any): string[] {
  const out: string[] = [];
  if (!body || !Array.isArray(body.contents) || body.contents.length === 0) return ['* GenerateContentRequest.contents: contents is not specified'];
  body.contents.forEach((c: any, i: number) => {
    if (c.role !== 'user' && c.role !== 'model') out.push(`Please use a valid role: user, model. (contents[${i}].role = ${JSON.stringify(c.role)})`);
    if (!Array.isArray(c.parts) || c.parts.length === 0) out.push(`* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`);
    for (const p of c.parts ?? []) {
      if (p.text === '') out.push('Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again.');
      if (p.functionResponse && !p.functionResponse.name) out.push(`* GenerateContentRequest.contents[${i}].parts.function_response.name: Name cannot be empty.`);
    }
    const calls = (c.parts ?? []).filter((p: any) => p.functionCall).length;
    const next = body.contents[i + 1];
    if (c.role === 'model' && calls && next) {
      const responses = (next.parts ?? []).filter((p: any) => p.functionResponse).length;
      if (responses !== calls) out.push('Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.');
    }
  });
  (body.tools ?? []).forEach((t: any, i: number) => (t.functionDeclarations ?? []).forEach((d: any, j: number) => {
    const at = `tools[${i}].function_declarations[${j}].parameters`;
    if (d.parameters === undefined) return;
    schemaViolations(d.parameters, at, out);
    const props = d.parameters?.properties;
    if (String(d.parameters?.type).toUpperCase() === 'OBJECT' && (!props || Object.keys(props).length === 0)) {
      out.push(`* GenerateContentRequest.${at}.properties: should be non-empty for OBJECT type`);
    }
  }));
  if (body.generationConfig?.responseSchema) schemaViolations(body.generationConfig.responseSchema, 'generation_config.response_schema', out);
  return out;
}

// ---------- answers ----------

const usageAt = (candidates: number): Record<string, number> => ({
  ...FAKE_GEMINI_USAGE, candidatesTokenCount: candidates,
  totalTokenCount: FAKE_GEMINI_USAGE.promptTokenCount + candidates + FAKE_GEMINI_USAGE.thoughtsTokenCount,
});

/** The streamed events of one answer; the non-streaming body merges them. */
function answerEvents(body: any, model: string): any[] {
  const text = lastUserText(body.contents);
  const event = (parts: any[], finishReason: string | undefined, candidates: number): any => ({
    candidates: [{ content: { role: 'model', parts }, ...(finishReason ? { finishReason } : {}), index: 0 }],
    usageMetadata: usageAt(candidates),
    modelVersion: model,
    responseId: 'fake-response-id',
  });
  const final = FAKE_GEMINI_USAGE.candidatesTokenCount;
  if (text.includes('[tools]')) {
    const declared: string[] = (body.tools ?? []).flatMap((t: any) => (t.functionDeclarations ?? []).map((d: any) => d.name));
    const [a = 'get_weather', b = 'get_time'] = declared;
    return [
      event([{ functionCall: { name: a, args: { location: 'Paris' } }, thoughtSignature: FAKE_THOUGHT_SIGNATURE }], undefined, 4),
      event([{ functionCall: { name: b, args: { location: 'Tokyo' } } }], 'STOP', final),
    ];
  }
  if (text.includes('[length]')) return [event([{ text: 'Hello' }], undefined, 3), event([{ text: ' from' }], 'MAX_TOKENS', final)];
  return [
    event([{ text: 'Hello' }], undefined, 2),
    event([{ text: ' from' }], undefined, 4),
    event([{ text: ' vertex-ai!' }], 'STOP', final),
  ];
}

function mergeEvents(events: any[]): any {
  const last = events[events.length - 1];
  const parts = events.flatMap((e) => e.candidates[0].content.parts);
  const textParts = parts.filter((p) => p.text !== undefined);
  const merged = textParts.length ? [{ text: textParts.map((p) => p.text).join('') }] : [];
  return {
    ...last,
    candidates: [{ ...last.candidates[0], content: { role: 'model', parts: [...merged, ...parts.filter((p) => p.functionCall)] } }],
  };
}

function embedding(text: string, dims = 8): number[] {
  return Array.from({ length: dims }, (_, i) => Number((((text.charCodeAt(i % Math.max(text.length, 1)) || 7) * (i + 1)) % 97 / 97).toFixed(6)));
}

const KNOWN_MODEL = /^(gemini-|text-embedding-|gemini-embedding-|text-multilingual-embedding-)/;

// ---------- server ----------

/** Start the fake. Its `serviceAccountJson` is a key file whose `token_uri` points at the fake. */
export async function startFakeGemini(): Promise<FakeGemini> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const tokens = new Map<string, number>();
  let origin = '';

  const geminiAuthOk = (ctx: FakeContext): boolean => {
    const key = ctx.req.headers['x-goog-api-key'] ?? new URL(ctx.recorded.url, 'http://x').searchParams.get('key');
    if (key === FAKE_GEMINI_API_KEY) return true;
    if (!key) {
      sendJson(ctx.res, 403, googleError(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."));
    } else {
      sendJson(ctx.res, 400, googleError(400, 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
      ]));
    }
    return false;
  };

  const vertexAuthOk = (ctx: FakeContext, p: Record<string, string>): boolean => {
    const token = /^Bearer (.+)$/.exec(String(ctx.req.headers.authorization ?? ''))?.[1];
    const exp = token ? tokens.get(token) : undefined;
    if (!exp || exp < Date.now()) {
      sendJson(ctx.res, 401, googleError(401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: token ? 'ACCESS_TOKEN_EXPIRED' : 'CREDENTIALS_MISSING', domain: 'googleapis.com' },
      ]));
      return false;
    }
    if (p.project !== FAKE_VERTEX_PROJECT) {
      sendJson(ctx.res, 403, googleError(403, `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/${p.project}/locations/${p.location}/publishers/google/models/${p.model}' (or it may not exist).`));
      return false;
    }
    return true;
  };

  const modelOk = (ctx: FakeContext, model: string, method: string): boolean => {
    if (KNOWN_MODEL.test(model)) return true;
    sendJson(ctx.res, 404, googleError(404, `models/${model} is not found for API version v1beta, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`));
    return false;
  };

  const generate = (stream: boolean) => async (ctx: FakeContext, p: Record<string, string>): Promise<void> => {
    const model = p.model!;
    if (!modelOk(ctx, model, stream ? 'streamGenerateContent' : 'generateContent')) return;
    const body = ctx.recorded.json;
    const violations = requestViolations(body);
    if (violations.length) {
      sendJson(ctx.res, 400, googleError(400, violations.join('\n'), [
        { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: violations.map((description) => ({ description })) },
      ]));
      return;
    }
    const events = answerEvents(body, model);
    if (!stream) { sendJson(ctx.res, 200, mergeEvents(events)); return; }
    if (new URL(ctx.recorded.url, 'http://x').searchParams.get('alt') !== 'sse') {
      // Without alt=sse Google streams one JSON array.
      sendJson(ctx.res, 200, events);
      return;
    }
    await writeFrames(ctx, 'text/event-stream', events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`));
  };

  const inputsOf = (body: any): string[] =>
    (body?.requests ?? []).map((r: any) => r?.content?.parts?.[0]?.text ?? '');

  const server = await startFakeServer({
    errorBody: (status, message) => googleError(status, message),
    routes: [
      {
        method: 'POST', path: '/token', handler: (ctx) => {
          const form = new URLSearchParams(ctx.recorded.text);
          if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
            sendJson(ctx.res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type.' });
            return;
          }
          const problem = checkAssertion(form.get('assertion') ?? '', publicKey, `${origin}/token`);
          if (problem) { sendJson(ctx.res, 400, { error: 'invalid_grant', error_description: problem }); return; }
          const token = `ya29.fake-${randomBytes(16).toString('hex')}`;
          tokens.set(token, Date.now() + 3599_000);
          sendJson(ctx.res, 200, { access_token: token, expires_in: 3599, token_type: 'Bearer' });
        },
      },
      {
        method: 'GET', path: '/v1beta/models', handler: (ctx) => {
          if (!geminiAuthOk(ctx)) return;
          sendJson(ctx.res, 200, { models: [
            { name: 'models/gemini-2.5-flash', supportedGenerationMethods: ['generateContent', 'countTokens'] },
            { name: 'models/text-embedding-004', supportedGenerationMethods: ['embedContent'] },
          ] });
        },
      },
      ...(['generateContent', 'streamGenerateContent'] as const).flatMap((m) => [
        { method: 'POST' as const, path: `/v1beta/models/:model:${m}`, handler: async (ctx: FakeContext, p: Record<string, string>) => {
          if (geminiAuthOk(ctx)) await generate(m === 'streamGenerateContent')(ctx, p);
        } },
        { method: 'POST' as const, path: `/v1/projects/:project/locations/:location/publishers/google/models/:model:${m}`, handler: async (ctx: FakeContext, p: Record<string, string>) => {
          if (vertexAuthOk(ctx, p)) await generate(m === 'streamGenerateContent')(ctx, p);
        } },
      ]),
      {
        method: 'POST', path: '/v1beta/models/:model:batchEmbedContents', handler: (ctx, p) => {
          if (!geminiAuthOk(ctx) || !modelOk(ctx, p.model!, 'embedContent')) return;
          const reqs: any[] = ctx.recorded.json?.requests ?? [];
          if (reqs.some((r) => r.model !== `models/${p.model}`)) {
            sendJson(ctx.res, 400, googleError(400, '* BatchEmbedContentsRequest.model: the model in each request must match the batch model.'));
            return;
          }
          sendJson(ctx.res, 200, { embeddings: inputsOf(ctx.recorded.json).map((t, i) => ({ values: embedding(t, reqs[i]?.outputDimensionality) })) });
        },
      },
      {
        method: 'POST', path: '/v1/projects/:project/locations/:location/publishers/google/models/:model:predict', handler: (ctx, p) => {
          if (!vertexAuthOk(ctx, p) || !modelOk(ctx, p.model!, 'predict')) return;
          const instances: any[] = ctx.recorded.json?.instances ?? [];
          const dims = ctx.recorded.json?.parameters?.outputDimensionality;
          sendJson(ctx.res, 200, {
            predictions: instances.map((inst) => ({
              embeddings: { values: embedding(String(inst.content), dims), statistics: { token_count: String(inst.content).split(/\s+/).length, truncated: false } },
            })),
            metadata: { billableCharacterCount: instances.reduce((n, i) => n + String(i.content).length, 0) },
          });
        },
      },
      {
        method: 'POST', path: '/v1/projects/:project/locations/:location/publishers/google/models/:model:countTokens', handler: (ctx, p) => {
          if (!vertexAuthOk(ctx, p) || !modelOk(ctx, p.model!, 'countTokens')) return;
          sendJson(ctx.res, 200, { totalTokens: 1, totalBillableCharacters: 4 });
        },
      },
    ],
  });
  origin = server.origin;
  const serviceAccountJson = JSON.stringify({
    type: 'service_account',
    project_id: FAKE_VERTEX_PROJECT,
    private_key_id: 'fake-key-id',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: FAKE_SERVICE_ACCOUNT_EMAIL,
    client_id: '100000000000000000000',
    token_uri: `${origin}/token`,
  });
  return Object.assign(server, { baseUrl: origin, serviceAccountJson, publicKeyPem });
}

/** Google's checks on a JWT-bearer assertion; returns the error_description, or undefined when valid. */
function checkAssertion(jwt: string, publicKey: KeyObject, audience: string): string | undefined {
  const [h, c, s] = jwt.split('.');
  if (!h || !c || !s) return 'Invalid JWT: malformed.';
  let header: any;
  let claims: any;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString());
    claims = JSON.parse(Buffer.from(c, 'base64url').toString());
  } catch { return 'Invalid JWT: malformed.'; }
  if (header.alg !== 'RS256') return 'Invalid JWT: unsupported alg.';
  if (!verify('sha256', Buffer.from(`${h}.${c}`), publicKey, Buffer.from(s, 'base64url'))) return 'Invalid JWT Signature.';
  const now = Math.floor(Date.now() / 1000);
  if (claims.iss !== FAKE_SERVICE_ACCOUNT_EMAIL) return 'Invalid JWT: iss is not the service account.';
  if (claims.aud !== audience) return 'Invalid JWT: aud must be the token URI.';
  if (!String(claims.scope ?? '').split(' ').includes('https://www.googleapis.com/auth/cloud-platform')) return 'Invalid JWT: missing scope.';
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || claims.exp - claims.iat > 3600
    || Math.abs(claims.iat - now) > 300 || claims.exp < now) {
    return 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';
  }
  return undefined;
}
