/**
 * `POST /audio/transcriptions`: a multipart upload forwarded to OpenAI or Azure OpenAI Whisper.
 * JSON-shaped gateways break here: the body is multipart and the answer may be text, SRT or VTT,
 * which pass through untouched with their content type.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FormData } from 'undici';
import { ApiError, invalidRequest } from '../errors.js';
import { clientGone, dispatch } from './dispatch.js';
import { fallbackLogger, newRequestId, routesFor, type GatewayDeps } from './context.js';
import { Meter } from './meter.js';
import type { Admission } from '../limits/admission.js';
import { audioNeed } from '../limits/estimate.js';

export const MAX_AUDIO_BYTES = 25 * 1024 * 1024;
export const AUDIO_FORMATS = ['flac', 'mp3', 'mp4', 'mpeg', 'mpga', 'm4a', 'ogg', 'wav', 'webm'] as const;
const RESPONSE_FORMATS = ['json', 'text', 'srt', 'verbose_json', 'vtt'];
/** Form fields forwarded upstream as they came (besides file and model). */
const FIELDS = new Set(['language', 'prompt', 'response_format', 'temperature', 'timestamp_granularities[]', 'chunking_strategy', 'include[]', 'stream']);

interface Upload {
  file?: { data: Buffer; filename: string; mimetype: string };
  fields: [string, string][];
}

async function readUpload(request: FastifyRequest): Promise<Upload> {
  if (!request.isMultipart()) throw invalidRequest('Send the audio as multipart/form-data with a file field', 'file');
  const upload: Upload = { fields: [] };
  try {
    for await (const part of request.parts({ limits: { fileSize: MAX_AUDIO_BYTES, files: 1, fields: 32, fieldSize: 256 * 1024, parts: 40 } })) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') {
          await part.toBuffer();
          throw invalidRequest(`Unexpected file field '${part.fieldname.slice(0, 64)}'; the audio goes in 'file'`, part.fieldname.slice(0, 64));
        }
        upload.file = { data: await part.toBuffer(), filename: part.filename, mimetype: part.mimetype };
      } else {
        upload.fields.push([part.fieldname, String(part.value)]);
      }
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'FST_REQ_FILE_TOO_LARGE') throw new ApiError('file_too_large', `The audio file is larger than ${MAX_AUDIO_BYTES / 1024 / 1024} MB`, { param: 'file' });
    if (code === 'FST_PARTS_LIMIT' || code === 'FST_FILES_LIMIT' || code === 'FST_FIELDS_LIMIT') throw new ApiError('request_too_large', 'Too many parts in the multipart body');
    throw invalidRequest('The multipart body is malformed or incomplete', null);
  }
  return upload;
}

export function transcriptionHandler(deps: GatewayDeps) {
  return async function transcribe(request: FastifyRequest, reply: FastifyReply, admission: Admission) {
    const upload = await readUpload(request);
    const field = (name: string) => upload.fields.find(([k]) => k === name)?.[1];
    const model = field('model');
    if (!model) throw invalidRequest("The 'model' field is required", 'model');
    if (!upload.file || upload.file.data.length === 0) throw invalidRequest("The 'file' field with the audio is required", 'file');
    const ext = upload.file.filename.split('.').pop()?.toLowerCase() ?? '';
    if (!(AUDIO_FORMATS as readonly string[]).includes(ext)) {
      throw invalidRequest(`Unsupported audio format '${ext.slice(0, 16)}'; use one of ${AUDIO_FORMATS.join(', ')}`, 'file');
    }
    const responseFormat = field('response_format') ?? 'json';
    if (!RESPONSE_FORMATS.includes(responseFormat)) throw invalidRequest(`response_format must be one of ${RESPONSE_FORMATS.join(', ')}`, 'response_format');
    const temperature = field('temperature');
    if (temperature !== undefined && !(Number(temperature) >= 0 && Number(temperature) <= 1)) throw invalidRequest('temperature must be a number from 0 to 1', 'temperature');
    const unknown = upload.fields.find(([k]) => k !== 'model' && !FIELDS.has(k));
    if (unknown) throw invalidRequest(`Unknown field '${unknown[0].slice(0, 64)}'`, unknown[0].slice(0, 64));

    const key = request.auth.key!; // the gateway authenticates keys only, never sessions
    const requestId = newRequestId();
    const meter = new Meter(deps.usage, deps.prices, { requestId, orgId: key.orgId, keyId: key.id, endpoint: 'audio', model, stream: false }, (e) => admission.finish(e));
    try {
      const routes = await routesFor(deps, key, model);
      const abort = clientGone(reply.raw);
      const file = upload.file;
      await admission.reserve(routes, audioNeed(file.data.length));
      const { route, res } = await dispatch(deps.upstream, routes, (r) => {
        if (!r.adapter.transcription) throw invalidRequest(`The model '${model}' (${r.provider}) does not offer audio transcription`, 'model');
        const { formModel, ...call } = r.adapter.transcription.request(r.account, { requestedModel: model, upstreamModel: r.upstreamModel, requestId, created: Math.floor(Date.now() / 1000) });
        const form = new FormData();
        form.append('file', new Blob([file.data], { type: file.mimetype || 'application/octet-stream' }), file.filename);
        form.append('model', formModel);
        for (const [k, v] of upload.fields) if (k !== 'model') form.append(k, v);
        // undici sets the multipart boundary; a content-type from the translator must not override it
        const headers = Object.fromEntries(Object.entries(call.headers).filter(([h]) => h.toLowerCase() !== 'content-type'));
        return { call: { ...call, headers }, form };
      }, abort, fallbackLogger(deps, requestId), true);
      meter.route(route);
      const text = await res.body.text();
      const contentType = String(res.headers['content-type'] ?? (responseFormat.includes('json') ? 'application/json' : 'text/plain; charset=utf-8'));
      if (responseFormat === 'verbose_json') {
        try {
          const d = (JSON.parse(text) as { duration?: unknown }).duration;
          meter.audioSeconds(typeof d === 'number' ? d : null);
        } catch { /* passed through as it came */ }
      }
      meter.finish(200, null);
      reply.header('x-request-id', requestId).type(contentType);
      return text;
    } catch (err) {
      meter.fail(err);
      throw err;
    }
  };
}
