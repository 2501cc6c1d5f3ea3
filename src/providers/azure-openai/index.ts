/**
 * The `azure-openai` provider: OpenAI's translators (chat, embeddings, transcription, errors)
 * with Azure's URLs, `api-key` auth and api-version. Azure's extra response fields
 * (`prompt_filter_results`, `content_filter_results`) pass through; its `choices: []` filter
 * chunk at the start of streams is dropped by the shared stream translator.
 */
import { createOpenAIChat } from '../openai/chat.js';
import { createOpenAIEmbeddings } from '../openai/embeddings.js';
import { createOpenAIErrorMapper } from '../openai/error.js';
import { createOpenAITranscription } from '../openai/transcription.js';
import type { ProviderAdapter } from '../types.js';
import { azureAuth, azureModelsUrl, azureOperationUrl, azureSupportsStreamUsage } from './api.js';

/** Azure OpenAI adapter. `defaultBaseUrl` is empty: the endpoint must come from the account. */
export const azureOpenAIAdapter: ProviderAdapter = {
  name: 'azure-openai',
  defaultBaseUrl: '',
  chat: createOpenAIChat({ provider: 'azure-openai', url: azureOperationUrl, streamUsage: azureSupportsStreamUsage }),
  embeddings: createOpenAIEmbeddings('azure-openai', (account, ctx) => azureOperationUrl(account, ctx, 'embeddings')),
  transcription: createOpenAITranscription((account, ctx) => azureOperationUrl(account, ctx, 'audio/transcriptions')),
  authHeaders: azureAuth,
  error: createOpenAIErrorMapper('azure-openai'),
  probe: (account) => ({ method: 'GET', url: azureModelsUrl(account), headers: azureAuth(account) }),
};
