/**
 * OpenAI audio transcription (`POST {base}/audio/transcriptions`, multipart). The gateway builds
 * and forwards the form and passes the answer (json, text, srt, vtt, verbose_json) through.
 */
import type { ProviderAccount, TranscriptionTranslator, TranslateContext } from '../types.js';

/** The TranscriptionTranslator for an OpenAI-shaped endpoint at `url(account, ctx)`. The form's
 *  `model` field is the upstream model (Azure ignores it: the deployment is in the URL). */
export function createOpenAITranscription(
  url: (account: ProviderAccount, ctx: TranslateContext) => string,
): TranscriptionTranslator {
  return {
    request: (account, ctx) => ({ method: 'POST', url: url(account, ctx), headers: {}, formModel: ctx.upstreamModel }),
  };
}
