/** Structured JSON logs (pino) with every secret-bearing field redacted. */
import pino, { type DestinationStream, type Logger } from 'pino';

/** Everything that could carry a secret in a log record. */
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie',
  'headers.authorization', 'headers["x-api-key"]', 'authorization', 'key', 'secret', 'api_key', 'apiKey',
  '*.key', '*.secret', '*.api_key', '*.apiKey', '*.authorization',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'backbone' } }, destination);
}

type LogFn = (obj: unknown, msg?: string, ...args: unknown[]) => void;
interface ChildCapable {
  level: string;
  child(bindings: Record<string, unknown>, options?: object): ChildCapable;
  fatal: LogFn; error: LogFn; warn: LogFn; info: LogFn; debug: LogFn; trace: LogFn; silent: LogFn;
}

/**
 * Fastify makes a child logger (pino `child`, with its bindings and redaction set up) for every
 * request, although almost no request logs anything. This stand-in makes the real child only when
 * something is logged: the same output, without the per-request cost on the gateway's hot path.
 */
export class LazyChildLogger {
  private real: ChildCapable | undefined;
  constructor(private readonly parent: ChildCapable, private readonly bindings: Record<string, unknown>, private readonly options: object) {}
  private get log(): ChildCapable {
    return (this.real ??= this.parent.child(this.bindings, this.options));
  }
  get level(): string { return this.real?.level ?? this.parent.level; }
  set level(v: string) { this.log.level = v; }
  child(bindings: Record<string, unknown>, options?: object): ChildCapable { return this.log.child(bindings, options); }
  fatal(...a: Parameters<LogFn>): void { this.log.fatal(...a); }
  error(...a: Parameters<LogFn>): void { this.log.error(...a); }
  warn(...a: Parameters<LogFn>): void { this.log.warn(...a); }
  info(...a: Parameters<LogFn>): void { this.log.info(...a); }
  debug(...a: Parameters<LogFn>): void { this.log.debug(...a); }
  trace(...a: Parameters<LogFn>): void { this.log.trace(...a); }
  silent(): void {}
}
