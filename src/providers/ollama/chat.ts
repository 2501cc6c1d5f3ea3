/**
 * Ollama chat through its native `/api/chat` rather than its OpenAI-compatible `/v1`: the native
 * API is the one Ollama documents in full (Modelfile `options`, `format` schemas, `done_reason`,
 * token counts), and the compatibility layer lags behind it.
 */
import type { ChatTranslator } from '../types.js';
import { ollamaBase } from './api.js';
import { toOllamaChatRequest } from './request.js';
import { fromOllamaChatResponse } from './response.js';
import { OllamaStreamTranslator } from './stream.js';

/** The Ollama ChatTranslator (NDJSON streams). */
export const ollamaChat: ChatTranslator = {
  streamFormat: 'ndjson',
  request: (req, account, ctx) => ({
    method: 'POST',
    url: `${ollamaBase(account)}/api/chat`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(toOllamaChatRequest(req, ctx)),
  }),
  response: fromOllamaChatResponse,
  stream: (ctx) => new OllamaStreamTranslator(ctx),
};
