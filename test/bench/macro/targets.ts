// The origin and the proxies under test: their configs (written to a temp dir) and how to start them.
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

const READY_MS = 15_000;

// ---- origin -------------------------------------------------------------------------

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

/** nginx, one worker: /small (100 B), /16k (16 KiB static file), /post (reads the body, answers 100 B). */
export async function startOrigin(dir: string, cpus?: string): Promise<{ port: number; proc: Proc }> {
  const port = await freePort();
  const www = path.join(dir, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(path.join(www, '16k'), Buffer.alloc(BODY_16K, 'x'));
  const conf = `${nginxPreamble(dir, 'origin')}http {
${nginxHttpCommon(dir, 'origin')}  sendfile on;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${www};
    location = /small { default_type text/plain; return 200 "${SMALL_BODY}"; }
    location = /16k { default_type application/octet-stream; }
    location = /post { default_type text/plain; return 200 "${SMALL_BODY}"; }
  }
}
`;
  const file = path.join(dir, 'origin.conf');
  writeFileSync(file, conf);
  const proc = startProcess('origin nginx', 'nginx', ['-p', dir, '-c', file, '-e', `${dir}/origin-error.log`], { cpus });
  await waitForHttp200(port, '/small', READY_MS, proc);
  return { port, proc };
}

// ---- proxies --------------------------------------------------------------------------

async function startNginx(ctx: Ctx): Promise<Running> {
  const port = await freePort();
  const conf = `${nginxPreamble(ctx.dir, 'proxy')}http {
${nginxHttpCommon(ctx.dir, 'proxy')}  upstream origin { server 127.0.0.1:${ctx.originPort}; keepalive 128; keepalive_requests 100000000; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
  const file = path.join(ctx.dir, 'proxy-nginx.conf');
  writeFileSync(file, conf);
  const proc = startProcess('nginx', 'nginx', ['-p', ctx.dir, '-c', file, '-e', `${ctx.dir}/proxy-error.log`], { cpus: ctx.proxyCpus });
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

/** An Envoy v3 bootstrap with static_resources only: one listener, one STATIC cluster `origin`. */
export function tesseraBootstrap(mode: 'http' | 'tcp', port: number, adminPort: number, originPort: number): string {
  const filter =
    mode === 'http'
      ? {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
            stat_prefix: 'bench_http',
            codec_type: 'AUTO',
            route_config: {
              name: 'bench_route',
              virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'origin' } }] }],
            },
            http_filters: [
              {
                name: 'envoy.filters.http.router',
                typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
              },
            ],
          },
        }
      : {
          name: 'envoy.filters.network.tcp_proxy',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
            stat_prefix: 'bench_tcp',
            cluster: 'origin',
          },
        };
  const sock = (p: number): object => ({ socket_address: { address: '127.0.0.1', port_value: p } });
  return stringify({
    node: { id: 'tessera-bench', cluster: 'bench' },
    admin: { address: sock(adminPort) },
    static_resources: {
      listeners: [{ name: `bench_${mode}`, address: sock(port), filter_chains: [{ filters: [filter] }] }],
      clusters: [
        {
          name: 'origin',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: { cluster_name: 'origin', endpoints: [{ lb_endpoints: [{ endpoint: { address: sock(originPort) } }] }] },
        },
      ],
    },
  });
}

/**
 * The peers log nothing (nginx `access_log off`, HAProxy without `log`), so `tessera` and `tessera-tcp` run
 * with `--access-log off` to compare like with like; `tessera-log` is the same proxy writing its JSON access
 * log to a file, to show what logging costs.
 */
async function startTessera(ctx: Ctx, mode: 'http' | 'tcp', accessLog = false): Promise<Running> {
  const port = await freePort();
  const adminPort = await freePort();
  const file = path.join(ctx.dir, `tessera-${mode}.yaml`);
  writeFileSync(file, tesseraBootstrap(mode, port, adminPort, ctx.originPort));
  const proc = startProcess(`tessera-${mode}`, process.execPath, [path.join(ctx.repoRoot, 'bin/tessera.js'), 'sidecar', '--bootstrap', file, '--access-log', accessLog ? path.join(ctx.dir, `tessera-${mode}-access.log`) : 'off'], {
    cwd: ctx.repoRoot,
    env: { ...process.env, NODE_ENV: 'production' },
    cpus: ctx.proxyCpus,
  });
  await waitForPort(port, READY_MS, proc);
  await waitForHttp200(port, '/small', READY_MS, proc);
  return { port, proc };
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
