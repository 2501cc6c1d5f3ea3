import type { FastifyInstance } from 'fastify';
import { invalidRequest } from '../errors.js';

/**
 * JSON bodies: an empty body counts as no body (SDKs send `Content-Type: application/json` on
 * body-less POSTs such as `/keys/{id}/revoke`); anything else must parse.
 */
export function registerJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    let value: unknown;
    try {
      value = parseJsonBody(body as string);
    } catch (err) {
      return done(err as Error, undefined);
    }
    done(null, value);
  });
}

/** A JSON body's value: undefined for an empty or blank body; 400 `invalid_request` if it does not parse. */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0 || /^\s*$/.test(text)) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw invalidRequest('The request body is not valid JSON');
  }
}
