/**
 * One error taxonomy, one envelope (OpenAI's): `{"error":{"message","type","code","param"}}`.
 * Every error Backbone answers with has a code listed here; a test checks that each code is
 * documented in the README. Status codes decide which exception the client's OpenAI SDK raises.
 */

export const ERROR_CODES = {
  missing_api_key: { status: 401, type: 'authentication_error' },
  invalid_api_key: { status: 401, type: 'authentication_error' },
  key_revoked: { status: 401, type: 'authentication_error' },
  key_expired: { status: 401, type: 'authentication_error' },
  invalid_credentials: { status: 401, type: 'authentication_error' },
  invalid_session: { status: 401, type: 'authentication_error' },
  insufficient_permissions: { status: 403, type: 'permission_error' },
  model_not_allowed: { status: 403, type: 'permission_error' },
  ip_not_allowed: { status: 403, type: 'permission_error' },
  byok_not_available: { status: 403, type: 'permission_error' },
  invalid_csrf_token: { status: 403, type: 'permission_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  model_not_found: { status: 404, type: 'invalid_request_error' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  conflict: { status: 409, type: 'invalid_request_error' },
  request_too_large: { status: 413, type: 'invalid_request_error' },
  file_too_large: { status: 413, type: 'invalid_request_error' },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error' },
  insufficient_quota: { status: 429, type: 'insufficient_quota' },
  internal_error: { status: 500, type: 'api_error' },
  upstream_error: { status: 502, type: 'api_error' },
  service_unavailable: { status: 503, type: 'api_error' },
  upstream_timeout: { status: 504, type: 'api_error' },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorEnvelope {
  error: { message: string; type: string; code: string; param?: string | null };
}

/** An error meant for the client. Thrown anywhere; rendered once by the HTTP layer. */
export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: { param?: string | null; headers?: Record<string, string>; status?: number; type?: string } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = opts.status ?? ERROR_CODES[code].status;
    this.type = opts.type ?? ERROR_CODES[code].type;
    this.headers = opts.headers ?? {};
    this.param = opts.param;
  }

  readonly param: string | null | undefined;

  toJSON(): ErrorEnvelope {
    return errorEnvelope(this.code, this.message, this.param, this.type);
  }
}

/** Anything shaped like a Backbone key (even a partial one). */
const KEY_LIKE = /sk_(?:live|test)_[0-9A-Za-z]*/g;

/** Errors never echo a secret: a key pasted into a field name, a URL or a value is masked. */
export function scrubSecrets(text: string): string {
  return text.replace(KEY_LIKE, (m) => `${m.slice(0, 8)}[redacted]`);
}

/** The one envelope renderer. */
export function errorEnvelope(code: string, message: string, param?: string | null, type?: string): ErrorEnvelope {
  const error: ErrorEnvelope['error'] = {
    message: scrubSecrets(message),
    type: type ?? ERROR_CODES[code as ErrorCode]?.type ?? 'api_error',
    code,
  };
  if (param !== undefined) error.param = param === null ? null : scrubSecrets(param);
  return { error };
}

/** 400 invalid_request naming the offending parameter. */
export const invalidRequest = (message: string, param?: string | null): ApiError =>
  new ApiError('invalid_request', message, { param: param ?? null });

export const notFound = (what: string): ApiError => new ApiError('not_found', `No such ${what}`);
