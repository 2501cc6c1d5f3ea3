/**
 * Tool-call ids for Gemini function calls.
 *
 * Gemini's function calls have no ids (calls are matched to results by name and order), so Backbone
 * makes `call_...` ids. They also carry Gemini's `thoughtSignature` when the call had one: Gemini 3
 * rejects a conversation whose earlier function calls come back without their signatures (400
 * "Function call is missing a thought_signature"), and the id is the only field an OpenAI client
 * reliably echoes back. The translator stays stateless this way. The signature is stored
 * base64url-encoded so the id keeps to `[A-Za-z0-9_-]` (ids may later be sent to other providers).
 */

const MARKER = '__thought__';

/** A deterministic, unique-per-request tool-call id: `call_<request>_<choice>_<n>[__thought__<sig>]`. */
export function makeToolCallId(requestId: string, choice: number, n: number, thoughtSignature?: string): string {
  const base = `call_${requestId.replace(/[^A-Za-z0-9]/g, '').slice(-24)}_${choice}_${n}`;
  if (!thoughtSignature) return base;
  return `${base}${MARKER}${Buffer.from(thoughtSignature, 'base64').toString('base64url')}`;
}

/** The thought signature carried by a tool-call id (standard base64, as Gemini sent it), if any. */
export function thoughtSignatureOf(toolCallId: string): string | undefined {
  const at = toolCallId.indexOf(MARKER);
  if (at < 0) return undefined;
  const sig = toolCallId.slice(at + MARKER.length);
  return sig ? Buffer.from(sig, 'base64url').toString('base64') : undefined;
}
