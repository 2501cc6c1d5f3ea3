/**
 * The `ollama` provider: chat through the native API, embeddings through Ollama's
 * OpenAI-compatible `/v1/embeddings`. No transcription.
 */
import { createOpenAIEmbeddings } from '../openai/embeddings.js';
import type { ProviderAdapter } from '../types.js';
import { OLLAMA_DEFAULT_BASE_URL, ollamaAuth, ollamaBase } from './api.js';
import { ollamaChat } from './chat.js';
import { ollamaError } from './error.js';

/** Ollama adapter. */
export const ollamaAdapter: ProviderAdapter = {
  name: 'ollama',
  defaultBaseUrl: OLLAMA_DEFAULT_BASE_URL,
  chat: ollamaChat,
  embeddings: createOpenAIEmbeddings('ollama', (account) => `${ollamaBase(account)}/v1/embeddings`),
  authHeaders: ollamaAuth,
  error: ollamaError,
  probe: (account) => ({ method: 'GET', url: `${ollamaBase(account)}/api/tags`, headers: ollamaAuth(account) }),
};
