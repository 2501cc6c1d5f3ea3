import type { FastifyInstance } from 'fastify';
import { invalidRequest } from '../errors.js';

/**
 * JSON bodies: an empty body counts as no body (SDKs send `Content-Type: application/json` on
 * body-less POSTs such as `/keys/{id}/revoke`); anything else must parse.
 */
export function registerJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0 || /^\s*$/.test(text)) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(invalidRequest('The request body is not valid JSON'), undefined);
    }
  });
}
