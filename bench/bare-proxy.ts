/**
 * The floor for one extra Node hop: a node:http server that forwards every request to the upstream
 * over an undici keep-alive Pool and pipes the body both ways (`pool.stream`: the request body from
 * the client socket, the response body straight into the client response) — no parsing, no auth,
 * no metering. (`pool.request` + `stream.pipeline` costs ~2.5x the CPU per request: AbortSignals and
 * an extra Readable per call; a floor should be the cheap way.)
 * Run as its own process by the gateway benchmark: `UPSTREAM=http://127.0.0.1:N node --import tsx
 * bench/bare-proxy.ts`; reports `{ port }` over IPC.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';

const upstream = process.env.UPSTREAM;
if (!upstream) throw new Error('UPSTREAM (the upstream origin) is required');
const pool = new Pool(upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000 });

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);
function forwardable(h: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

const server = createServer({ keepAliveTimeout: 60_000, noDelay: true }, (req, res) => {
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  // undici's stream(): the request body is piped from `req`, the response body straight into `res`.
  pool.stream(
    { method: req.method as 'POST', path: req.url ?? '/', headers: forwardable(req.headers), body: hasBody ? req : null },
    ({ statusCode, headers }) => {
      res.writeHead(statusCode, forwardable(headers));
      return res;
    },
    (err) => {
      if (!err) return;
      if (res.headersSent) { res.destroy(); return; }
      const body = JSON.stringify({ error: { message: `upstream: ${err.message}`, type: 'api_error', code: 'upstream_error' } });
      res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
  );
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  if (process.send) process.send({ port });
  else console.log(`bare proxy on http://127.0.0.1:${port} -> ${upstream}`);
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
