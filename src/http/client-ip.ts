/**
 * The client's address, the same for every route (Fastify's `request.ip` and the gateway's fast
 * path use this one trust function): the IP allow-lists and the brute-force guard depend on it.
 *
 * `BACKBONE_TRUST_PROXY` (config) is:
 *  - `false`: the socket's peer address;
 *  - `true`: the left-most address of `X-Forwarded-For` (every hop trusted);
 *  - a hop count N: the address N hops back from this server (Express's meaning, as documented;
 *    Fastify 5 now ignores a bare hop count, so Backbone gives Fastify this function instead);
 *  - addresses / CIDRs / `loopback`, `linklocal`, `uniquelocal`, comma-separated: hops from those
 *    addresses are trusted.
 */
import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

export type TrustFunction = (addr: string, hop: number) => boolean;

export function trustFunction(trustProxy: boolean | number | string): TrustFunction {
  if (trustProxy === true) return () => true;
  if (trustProxy === false) return () => false;
  if (typeof trustProxy === 'number') return (_addr, hop) => hop < trustProxy;
  return proxyAddr.compile(trustProxy.split(',').map((s) => s.trim()).filter(Boolean));
}

/** The client's address: the first untrusted hop, walking back from this server's peer. */
export function clientIp(req: IncomingMessage, trust: TrustFunction): string {
  const addrs = proxyAddr.all(req, trust);
  return addrs[addrs.length - 1] ?? req.socket.remoteAddress ?? '';
}
