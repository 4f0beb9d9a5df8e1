// The sidecar's admin HTTP API (Envoy's paths): /ready, /config_dump, /clusters, /stats, /certs. Not on the data path.
import http from 'node:http';
import { listenHttp, type ListeningHttp } from '../../src/core/net-util.js';
import type { SocketAddress } from '../../src/xds/resources/types.js';
import type { Sidecar } from '../server.js';
import { HealthFlag } from '../contracts.js';

export type SidecarAdminHandle = ListeningHttp;

function send(res: http.ServerResponse, status: number, type: string, text: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function json(res: http.ServerResponse, body: unknown): void {
  send(res, 200, 'application/json', `${JSON.stringify(body, null, 2)}\n`);
}

export function configDump(sidecar: Sidecar): Record<string, unknown> {
  const b = sidecar.ctx;
  return {
    node: { id: b.nodeId },
    ready: sidecar.ready,
    xds: sidecar.ads ? sidecar.ads.snapshot() : null,
    listeners: sidecar.listeners.listeners(),
    clusters: sidecar.clusters.all().map((c) => ({ name: c.name, type: c.config.type, raw: c.config.raw })),
  };
}

/** Envoy's /certs, for the workload identity: certificates with serials, SANs and expiry; never the key. */
export function certsView(sidecar: Sidecar): Record<string, unknown> {
  const m = sidecar.identity?.current ?? null;
  if (m === null) return { certificates: [] };
  const now = Date.now();
  return {
    certificates: [
      {
        secret_name: 'default',
        spiffe_id: m.spiffeId,
        valid_from: new Date(m.notBefore).toISOString(),
        expiration_time: new Date(m.notAfter).toISOString(),
        seconds_until_expiration: Math.floor((m.notAfter - now) / 1000),
        cert_chain_pem: m.certChainPem,
      },
      { secret_name: 'ROOTCA', trust_bundle_pem: m.trustBundlePem },
    ],
  };
}

export function clustersView(sidecar: Sidecar): Record<string, unknown>[] {
  return sidecar.clusters.all().map((c) => ({
    name: c.name,
    type: c.config.type,
    lb_policy: c.config.lbPolicy,
    endpoints: c.endpoints().map((e) => ({
      address: e.key,
      healthy: e.healthy,
      health_flags: healthFlagNames(e.healthFlags, e.degraded),
      priority: e.priority,
      removed: e.removed,
      weight: e.weight,
      labels: e.labels,
      rq_active: e.activeRequests,
      rq_total: e.rqTotal,
      rq_error: e.rqError,
      cx_active: e.cxActive,
    })),
  }));
}

/** Envoy's /clusters health_flags text: 'healthy' or '/failed_active_hc/failed_outlier_check…'. */
export function healthFlagNames(flags: number, degraded: boolean): string {
  let s = '';
  if (flags & HealthFlag.FailedActiveHc) s += '/failed_active_hc';
  if (flags & HealthFlag.FailedOutlierCheck) s += '/failed_outlier_check';
  if (flags & HealthFlag.FailedEds) s += '/failed_eds_health';
  if (degraded) s += '/degraded_eds_health';
  return s === '' ? 'healthy' : s;
}

function clustersText(sidecar: Sidecar): string {
  const lines: string[] = [];
  for (const c of clustersView(sidecar)) {
    for (const e of c.endpoints as Record<string, unknown>[]) {
      const p = `${String(c.name)}::${String(e.address)}`;
      lines.push(`${p}::health_flags::${String(e.health_flags)}`);
      lines.push(`${p}::priority::${String(e.priority)}`);
      lines.push(`${p}::rq_active::${String(e.rq_active)}`, `${p}::rq_total::${String(e.rq_total)}`, `${p}::rq_error::${String(e.rq_error)}`);
      lines.push(`${p}::cx_active::${String(e.cx_active)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function startSidecarAdmin(opts: { address: SocketAddress; sidecar: Sidecar }): Promise<SidecarAdminHandle> {
  const { sidecar } = opts;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const asJson = url.searchParams.get('format') === 'json';
    switch (url.pathname) {
      case '/ready':
        send(res, sidecar.ready ? 200 : 503, 'text/plain', sidecar.ready ? 'LIVE\n' : 'NOT READY\n');
        return;
      case '/config_dump':
        json(res, configDump(sidecar));
        return;
      case '/clusters':
        if (asJson) json(res, { clusters: clustersView(sidecar) });
        else send(res, 200, 'text/plain', clustersText(sidecar));
        return;
      case '/stats': {
        const filter = url.searchParams.get('filter') ?? '';
        const snap = sidecar.stats.snapshot();
        const entries = Object.entries(snap).filter(([k]) => filter === '' || k.includes(filter));
        if (asJson) json(res, Object.fromEntries(entries));
        else send(res, 200, 'text/plain', `${entries.map(([k, v]) => `${k}: ${v}`).join('\n')}\n`);
        return;
      }
      case '/certs':
        json(res, certsView(sidecar));
        return;
      case '/':
        send(res, 200, 'text/plain', 'tessera sidecar admin: /ready /config_dump /clusters[?format=json] /stats[?format=json&filter=] /certs\n');
        return;
      default:
        send(res, 404, 'text/plain', `no admin endpoint ${url.pathname}\n`);
    }
  });
  return listenHttp(server, opts.address.address, opts.address.port);
}
