// The control plane's admin HTTP API: readiness, connected proxies, NACKs, stats (not on the data path).
import http from 'node:http';
import { listenHttp, type ListeningHttp } from '../../src/core/net-util.js';
import type { StatsStore } from '../../src/observability/stats.js';
import type { XdsServer } from '../server/xds-server.js';

export type AdminHandle = ListeningHttp;

export interface ControlPlaneAdminOptions {
  readonly host: string;
  readonly port: number;
  readonly server: XdsServer;
  readonly stats: StatsStore;
  readonly info: () => Record<string, unknown>;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startControlPlaneAdmin(opts: ControlPlaneAdminOptions): Promise<AdminHandle> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    switch (url.pathname) {
      case '/ready':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('LIVE\n');
        return;
      case '/status':
        json(res, 200, { proxies: opts.server.status() });
        return;
      case '/nacks':
        json(res, 200, { nacks: opts.server.nacks() });
        return;
      case '/config':
        json(res, 200, opts.info());
        return;
      case '/stats':
        if (url.searchParams.get('format') === 'json') {
          json(res, 200, opts.stats.snapshot());
        } else {
          const lines = Object.entries(opts.stats.snapshot()).map(([k, v]) => `${k}: ${v}`);
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(`${lines.join('\n')}\n`);
        }
        return;
      default:
        json(res, 404, { error: `no admin endpoint ${url.pathname}`, endpoints: ['/ready', '/status', '/nacks', '/config', '/stats'] });
    }
  });
  return listenHttp(server, opts.host, opts.port);
}
