/**
 * The `openai` provider: OpenAI's API, or any OpenAI-compatible server at `baseUrl` (with `/v1`).
 */
import type { ProviderAdapter } from '../types.js';
import { bearerAuth, OPENAI_DEFAULT_BASE_URL, openaiBase, openaiOperationUrl } from './api.js';
import { createOpenAIChat } from './chat.js';
import { createOpenAIEmbeddings } from './embeddings.js';
import { createOpenAIErrorMapper } from './error.js';
import { createOpenAITranscription } from './transcription.js';

/** OpenAI (and OpenAI-compatible) adapter. */
export const openaiAdapter: ProviderAdapter = {
  name: 'openai',
  defaultBaseUrl: OPENAI_DEFAULT_BASE_URL,
  chat: createOpenAIChat({ provider: 'openai', url: openaiOperationUrl }),
  embeddings: createOpenAIEmbeddings('openai', (account, ctx) => openaiOperationUrl(account, ctx, 'embeddings')),
  transcription: createOpenAITranscription((account, ctx) => openaiOperationUrl(account, ctx, 'audio/transcriptions')),
  authHeaders: bearerAuth,
  error: createOpenAIErrorMapper('openai'),
  probe: (account) => ({ method: 'GET', url: `${openaiBase(account)}/models`, headers: bearerAuth(account) }),
};
