// The origin and the proxies under test: their configs (written to a temp dir) and how to start them;
// also the nginx and Tessera config pieces h2-targets.ts builds on.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort, startProcess, waitForHttp200, waitForPort, type Proc } from './proc.js';

export const SMALL_BODY = 'tessera-bench: a fixed small response body, the same bytes through every proxy '.padEnd(100, '.');
export const BODY_16K = 16 * 1024;

export type TargetName = 'direct' | 'nginx' | 'haproxy' | 'http-proxy' | 'tessera' | 'tessera-log' | 'haproxy-tcp' | 'tessera-tcp';
export const ALL_TARGETS: readonly TargetName[] = ['direct', 'nginx', 'haproxy', 'http-proxy', 'tessera', 'tessera-log', 'haproxy-tcp', 'tessera-tcp'];
export const TCP_TARGETS: ReadonlySet<TargetName> = new Set(['haproxy-tcp', 'tessera-tcp']);

export interface Ctx {
  readonly dir: string; // temp dir for configs, pid files, logs
  readonly repoRoot: string;
  readonly originPort: number;
  /** taskset CPU lists: the proxy under test, and the load side (wrk + origin); undefined = no pinning. */
  readonly proxyCpus?: string;
  readonly loadCpus?: string;
}

export interface Running {
  readonly port: number;
  /** The proxy process (measured with its descendants); undefined for `direct`. */
  readonly proc?: Proc;
}

export const READY_MS = 15_000;

// ---- nginx ----------------------------------------------------------------------------

function nginxPreamble(dir: string, name: string): string {
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}worker_processes 1;
daemon off;
master_process on;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}-error.log warn;
events { worker_connections 8192; }
`;
}

/** keepalive_requests also bounds requests per HTTP/2 connection since nginx 1.19.7 (http2_max_requests is gone). */
function nginxHttpCommon(dir: string, name: string): string {
  const t = `${dir}/${name}-tmp`;
  mkdirSync(t, { recursive: true });
  return `  access_log off;
  client_body_temp_path ${t}/body; proxy_temp_path ${t}/proxy; fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi; scgi_temp_path ${t}/scgi;
  keepalive_requests 100000000; keepalive_timeout 120s;
  client_body_buffer_size 64k; client_max_body_size 1m;
`;
}

/**
 * Writes `<dir>/<name>.conf` — `main` (main-context directives), one worker, the http settings every nginx here
 * shares, then `http` (upstreams and servers) inside the http block — and starts nginx on it as `label`.
 */
export function startNginxConf(label: string, dir: string, name: string, http: string, opts: { cpus?: string; main?: string } = {}): Proc {
  const file = path.join(dir, `${name}.conf`);
  writeFileSync(file, `${opts.main ?? ''}${nginxPreamble(dir, name)}http {\n${nginxHttpCommon(dir, name)}${http}}\n`);
  return startProcess(label, 'nginx', ['-p', dir, '-c', file, '-e', `${dir}/${name}-error.log`], { cpus: opts.cpus });
}

/** Writes the origin's static files under `<dir>/www` (the 16 KiB one) and returns that dir. */
export function writeOriginFiles(dir: string): string {
  const www = path.join(dir, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(path.join(www, '16k'), Buffer.alloc(BODY_16K, 'x'));
  return www;
}

/** The origin's server: /small (100 B), /16k (16 KiB static file), and `post`, by default /post answering 100 B. */
export function originServer(listen: string, www: string, post = `location = /post { default_type text/plain; return 200 "${SMALL_BODY}"; }`): string {
  return `  server {
    listen ${listen} backlog=4096;
    root ${www};
    location = /small { default_type text/plain; return 200 "${SMALL_BODY}"; }
    location = /16k { default_type application/octet-stream; }
    ${post}
  }
`;
}

/** An upstream `upstream` (127.0.0.1:`port`, keepalive) and a server on `listen` whose `location /` is `location`. */
export function nginxProxyServer(listen: string, upstream: string, port: number, location: string): string {
  return `  upstream ${upstream} { server 127.0.0.1:${port}; keepalive 128; keepalive_requests 100000000; }
  server {
    listen ${listen} backlog=4096;
    location / ${location}
  }
`;
}

/** proxy_pass to the origin over HTTP/1.1 with upstream keepalive. */
export function nginxHttpProxyServer(listen: string, originPort: number): string {
  return nginxProxyServer(listen, 'origin', originPort, `{
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }`);
}

// ---- origin -------------------------------------------------------------------------

/** nginx, one worker: /small (100 B), /16k (16 KiB static file), /post (reads the body, answers 100 B). */
export async function startOrigin(dir: string, cpus?: string): Promise<{ port: number; proc: Proc }> {
  const port = await freePort();
  const www = writeOriginFiles(dir);
  const proc = startNginxConf('origin nginx', dir, 'origin', `  sendfile on;\n${originServer(`127.0.0.1:${port}`, www)}`, { cpus });
  await waitForHttp200(port, '/small', READY_MS, proc);
  return { port, proc };
}

// ---- proxies --------------------------------------------------------------------------

async function startNginx(ctx: Ctx): Promise<Running> {
  const port = await freePort();
  const proc = startNginxConf('nginx', ctx.dir, 'proxy', nginxHttpProxyServer(`127.0.0.1:${port}`, ctx.originPort), { cpus: ctx.proxyCpus });
  await waitForPort(port, READY_MS, proc);
  return { port, proc };
}

async function startHaproxy(ctx: Ctx, mode: 'http' | 'tcp'): Promise<Running> {
  const port = await freePort();
  const httpOnly = mode === 'http' ? '  option http-keep-alive\n  http-reuse always\n  timeout http-keep-alive 120s\n' : '';
  const conf = `global
  nbthread 1
  maxconn 4096

defaults
  mode ${mode}
${httpOnly}  timeout connect 1s
  timeout client 120s
  timeout server 120s

frontend fe
  bind 127.0.0.1:${port}
  default_backend origin

backend origin
  server origin 127.0.0.1:${ctx.originPort}
`;
  const file = path.join(ctx.dir, `haproxy-${mode}.cfg`);
  writeFileSync(file, conf);
  // -db: foreground, no daemon, no master-worker: one process, one thread.
  const proc = startProcess(`haproxy-${mode}`, 'haproxy', ['-db', '-f', file], { cpus: ctx.proxyCpus });
  await waitForPort(port, READY_MS, proc);
  return { port, proc };
}

async function startHttpProxy(ctx: Ctx): Promise<Running> {
  const port = await freePort();
  const script = path.join(ctx.repoRoot, 'dist/test/bench/macro/http-proxy-server.js');
  const proc = startProcess('http-proxy', process.execPath, [script, `http://127.0.0.1:${ctx.originPort}`, String(port)], {
    cwd: ctx.repoRoot,
    cpus: ctx.proxyCpus,
  });
  await waitForPort(port, READY_MS, proc);
  return { port, proc };
}

// ---- Tessera ------------------------------------------------------------------------

const sock = (p: number): object => ({ socket_address: { address: '127.0.0.1', port_value: p } });

/** An http_connection_manager (codec_type AUTO) routing every request to the cluster `origin`. */
export function routeAllHcm(statPrefix: string): object {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: statPrefix,
      codec_type: 'AUTO',
      route_config: {
        name: 'bench_route',
        virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'origin' } }] }],
      },
      http_filters: [
        { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
      ],
    },
  };
}

/** The STATIC cluster `origin`: one endpoint, 127.0.0.1:`originPort`. */
export function originCluster(originPort: number): Record<string, unknown> {
  return {
    name: 'origin',
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: { cluster_name: 'origin', endpoints: [{ lb_endpoints: [{ endpoint: { address: sock(originPort) } }] }] },
  };
}

/** An Envoy v3 bootstrap with static_resources only: listener `listener` on `port` with one network filter, one cluster. */
export function staticBootstrap(listener: string, port: number, adminPort: number, filter: object, cluster: object): string {
  return stringify({
    node: { id: 'tessera-bench', cluster: 'bench' },
    admin: { address: sock(adminPort) },
    static_resources: {
      listeners: [{ name: listener, address: sock(port), filter_chains: [{ filters: [filter] }] }],
      clusters: [cluster],
    },
  });
}

/** One listener (HTTP: routing everything; TCP: tcp_proxy), one STATIC cluster `origin`. */
export function tesseraBootstrap(mode: 'http' | 'tcp', port: number, adminPort: number, originPort: number): string {
  const filter =
    mode === 'http'
      ? routeAllHcm('bench_http')
      : {
          name: 'envoy.filters.network.tcp_proxy',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
            stat_prefix: 'bench_tcp',
            cluster: 'origin',
          },
        };
  return staticBootstrap(`bench_${mode}`, port, adminPort, filter, originCluster(originPort));
}

/**
 * Writes `<dir>/<name>.yaml` from `bootstrap(port, adminPort)` (two free ports) and starts `bin/tessera.js sidecar`
 * on it as `name` (NODE_ENV=production; `accessLog`: a file, or 'off'); resolves once the listener accepts.
 */
export async function startSidecar(
  ctx: { readonly dir: string; readonly repoRoot: string; readonly proxyCpus?: string },
  name: string,
  bootstrap: (port: number, adminPort: number) => string,
  accessLog: string,
): Promise<Running & { proc: Proc }> {
  const port = await freePort();
  const adminPort = await freePort();
  const file = path.join(ctx.dir, `${name}.yaml`);
  writeFileSync(file, bootstrap(port, adminPort));
  const proc = startProcess(name, process.execPath, [path.join(ctx.repoRoot, 'bin/tessera.js'), 'sidecar', '--bootstrap', file, '--access-log', accessLog], {
    cwd: ctx.repoRoot,
    env: { ...process.env, NODE_ENV: 'production' },
    cpus: ctx.proxyCpus,
  });
  await waitForPort(port, READY_MS, proc);
  return { port, proc };
}

/**
 * The peers log nothing (nginx `access_log off`, HAProxy without `log`), so `tessera` and `tessera-tcp` run
 * with `--access-log off` to compare like with like; `tessera-log` is the same proxy writing its JSON access
 * log to a file, to show what logging costs.
 */
async function startTessera(ctx: Ctx, mode: 'http' | 'tcp', accessLog = false): Promise<Running> {
  const name = `tessera-${mode}`;
  const running = await startSidecar(ctx, name, (port, adminPort) => tesseraBootstrap(mode, port, adminPort, ctx.originPort), accessLog ? path.join(ctx.dir, `${name}-access.log`) : 'off');
  await waitForHttp200(running.port, '/small', READY_MS, running.proc);
  return running;
}

export function startTarget(name: TargetName, ctx: Ctx): Promise<Running> {
  switch (name) {
    case 'direct':
      return Promise.resolve({ port: ctx.originPort });
    case 'nginx':
      return startNginx(ctx);
    case 'haproxy':
      return startHaproxy(ctx, 'http');
    case 'haproxy-tcp':
      return startHaproxy(ctx, 'tcp');
    case 'http-proxy':
      return startHttpProxy(ctx);
    case 'tessera':
      return startTessera(ctx, 'http');
    case 'tessera-log':
      return startTessera(ctx, 'http', true);
    case 'tessera-tcp':
      return startTessera(ctx, 'tcp');
  }
}
