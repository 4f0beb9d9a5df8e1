// Integration-test helpers: temp dirs, free ports, real control-plane/sidecar processes, upstream apps, HTTP clients.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { freePort } from '../../src/core/net-util.js';
import { spawnReady, stopChild, type ReadyChild } from '../../src/cli/processes.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = path.join(REPO, 'bin', 'tessera.js');
const runFile = promisify(execFile);

export function tempDir(prefix = 'tessera-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export { freePort };

export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

/** Runs `tessera <args>` and waits for its ready line. Output goes to `<dir>/<name>.log`. */
export function startTessera(args: string[], opts: { dir: string; name: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<ReadyChild> {
  return spawnReady(process.execPath, [BIN, ...args], {
    logFile: path.join(opts.dir, `${opts.name}.log`),
    env: { ...process.env, TESSERA_LOG_LEVEL: 'info', ...opts.env },
    timeoutMs: opts.timeoutMs ?? 20000,
    echo: process.env.TESSERA_TEST_ECHO === '1',
  });
}

export { stopChild, type ReadyChild };

/** A control plane in CA mode (trust domain `td`, CA in `<dir>/ca`) serving `meshYaml`, and its proxies. */
export interface ZeroTrustMesh {
  readonly cp: ReadyChild;
  readonly caDir: string;
  /** Every process started (control plane first); stop them in reverse. */
  readonly children: ReadyChild[];
  /** Starts `tessera sidecar` (or `gateway`) for `node` with a fresh bootstrap token for ns default / `sa`. */
  proxy(node: string, sa: string, opts?: { command?: 'sidecar' | 'gateway'; adminPort?: number; extra?: string[] }): Promise<ReadyChild>;
}

export async function startZeroTrustMesh(dir: string, meshYaml: string, td: string): Promise<ZeroTrustMesh> {
  const caDir = path.join(dir, 'ca');
  writeFileSync(path.join(dir, 'mesh.yaml'), meshYaml);
  const cp = await startTessera(['control-plane', '--config', path.join(dir, 'mesh.yaml'), '--xds-port', '0', '--admin-port', '0', '--trust-domain', td, '--ca-dir', caDir], { dir, name: 'cp' });
  const children: ReadyChild[] = [cp];
  return {
    cp,
    caDir,
    children,
    async proxy(node, sa, opts = {}) {
      const { stdout } = await runFile(process.execPath, [BIN, 'token', '--ca-dir', caDir, '--node', node, '--namespace', 'default', '--service-account', sa]);
      const tokenFile = path.join(dir, `${node}-${sa}.token`);
      writeFileSync(tokenFile, stdout);
      const child = await startTessera(
        [opts.command ?? 'sidecar', '--node-id', node, '--xds', `127.0.0.1:${cp.ready.xds_port}`, '--admin-port', String(opts.adminPort ?? 0),
          '--xds-ca', path.join(caDir, 'root-cert.pem'), '--xds-san', `spiffe://${td}/ns/tessera-system/sa/control-plane`, '--token-file', tokenFile,
          '--access-log', 'off', ...(opts.extra ?? [])],
        { dir, name: `${node}-${sa}` },
      );
      children.push(child);
      return child;
    },
  };
}

/** A plain node:http upstream that answers JSON `{name, method, path, headers}` (or a custom handler). */
export interface Upstream {
  readonly port: number;
  readonly name: string;
  requests: number;
  close(): Promise<void>;
}

export async function startUpstream(
  name: string,
  handler?: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  port = 0,
): Promise<Upstream> {
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests++;
    if (handler) {
      handler(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({ name, method: req.method, path: req.url, headers: req.headers, body_bytes: Buffer.concat(chunks).length });
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 30000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const up: Upstream = {
    port: (server.address() as AddressInfo).port,
    name,
    get requests() {
      return state.requests;
    },
    set requests(v: number) {
      state.requests = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return up;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; agent?: http.Agent | false; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false, timeout: opts.timeoutMs ?? 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then throws with the last error). */
export async function eventually<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs = 10000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}

/**
 * Steady load: `concurrency` keep-alive loops hitting `url` until stop() — bounded by `maxMs` and `maxRequests`.
 * Records every status (and errors) so a test can assert zero failures.
 */
export function startLoad(url: string, opts: { concurrency?: number; maxMs?: number; maxRequests?: number; headers?: Record<string, string> } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 4 });
  const stats = { ok: 0, failed: 0, statuses: new Map<number, number>(), errors: [] as string[] };
  let running = true;
  const deadline = Date.now() + (opts.maxMs ?? 60000);
  const maxRequests = opts.maxRequests ?? 200000;
  const loop = async () => {
    while (running && Date.now() < deadline && stats.ok + stats.failed < maxRequests) {
      try {
        const r = await request(url, { agent, headers: opts.headers });
        stats.statuses.set(r.status, (stats.statuses.get(r.status) ?? 0) + 1);
        if (r.status === 200) stats.ok++;
        else {
          stats.failed++;
          if (stats.errors.length < 20) stats.errors.push(`status ${r.status}: ${r.body.slice(0, 200)}`);
        }
      } catch (e) {
        stats.failed++;
        if (stats.errors.length < 20) stats.errors.push((e as Error).message);
      }
    }
  };
  const loops = Array.from({ length: opts.concurrency ?? 4 }, () => loop());
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return stats;
    },
  };
}

/** An Envoy v3 bootstrap with one static HTTP listener routing everything to one STATIC cluster (no xDS). */
export function staticBootstrap(o: { nodeId: string; listenPort: number; adminPort: number; upstreamPort: number }): string {
  return `node: { id: ${o.nodeId}, cluster: test }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: ${o.adminPort} } } }
static_resources:
  listeners:
    - name: main
      address: { socket_address: { address: 127.0.0.1, port_value: ${o.listenPort} } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: main
                route_config:
                  name: local
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: { prefix: "/" }
                          route: { cluster: backend }
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: backend
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: backend
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${o.upstreamPort} } } }
`;
}
