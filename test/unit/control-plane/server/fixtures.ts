// Shared set-up of the ADS server unit tests: a world builder, a server on 127.0.0.1 and a raw test client.
import type { NodeResources } from '../../../../control-plane/snapshot/snapshot.js';
import { SnapshotCache } from '../../../../control-plane/snapshot/snapshot-cache.js';
import { XdsServer } from '../../../../control-plane/server/xds-server.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { StatsStore } from '../../../../src/observability/stats.js';
import { TypeUrl } from '../../../../src/xds/type-urls.js';
import { AdsTestClient, apiListener, edsCluster, loadAssignment, routeConfig } from '../../../helpers/ads-test-client.js';

export const CDS = TypeUrl.Cluster;
export const EDS = TypeUrl.ClusterLoadAssignment;
export const LDS = TypeUrl.Listener;
export const RDS = TypeUrl.RouteConfiguration;

export interface WorldSpec {
  /** cluster name -> endpoint port (one EDS cluster, assignment, api listener and route per name). */
  readonly ports: Record<string, number>;
  /** connect_timeout seconds of every cluster (changes CDS only). */
  readonly timeout?: number;
  /** Domain of every route (changes RDS only). */
  readonly domain?: string;
  /** stat_prefix suffix of every listener (changes LDS only). */
  readonly listenerTag?: string;
}

export function world(spec: WorldSpec): NodeResources {
  const names = Object.keys(spec.ports).sort();
  return {
    [CDS]: names.map((n) => ({ name: n, resource: { ...edsCluster(n), connect_timeout: { seconds: spec.timeout ?? 1 } } })),
    [EDS]: names.map((n) => ({ name: n, resource: loadAssignment(n, [['127.0.0.1', spec.ports[n]!]]) })),
    [LDS]: names.map((n) => {
      const l = apiListener(n, n) as { api_listener: { api_listener: Record<string, unknown> } };
      l.api_listener.api_listener.stat_prefix = `${n}${spec.listenerTag ?? ''}`;
      return { name: n, resource: l as unknown as Record<string, unknown> };
    }),
    [RDS]: names.map((n) => ({ name: n, resource: routeConfig(n, n, [spec.domain ?? '*']) })),
  };
}

/** A cache, a server on 127.0.0.1:0 and a client to it; `stop()` closes all. */
export async function startServer(): Promise<{
  cache: SnapshotCache;
  server: XdsServer;
  stats: StatsStore;
  client: AdsTestClient;
  port: number;
  stop: () => Promise<void>;
}> {
  const cache = new SnapshotCache();
  const stats = new StatsStore();
  const server = new XdsServer({ cache, logger: silentLogger(), stats });
  const port = await server.listen('127.0.0.1', 0);
  const client = new AdsTestClient(port);
  return {
    cache,
    server,
    stats,
    client,
    port,
    stop: async () => {
      await server.close();
      client.close();
    },
  };
}

export function setOk(cache: SnapshotCache, nodeId: string, spec: WorldSpec): void {
  const errors = cache.set(nodeId, world(spec));
  if (errors.length > 0) throw new Error(errors.join('\n'));
}

/** Resolves after pending setImmediate pushes ran. */
export function tick(): Promise<void> {
  return new Promise((r) => setTimeout(r, 20));
}
