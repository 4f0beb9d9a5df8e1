// Opens an upstream connection for a cluster: plain TCP, or TLS when the cluster has an UpstreamTlsContext
// (the server's chain and SAN are checked before 'secureConnect'). Pools and tcp_proxy wait for `readyEvent`.
import net, { type Socket } from 'node:net';
import type { UpstreamCluster } from '../contracts.js';

export interface UpstreamSocket {
  readonly socket: Socket;
  /** 'connect' for TCP, 'secureConnect' once the TLS handshake and the peer checks passed. */
  readonly readyEvent: 'connect' | 'secureConnect';
}

/**
 * A new upstream socket to `host:port`. With TLS whose secrets have not arrived, the socket fails on the next
 * tick like a refused connection (the caller's connect-failure path counts and retries it).
 */
export function openUpstream(cluster: UpstreamCluster, host: string, port: number): UpstreamSocket {
  const tls = cluster.tls;
  if (tls === null) return { socket: net.connect({ host, port }), readyEvent: 'connect' };
  const s = tls.connect({ host, port });
  if (s !== null) return { socket: s, readyEvent: 'secureConnect' };
  const dead = new net.Socket();
  process.nextTick(() => dead.destroy(Object.assign(new Error(`cluster ${cluster.name}: ${tls.missing}`), { code: 'TESSERA_ERR_TLS_UNAVAILABLE' })));
  return { socket: dead, readyEvent: 'secureConnect' };
}
