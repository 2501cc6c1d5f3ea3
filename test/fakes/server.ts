/**
 * Base for the local fake provider servers. Each fake (openai, azure-openai, anthropic, vertex-ai,
 * ollama) registers its routes here and speaks its provider's documented wire format; this base
 * records every request and applies queued faults (status errors, delays, resets, hangs) so tests
 * can exercise the gateway's failure handling against a real socket.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  /** path + query */
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  text: string;
  /** Parsed JSON body, when it was JSON. */
  json?: any;
  /** Set when the client went away before the response ended (for abort/cancel tests). */
  aborted: boolean;
}

/** A fault applied to the next request(s) instead of the normal handler. */
export type Fault =
  /** Answer with this status and body (the fake's own error-body shape when body is omitted). */
  | { type: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** Wait before handling normally (for first-byte timeout tests). */
  | { type: 'delay'; ms: number }
  /** Accept the request and never answer. */
  | { type: 'hang' }
  /** Destroy the socket without answering. */
  | { type: 'reset' }
  /** Stream normally but destroy the socket after this many SSE events / NDJSON lines. */
  | { type: 'reset-mid-stream'; afterEvents: number }
  /** Stream normally but pause this long between events (for abort tests). */
  | { type: 'slow-stream'; intervalMs: number };

export interface FakeContext {
  req: IncomingMessage;
  res: ServerResponse;
  recorded: RecordedRequest;
  /** The fault applied to this request (stream faults are honoured by `writeEvents`). */
  fault?: Fault;
}

export type Handler = (ctx: FakeContext, params: Record<string, string>) => void | Promise<void>;

export interface Route {
  method: 'GET' | 'POST';
  /** Path pattern; `:name` matches one segment, and a trailing `*rest` matches the remainder. */
  path: string;
  handler: Handler;
}

export interface FakeServer {
  /** http://127.0.0.1:PORT (no trailing slash) */
  origin: string;
  requests: RecordedRequest[];
  /** Queue a fault for the next request (FIFO; one fault per request). */
  fault(f: Fault): void;
  /** Drop faults still queued (when fewer requests than expected reached the fake). */
  clearFaults(): void;
  /** Requests whose client disconnected early. */
  abortedCount(): number;
  close(): Promise<void>;
}

export interface FakeOptions {
  routes: Route[];
  /** Build this provider's error body for a status fault without an explicit body. */
  errorBody: (status: number, message: string) => unknown;
}

function compile(pattern: string): (path: string) => Record<string, string> | null {
  const parts = pattern.split('/');
  return (path) => {
    const segs = path.split('/');
    const params: Record<string, string> = {};
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (p.startsWith('*')) {
        params[p.slice(1)] = decodeURIComponent(segs.slice(i).join('/'));
        return params;
      }
      const s = segs[i];
      if (s === undefined) return null;
      if (p.startsWith(':')) {
        // allow `:model:generateContent` style (Gemini): `:name` then a literal suffix after ':'
        const colon = p.indexOf(':', 1);
        if (colon > 0) {
          const suffix = p.slice(colon);
          if (!s.endsWith(suffix)) return null;
          params[p.slice(1, colon)] = decodeURIComponent(s.slice(0, -suffix.length));
        } else params[p.slice(1)] = decodeURIComponent(s);
      } else if (p !== s) return null;
    }
    return segs.length === parts.length ? params : null;
  };
}

export async function startFakeServer(opts: FakeOptions): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const sockets = new Set<Socket>();
  const routes = opts.routes.map((r) => ({ ...r, match: compile(r.path) }));

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const text = body.toString('utf8');
    const u = new URL(req.url ?? '/', 'http://x');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET', path: u.pathname, url: req.url ?? '/', headers: req.headers,
      body, text, aborted: false,
    };
    if ((req.headers['content-type'] ?? '').includes('json') && text) {
      try { recorded.json = JSON.parse(text); } catch { /* left undefined: handler may reject */ }
    }
    requests.push(recorded);
    res.on('close', () => { if (!res.writableFinished) recorded.aborted = true; });

    const fault = faults.shift();
    if (fault?.type === 'reset') { req.socket.destroy(); return; }
    if (fault?.type === 'hang') return;
    if (fault?.type === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
    if (fault?.type === 'status') {
      const payload = fault.body ?? opts.errorBody(fault.status, `fake error ${fault.status}`);
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
      return;
    }
    for (const r of routes) {
      if (r.method !== req.method) continue;
      const params = r.match(u.pathname);
      if (!params) continue;
      try {
        await r.handler({ req, res, recorded, fault }, params);
      } catch (err) {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify(opts.errorBody(500, String(err))));
        } else res.destroy();
      }
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(opts.errorBody(404, `no route ${req.method} ${u.pathname}`)));
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    fault: (f) => { faults.push(f); },
    clearFaults: () => { faults.length = 0; },
    abortedCount: () => requests.filter((r) => r.aborted).length,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** JSON response helper. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/**
 * Write a sequence of frames (already-formatted SSE events `event: x\ndata: {...}\n\n`, or NDJSON
 * lines) honouring stream faults: reset after N frames, or a pause between frames. Resolves when done
 * or when the client went away.
 */
export async function writeFrames(ctx: FakeContext, contentType: string, frames: string[]): Promise<void> {
  const { res, fault } = ctx;
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache', connection: 'keep-alive' });
  for (let i = 0; i < frames.length; i++) {
    if (res.destroyed) return;
    if (fault?.type === 'reset-mid-stream' && i >= fault.afterEvents) { res.socket?.destroy(); return; }
    if (fault?.type === 'slow-stream' && i > 0) await new Promise((r) => setTimeout(r, fault.intervalMs));
    if (res.destroyed) return;
    // Before a planned reset, wait until each frame is flushed to the socket, so the client really
    // receives the first frames (a destroy() would otherwise discard the buffered writes).
    if (fault?.type === 'reset-mid-stream') await new Promise<void>((resolve) => res.write(frames[i], () => resolve()));
    else res.write(frames[i]);
  }
  res.end();
}

/** Format one SSE event. */
export function sse(data: unknown, event?: string): string {
  const d = typeof data === 'string' ? data : JSON.stringify(data);
  return `${event ? `event: ${event}\n` : ''}data: ${d}\n\n`;
}

/** The text of the last user message of an OpenAI-, Anthropic-, Gemini- or Ollama-shaped request,
 *  used by the fakes to pick a scenario: `[tools]` answers with two tool calls, `[length]` stops at
 *  the token limit, anything else gets a plain answer. */
export function lastUserText(messages: any[] | undefined): string {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role !== 'user') continue;
    const c = m.content ?? m.parts;
    if (typeof c === 'string') return c;
    if (Array.isArray(c)) return c.map((p: any) => p?.text ?? '').join(' ');
  }
  return '';
}
