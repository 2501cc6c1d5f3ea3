import type { TranslateContext } from '../types.js';

/** OpenAI-style completion id: `chatcmpl-` + Anthropic's message id (`msg_...`), or Backbone's
 *  request id when Anthropic gave none. */
export function completionId(messageId: string, ctx: TranslateContext): string {
  const base = messageId || ctx.requestId;
  return base.startsWith('chatcmpl-') ? base : `chatcmpl-${base}`;
}
