// Test helpers: a minimal SidecarContext over the real ClusterManagerImpl, and STATIC cluster configs.
import net from 'node:net';
import type { SidecarContext } from '../../../../sidecar/contracts.js';
import { RdsRouteProvider, buildRouteTable } from '../../../../sidecar/router/route-table.js';
import { SecretStore } from '../../../../sidecar/tls/secrets.js';
import { ClusterManagerImpl } from '../../../../sidecar/upstream/cluster-manager.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { StatsStore } from '../../../../src/observability/stats.js';
import type { ClusterConfig, TcpProxyConfig } from '../../../../src/xds/resources/types.js';
import { UnusedConnPool, clusterConfig } from '../../../helpers/http-fakes.js';

export function testContext(random: () => number = () => 0): SidecarContext & { clusters: ClusterManagerImpl } {
  const stats = new StatsStore();
  const logger = silentLogger();
  return {
    nodeId: 'test-node',
    stats,
    logger,
    accessLogger: logger,
    clusters: new ClusterManagerImpl(stats, logger, random),
    routes: new RdsRouteProvider(random),
    compileRouteTable: (cfg) => buildRouteTable(cfg, random),
    connPools: { http1: new UnusedConnPool('HTTP/1.1'), http2: new UnusedConnPool('HTTP/2') },
    secrets: new SecretStore(),
  };
}

export function staticCluster(name: string, ports: number[], connectTimeoutMs = 1000): ClusterConfig {
  return clusterConfig(name, {
    connectTimeoutMs,
    loadAssignment: {
      clusterName: name,
      localities: [
        {
          locality: { region: '', zone: '', subZone: '' },
          weight: 1,
          priority: 0,
          endpoints: ports.map((port) => ({ address: { address: '127.0.0.1', port }, healthStatus: 'HEALTHY' as const, weight: 1, labels: {} })),
        },
      ],
      overprovisioningFactor: 140,
      raw: {},
    },
    raw: {},
  });
}

export function tcpProxyConfig(over: Partial<TcpProxyConfig> = {}): TcpProxyConfig {
  return { kind: 'tcp_proxy', statPrefix: 'tp', cluster: 'up', weightedClusters: null, idleTimeoutMs: 0, maxConnectAttempts: 1, ...over };
}

/** Listens on 127.0.0.1:0; resolves with the server and its port. */
export function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** A port with nothing listening on it (bound then released). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}

/** Upper-casing echo server that half-closes when the client does. */
export function echoServer(): net.Server {
  return net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d: Buffer) => s.write(d.toString('latin1').toUpperCase(), 'latin1'));
    s.on('end', () => s.end());
    s.on('error', () => {});
  });
}

/** Collects everything a socket sends until 'end' (or 'close'); `closed` reports a reset. */
export function collect(sock: net.Socket): Promise<{ data: Buffer; ended: boolean; hadError: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let ended = false;
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('end', () => (ended = true));
    sock.on('error', () => {});
    sock.on('close', (hadError) => resolve({ data: Buffer.concat(chunks), ended, hadError }));
  });
}

/** Resolves when `cond()` holds, polling every 5 ms; rejects after `ms`. */
export async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
