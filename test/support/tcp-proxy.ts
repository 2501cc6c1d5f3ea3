/**
 * A TCP proxy a test can cut, hang and restore: "the store is down" for one app without touching
 * the shared PostgreSQL.
 * - `cut()` destroys every open connection and refuses new ones (closed at once): a refused store.
 * - `hang()` stops forwarding on open connections and holds new ones without an answer: a hung
 *   store or a partition (nothing is closed, nothing answers).
 * - `restore()` forwards again (held connections are connected and their bytes flow).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export interface TcpProxy {
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string;
  cut(): void;
  hang(): void;
  restore(): void;
  close(): Promise<void>;
}

interface Pair { client: Socket; upstream: Socket }

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let mode: 'open' | 'cut' | 'hang' = 'open';
  const pairs = new Set<Pair>();
  const held = new Set<Socket>();

  const link = (client: Socket) => {
    const pair: Pair = { client, upstream: connect(targetPort, targetHost) };
    pairs.add(pair);
    const end = () => { pair.client.destroy(); pair.upstream.destroy(); pairs.delete(pair); };
    client.on('error', end).on('close', end);
    pair.upstream.on('error', end).on('close', end);
    client.pipe(pair.upstream);
    pair.upstream.pipe(client);
  };
  const server: Server = createServer((client) => {
    if (mode === 'cut') { client.destroy(); return; }
    if (mode === 'hang') {
      client.pause();
      held.add(client);
      client.on('error', () => held.delete(client)).on('close', () => held.delete(client));
      return;
    }
    link(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const destroyAll = () => {
    for (const p of pairs) { p.client.destroy(); p.upstream.destroy(); }
    pairs.clear();
    for (const c of held) c.destroy();
    held.clear();
  };
  return {
    port,
    via(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut() {
      mode = 'cut';
      destroyAll();
    },
    hang() {
      mode = 'hang';
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    restore() {
      const wasHung = mode === 'hang';
      mode = 'open';
      if (!wasHung) return;
      for (const { client, upstream } of pairs) {
        client.pipe(upstream);
        upstream.pipe(client);
      }
      for (const c of held) link(c);
      held.clear();
    },
    async close() {
      mode = 'cut';
      destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
