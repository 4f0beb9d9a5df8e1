// The origins and proxies of the HTTP/2 + gRPC macro benchmark: configs written to a temp dir,
// processes started with proc.ts, and an h2c client (node:http2) for readiness and sanity checks.
import { existsSync } from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, waitForHttp200, waitForPort, type Proc } from './proc.js';
import {
  READY_MS,
  SMALL_BODY,
  nginxHttpProxyServer,
  nginxProxyServer,
  originCluster,
  originServer,
  routeAllHcm,
  startNginxConf,
  startSidecar,
  staticBootstrap,
  writeOriginFiles,
  type Running,
} from './targets.js';

export const ECHO_PATH = '/tessera.bench.Echo/Echo';
export const COUNT_PATH = '/tessera.bench.Echo/Count';

/** gRPC length-prefixed message: compressed flag 0, 4-byte big-endian length, payload. */
export function grpcFrame(payload: Buffer): Buffer {
  const b = Buffer.alloc(5 + payload.length);
  b.writeUInt32BE(payload.length, 1);
  payload.copy(b, 5);
  return b;
}

/** A 100-byte protobuf message (field 1, a 98-byte string): what a small unary call carries. */
export const GRPC_PAYLOAD_100B: Buffer = Buffer.concat([Buffer.from([0x0a, 98]), Buffer.alloc(98, 'g')]);
export const GRPC_HEADERS: readonly string[] = ['content-type: application/grpc', 'te: trailers'];

export type H2TargetName = 'direct-h2' | 'nginx-h2' | 'tessera-h2' | 'direct-grpc' | 'nginx-grpc' | 'tessera-grpc';
export const H2_TARGETS: readonly H2TargetName[] = ['direct-h2', 'nginx-h2', 'tessera-h2', 'direct-grpc', 'nginx-grpc', 'tessera-grpc'];
export const GRPC_TARGETS: ReadonlySet<H2TargetName> = new Set(['direct-grpc', 'nginx-grpc', 'tessera-grpc']);

export interface H2Ctx {
  readonly dir: string;
  readonly repoRoot: string;
  /** The nginx origin: the same worker listens HTTP/1.1 (proxies' upstream) and h2c (direct-h2). */
  readonly originH1Port: number;
  readonly originH2Port: number;
  /** The grpc-js origin (h2c). */
  readonly grpcPort: number;
  readonly proxyCpus?: string;
  readonly loadCpus?: string;
}

// ---- nginx ------------------------------------------------------------------------------
// Built from targets.ts's pieces: the same preamble and http settings, origin server and proxy_pass server.

/** Debian's nginx-light pulls in the echo module; the h2c listener needs it to read POST bodies (see below). */
const ECHO_MODULE = '/usr/lib/nginx/modules/ngx_http_echo_module.so';

export interface H2Origin {
  readonly h1Port: number;
  readonly h2Port: number;
  readonly proc: Proc;
  /** Set when the h2c listener's /post only discards the body (no echo module): direct-h2 post-16k stalls then. */
  readonly note: string | null;
}

/**
 * nginx, one worker: the origin of targets.ts (/small, /16k, /post) on an HTTP/1.1 port (the proxies'
 * upstream, configured exactly as in targets.ts) and an h2c port (direct-h2). On the h2c port `return 200`
 * for a POST makes nginx 1.22 discard the body, and its HTTP/2 discard path stalls connections after a few
 * hundred 16 KiB bodies (measured: ~1.8k rps, idle connections); reading the body with the echo module's
 * echo_read_request_body does what the HTTP/1.1 origin does and runs at full speed.
 */
export async function startH2Origin(dir: string, cpus?: string): Promise<H2Origin> {
  const h1Port = await freePort();
  const h2Port = await freePort();
  const www = writeOriginFiles(dir);
  const echo = existsSync(ECHO_MODULE);
  const h2Post = echo ? `location = /post { default_type text/plain; echo_read_request_body; echo -n "${SMALL_BODY}"; }` : undefined;
  const servers = `  sendfile on;\n${originServer(`127.0.0.1:${h1Port}`, www)}${originServer(`127.0.0.1:${h2Port} http2`, www, h2Post)}`;
  const proc = startNginxConf('h2-origin', dir, 'h2-origin', servers, { cpus, main: echo ? `load_module ${ECHO_MODULE};\n` : '' });
  await waitForHttp200(h1Port, '/small', READY_MS, proc);
  await waitForPort(h2Port, READY_MS, proc);
  const note = echo ? null : `${ECHO_MODULE} missing: the h2c origin discards POST bodies, which stalls direct-h2 post-16k`;
  return { h1Port, h2Port, proc, note };
}

/** The grpc-js origin (grpc-origin.js next to this file), one process. */
export async function startGrpcOrigin(cpus?: string): Promise<{ port: number; proc: Proc }> {
  const port = await freePort();
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'grpc-origin.js');
  const proc = startProcess('grpc origin', process.execPath, [script, String(port)], { cpus });
  await waitForPort(port, READY_MS, proc);
  return { port, proc };
}

/**
 * nginx-h2: h2c downstream, proxy_pass over HTTP/1.1 to the origin (as targets.ts's nginx); nginx-grpc: grpc_pass,
 * h2c both sides (nginx uses one upstream connection per call, kept alive).
 */
async function startNginxH2(ctx: H2Ctx, kind: 'h2' | 'grpc'): Promise<Running> {
  const port = await freePort();
  const listen = `127.0.0.1:${port} http2`;
  const servers =
    kind === 'h2'
      ? nginxHttpProxyServer(listen, ctx.originH1Port)
      : nginxProxyServer(listen, 'grpc_origin', ctx.grpcPort, '{ grpc_pass grpc://grpc_origin; }');
  const name = `proxy-nginx-${kind}`;
  const proc = startNginxConf(name, ctx.dir, name, servers, { cpus: ctx.proxyCpus });
  await waitForPort(port, READY_MS, proc);
  return { port, proc };
}

// ---- Tessera ------------------------------------------------------------------------------

/**
 * An Envoy v3 static bootstrap: one listener with an http_connection_manager (codec_type AUTO: h2c by
 * its preface, else HTTP/1.1) routing everything to the STATIC cluster `origin`; `upstream: 'http2'`
 * makes the cluster speak h2c through typed_extension_protocol_options (Envoy's HttpProtocolOptions).
 */
export function tesseraH2Bootstrap(port: number, adminPort: number, originPort: number, upstream: 'http1' | 'http2'): string {
  const cluster = originCluster(originPort);
  if (upstream === 'http2') {
    cluster.typed_extension_protocol_options = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  }
  return staticBootstrap('bench_h2', port, adminPort, routeAllHcm('bench_h2'), cluster);
}

function startTesseraH2(ctx: H2Ctx, kind: 'h2' | 'grpc'): Promise<Running> {
  const originPort = kind === 'grpc' ? ctx.grpcPort : ctx.originH1Port;
  const upstream = kind === 'grpc' ? 'http2' : 'http1';
  return startSidecar(ctx, `tessera-${kind}`, (port, adminPort) => tesseraH2Bootstrap(port, adminPort, originPort, upstream), 'off');
}

export function startH2Target(name: H2TargetName, ctx: H2Ctx): Promise<Running> {
  switch (name) {
    case 'direct-h2':
      return Promise.resolve({ port: ctx.originH2Port });
    case 'direct-grpc':
      return Promise.resolve({ port: ctx.grpcPort });
    case 'nginx-h2':
      return startNginxH2(ctx, 'h2');
    case 'nginx-grpc':
      return startNginxH2(ctx, 'grpc');
    case 'tessera-h2':
      return startTesseraH2(ctx, 'h2');
    case 'tessera-grpc':
      return startTesseraH2(ctx, 'grpc');
  }
}

// ---- an h2c client for checks (not for load) ----------------------------------------------------

export interface H2Reply {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
  /** Trailers, or {} when none came (a trailers-only gRPC answer carries grpc-status in `headers`). */
  readonly trailers: http2.IncomingHttpHeaders;
}

/** One request over a fresh h2c connection (prior knowledge), bounded in time. */
export function h2Request(port: number, reqPath: string, method = 'GET', body?: Buffer, headers: Record<string, string> = {}, timeoutMs = 2000): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`h2 ${method} ${reqPath}: no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    };
    session.once('error', fail);
    const req = session.request({ ':method': method, ':path': reqPath, ...headers }, { endStream: body === undefined });
    let status = 0;
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.once('response', (h) => {
      status = Number(h[':status']);
      resHeaders = h;
    });
    req.once('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('error', fail);
    req.once('end', () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, headers: resHeaders, body: Buffer.concat(chunks), trailers });
    });
    if (body !== undefined) req.end(body);
  });
}

/** grpc-status of a reply: from trailers, else from a trailers-only response's headers; undefined if absent. */
export function grpcStatus(r: H2Reply): string | undefined {
  const s = r.trailers['grpc-status'] ?? r.headers['grpc-status'];
  return s === undefined ? undefined : String(s);
}

/** One unary call of COUNT_PATH: how many Echo calls the grpc origin has answered. */
export async function originGrpcCalls(port: number): Promise<number> {
  const r = await h2Request(port, COUNT_PATH, 'POST', grpcFrame(Buffer.alloc(0)), { 'content-type': 'application/grpc', te: 'trailers' });
  if (r.status !== 200 || grpcStatus(r) !== '0' || r.body.length !== 13) {
    throw new Error(`grpc origin Count: status ${r.status}, grpc-status ${grpcStatus(r)}, ${r.body.length} body bytes`);
  }
  return Number(r.body.readBigUInt64BE(5));
}
