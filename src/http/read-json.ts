/**
 * A JSON request body read straight from node:http, for the gateway's fast path, by the same rules
 * Fastify applies to every other route (server.ts, json-body.ts):
 * - `Content-Type` must be `application/json` (any parameters) when there is a body: else 415;
 * - a declared or received length over the limit: 413, without reading the rest;
 * - an empty or blank body is no body (undefined); anything else must parse: else 400.
 * The bytes are decoded once at the end, so a multi-byte character split across packets survives.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../errors.js';
import { parseJsonBody } from './json-body.js';

/** The client went away before its body arrived: nobody is left to answer. */
export class BodyAborted extends Error {
  constructor() {
    super('the client closed the connection while sending the request body');
  }
}

const tooLarge = () => new ApiError('request_too_large', 'The request body is too large');

function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  return type === 'application/json';
}

export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const { headers } = req;
  const declared = headers['content-length'];
  const hasBody = headers['transfer-encoding'] !== undefined || (declared !== undefined && declared !== '0');
  if (!hasBody) return Promise.resolve(undefined);
  if (!isJsonContentType(headers['content-type'])) {
    return Promise.reject(new ApiError('invalid_request', 'Unsupported Content-Type; send application/json', { status: 415, param: null }));
  }
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge());

  // With Content-Length framing the body is whole once that many bytes arrived (Node's parser never
  // delivers more): parse then, rather than a tick later on 'end'.
  const expected = headers['transfer-encoding'] === undefined && declared !== undefined ? Number(declared) : -1;

  return new Promise<unknown>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const done = (err: Error | null, value?: unknown) => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('aborted', onAborted);
      req.removeListener('error', onAborted);
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        req.pause(); // Node reads and drops the rest once the 413 is answered
        done(tooLarge());
        return;
      }
      chunks.push(chunk);
      if (received === expected) onEnd();
    };
    const onEnd = () => {
      let value: unknown;
      try {
        value = parseJsonBody((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'));
      } catch (err) {
        return done(err as Error);
      }
      done(null, value);
    };
    const onAborted = () => done(new BodyAborted());
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.on('error', onAborted);
  });
}
