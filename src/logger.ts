/** Structured JSON logs (pino) with every secret-bearing field redacted. */
import pino, { type DestinationStream, type Logger } from 'pino';
import { REDACT_PATHS } from './http/server.js';

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'backbone' } }, destination);
}
