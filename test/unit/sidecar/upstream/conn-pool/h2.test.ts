import assert from 'node:assert/strict';
import {
  constants, createServer as createH2Server, type Http2Server, type Http2Session, type ServerHttp2Stream, type Settings,
} from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { TimerWheel } from '../../../../../src/core/timer-wheel.js';
import { StatsStore } from '../../../../../src/observability/stats.js';
import { DEFAULT_CIRCUIT_BREAKER_THRESHOLDS } from '../../../../../src/xds/resources/cluster.js';
import { UPSTREAM_HTTP2_DEFAULTS } from '../../../../../src/xds/resources/common.js';
import type { Http2ProtocolConfig } from '../../../../../src/xds/resources/types.js';
import type { ClusterResources, UpstreamEndpoint } from '../../../../../sidecar/contracts.js';
import { HeaderMap } from '../../../../../sidecar/http/header-map.js';
import { H2ConnPools } from '../../../../../sidecar/upstream/conn-pool/h2.js';
import {
  PoolFailure, UpstreamReset, type UpstreamCallbacks, type UpstreamRequest,
} from '../../../../../sidecar/upstream/conn-pool/pool.js';
import { FakeCluster, FakeClusterManager } from '../../../../helpers/http-fakes.js';

// ---------- fixture: one cluster `up` with one endpoint and real circuit-breaker counters ----------

/** Small windows and 100 streams, so flow control and stream limits are reached with small bodies. */
const H2_TEST_DEFAULTS: Http2ProtocolConfig = {
  ...UPSTREAM_HTTP2_DEFAULTS,
  maxConcurrentStreams: 100,
  initialStreamWindowSize: 65_535,
  initialConnectionWindowSize: 1024 * 1024,
};

interface FixtureOptions {
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  maxRequestsPerConnection?: number;
  maxConnections?: number;
  maxPending?: number;
  http2?: Partial<Http2ProtocolConfig>;
}

interface Fixture {
  store: StatsStore;
  cluster: FakeCluster;
  clusters: FakeClusterManager;
  ep: UpstreamEndpoint;
  /** Circuit-breaker counters of the DEFAULT and HIGH priorities. */
  res: ClusterResources;
  high: ClusterResources;
  pools: H2ConnPools;
  stat(name: string): number;
}

const poolsToClose: H2ConnPools[] = [];

function fixture(port: number, o: FixtureOptions = {}): Fixture {
  const store = new StatsStore();
  const clusters = new FakeClusterManager(store);
  const thresholds = {
    ...DEFAULT_CIRCUIT_BREAKER_THRESHOLDS,
    maxConnections: o.maxConnections ?? 1024,
    maxPendingRequests: o.maxPending ?? 1024,
  };
  const cluster = clusters.add('up', [port], {
    connectTimeoutMs: o.connectTimeoutMs ?? 5000,
    upstreamIdleTimeoutMs: o.idleTimeoutMs ?? 3_600_000,
    maxRequestsPerConnection: o.maxRequestsPerConnection ?? 0,
    circuitBreakers: { default: thresholds, high: thresholds },
    upstreamProtocol: 'http2',
    http2: { ...H2_TEST_DEFAULTS, ...o.http2 },
  });
  const pools = new H2ConnPools(clusters, new TimerWheel({ tickMs: 10 }));
  poolsToClose.push(pools);
  return {
    store,
    cluster,
    clusters,
    ep: cluster.eps[0]!,
    res: cluster.resources('DEFAULT'),
    high: cluster.resources('HIGH'),
    pools,
    stat: (n) => store.snapshot()[`cluster.up.${n}`] ?? 0,
  };
}

// ---------- upstream servers ----------

interface H2Upstream {
  readonly port: number;
  readonly server: Http2Server;
  /** Server sessions ever accepted. */
  readonly sessions: Http2Session[];
  close(): Promise<void>;
}

const serversToClose: { close(): Promise<void> }[] = [];

after(async () => {
  for (const p of poolsToClose) p.closeAll();
  for (const s of serversToClose) await s.close();
});

async function startH2(handler: (s: ServerHttp2Stream, h: Record<string, unknown>, srv: H2Upstream) => void, settings: Settings = {}): Promise<H2Upstream> {
  const server = createH2Server({ settings });
  const sockets = new Set<Socket>();
  const sessions: Http2Session[] = [];
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('session', (s) => {
    sessions.push(s);
    s.on('error', () => {});
  });
  const up: H2Upstream = {
    port: 0,
    server,
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('stream', (s, h) => {
    s.on('error', () => {});
    handler(s, h as Record<string, unknown>, up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  (up as { port: number }).port = (server.address() as AddressInfo).port;
  serversToClose.push(up);
  return up;
}

/** A TCP server handing each socket to `onSocket` (raw HTTP/2 bytes, or silence). */
async function startRaw(onSocket: (s: Socket) => void): Promise<{ port: number; server: Server }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  serversToClose.push({
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
  return { port: (server.address() as AddressInfo).port, server };
}

function readBody(s: ServerHttp2Stream): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString()));
  });
}

/** Every test is bounded in time (a missed callback fails instead of hanging). */
const T = { timeout: 5000 };

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 5 ms for at most `ms`. */
async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await delay(5);
  }
}

// ---------- a router stand-in ----------

interface Send {
  method?: string;
  path: string;
  headers?: [string, string][];
  body?: string[];
  trailers?: [string, string][] | null;
  upgrade?: boolean;
  priority?: 'DEFAULT' | 'HIGH';
  /** The `host` header; null sends none. Default 'svc.local'. */
  host?: string | null;
  /** The test writes the request itself (right after newStream). */
  manual?: boolean;
  /** Writes the request instead of the default writer, once the request is ready. */
  write?: (req: UpstreamRequest) => void;
}

/** Drives one request through the pool the way the router does, recording every callback. */
class Client implements UpstreamCallbacks {
  req: UpstreamRequest | null;
  readonly events: string[];
  status: number;
  headers: HeaderMap | null;
  informational: number[];
  headersEndStream: boolean;
  readonly chunks: Buffer[];
  received: number;
  trailers: HeaderMap | null;
  reset: UpstreamReset | null;
  failure: PoolFailure | null;
  readonly done: Promise<void>;
  #resolve!: () => void;
  #inNewStream: boolean;
  readonly #send: Send;

  constructor(send: Send) {
    this.req = null;
    this.events = [];
    this.status = 0;
    this.headers = null;
    this.informational = [];
    this.headersEndStream = false;
    this.chunks = [];
    this.received = 0;
    this.trailers = null;
    this.reset = null;
    this.failure = null;
    this.done = new Promise((r) => (this.#resolve = r));
    this.#inNewStream = false;
    this.#send = send;
  }

  start(f: Fixture): this {
    this.#inNewStream = true;
    this.req = f.pools.newStream(f.cluster, f.ep, this.#send.priority ?? 'DEFAULT', this);
    this.#inNewStream = false;
    if (this.req === null) {
      this.events.push('null');
      this.#resolve();
    } else if (this.req.connected) {
      this.events.push('connected');
      if (this.#send.manual !== true) this.#write();
    }
    return this;
  }

  get body(): string {
    return Buffer.concat(this.chunks).toString();
  }

  #write(): void {
    const s = this.#send;
    if (s.write !== undefined) {
      s.write(this.req!);
      return;
    }
    const h = new HeaderMap();
    if (s.host !== null) h.add('host', s.host ?? 'svc.local');
    for (const [k, v] of s.headers ?? []) h.add(k, v);
    const body = s.body ?? [];
    const trailers = s.trailers ?? null;
    const endStream = body.length === 0 && trailers === null;
    this.req!.writeHead(s.method ?? (endStream ? 'GET' : 'POST'), s.path, 'http', h, endStream, s.upgrade ?? false);
    if (endStream) return;
    for (const b of body) this.req!.writeBody(Buffer.from(b));
    this.req!.endRequest(trailers === null ? null : HeaderMap.from(trailers));
  }

  #end(e: string): void {
    this.events.push(e);
    this.#resolve();
  }

  onPoolReady(req: UpstreamRequest): void {
    assert.equal(this.#inNewStream, false, 'onPoolReady called inside newStream');
    assert.equal(req, this.req);
    assert.equal(req.connected, true);
    this.events.push('ready');
    if (this.#send.manual !== true) this.#write();
  }
  onPoolFailure(reason: PoolFailure): void {
    assert.equal(this.#inNewStream, false, 'onPoolFailure called inside newStream');
    this.failure = reason;
    this.#end('failure');
  }
  onUpstreamHeaders(status: number, headers: HeaderMap, endStream: boolean): void {
    if (status < 200) {
      this.informational.push(status);
      return;
    }
    this.events.push('headers');
    this.status = status;
    this.headers = headers;
    this.headersEndStream = endStream;
  }
  onUpstreamData(chunk: Buffer): void {
    this.received += chunk.length;
    if (this.chunks.length < 100) this.chunks.push(chunk);
  }
  onUpstreamComplete(trailers: HeaderMap | null): void {
    this.trailers = trailers;
    this.#end('complete');
  }
  onUpstreamReset(reason: UpstreamReset): void {
    this.reset = reason;
    this.#end('reset');
  }
  onUpstreamDrain(): void {
    this.events.push('drain');
  }
  onUpstreamUpgraded(): void {
    this.#end('upgraded');
  }
}

function send(f: Fixture, s: Send): Client {
  return new Client(s).start(f);
}

/** Ends `s` with a 200 and `body` after `ms`. */
function respondLater(s: ServerHttp2Stream, ms: number, body = 'ok'): void {
  setTimeout(() => {
    if (s.destroyed || s.closed) return;
    s.respond({ ':status': 200 });
    s.end(body);
  }, ms);
}

/** An upstream allowing 2 concurrent streams per session, answering each after 80 ms; `peak()`: most streams open at once. */
async function twoStreamUpstream(): Promise<{ up: H2Upstream; peak(): number }> {
  let concurrent = 0;
  let maxConcurrent = 0;
  const up = await startH2((s) => {
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    s.on('close', () => concurrent--);
    respondLater(s, 80);
  }, { maxConcurrentStreams: 2 });
  return { up, peak: () => maxConcurrent };
}

/** Sends /1, /2 and /3 at once and waits for the three to finish. */
async function sendThree(f: Fixture): Promise<Client[]> {
  const cs = [send(f, { path: '/1' }), send(f, { path: '/2' }), send(f, { path: '/3' })];
  await Promise.all(cs.map((c) => c.done));
  return cs;
}

// ---------- tests ----------

describe('H2ConnPools', { timeout: 20_000 }, () => {
  it('carries a request with body and trailers both ways, building h2 headers from the HeaderMap', T, async () => {
    let seen: Record<string, unknown> = {};
    let seenTrailers: Record<string, unknown> = {};
    const up = await startH2(async (s, h) => {
      seen = h;
      s.on('trailers', (t) => (seenTrailers = t as Record<string, unknown>));
      const body = await readBody(s);
      s.respond({ ':status': 201, 'x-reply': 'r', 'set-cookie': ['a=1', 'b=2'] }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'fine' }));
      s.end(`echo:${body}`);
    });
    const f = fixture(up.port);
    const a = send(f, {
      path: '/things?q=1',
      headers: [['x-req', '1'], ['connection', 'keep-alive'], ['keep-alive', '5'], ['te', 'trailers'], ['transfer-encoding', 'chunked'], ['x-multi', 'a'], ['x-multi', 'b']],
      body: ['hel', 'lo'],
      trailers: [['x-checksum', 'abc']],
    });
    assert.equal(a.req!.connected, false, 'the first request waits for a connection');
    await a.done;
    assert.deepEqual(a.events, ['ready', 'headers', 'complete']);
    assert.equal(a.status, 201);
    assert.equal(a.body, 'echo:hello');
    assert.equal(a.headers!.get('x-reply'), 'r');
    assert.deepEqual(a.headers!.getAll('set-cookie'), ['a=1', 'b=2']);
    assert.ok(a.headers!.names.every((n) => !n.startsWith(':')), 'no pseudo headers in the response HeaderMap');
    assert.equal(a.trailers!.get('grpc-status'), '0');
    assert.equal(a.trailers!.get('grpc-message'), 'fine');
    assert.equal(seen[':method'], 'POST');
    assert.equal(seen[':path'], '/things?q=1');
    assert.equal(seen[':scheme'], 'http');
    assert.equal(seen[':authority'], 'svc.local');
    assert.equal(seen['host'], undefined);
    assert.equal(seen['connection'], undefined);
    assert.equal(seen['keep-alive'], undefined);
    assert.equal(seen['transfer-encoding'], undefined);
    assert.equal(seen['te'], 'trailers');
    assert.equal(seen['x-req'], '1');
    assert.equal(seen['x-multi'], 'a, b');
    assert.equal(seenTrailers['x-checksum'], 'abc');

    // The session is ready now: the next request can be written at once, on the same connection.
    const b = send(f, { path: '/again' });
    assert.equal(b.req!.connected, true);
    await b.done;
    assert.deepEqual(b.events, ['connected', 'headers', 'complete']);
    assert.equal(b.trailers!.get('grpc-status'), '0');
    assert.equal(f.stat('upstream_cx_total'), 1);
    assert.equal(f.stat('upstream_cx_active'), 1);
    assert.equal(f.ep.cxActive, 1);
    assert.equal(f.res.connections.count, 1);
    assert.equal(up.sessions.length, 1);
  });

  it('passes 1xx informational headers and reports END_STREAM on a body-less response', T, async () => {
    let authority: unknown = null;
    const up = await startH2((s, h) => {
      authority = h[':authority'];
      s.additionalHeaders({ ':status': 103, link: '</a.css>; rel=preload' });
      s.respond({ ':status': 204 }, { endStream: true });
    });
    const f = fixture(up.port);
    const a = send(f, { path: '/', host: null });
    await a.done;
    assert.equal(authority, `127.0.0.1:${up.port}`, 'without host, :authority is the endpoint');
    assert.deepEqual(a.informational, [103]);
    assert.equal(a.status, 204);
    assert.equal(a.headersEndStream, true);
    assert.deepEqual(a.events, ['ready', 'headers', 'complete']);
    assert.equal(a.trailers, null);
  });

  it("applies the cluster's Http2ProtocolOptions: windows, no push, and its own max_concurrent_streams", T, async () => {
    const up = await startH2((s) => respondLater(s, 40));
    const f = fixture(up.port, { http2: { initialStreamWindowSize: 128 * 1024, initialConnectionWindowSize: 2 * 1024 * 1024, maxConcurrentStreams: 1 } });
    const a = send(f, { path: '/1' });
    const b = send(f, { path: '/2' });
    await Promise.all([a.done, b.done]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(up.sessions.length, 2, 'one stream per connection as configured, though the peer allows more');
    const srv = up.sessions[0]!;
    assert.equal(srv.remoteSettings.initialWindowSize, 128 * 1024);
    assert.equal(srv.remoteSettings.enablePush, false);
    assert.ok(srv.state.remoteWindowSize! > 2 * 1024 * 1024 - 1024, `connection window ${srv.state.remoteWindowSize}`);
  });

  it('resets a stream whose response completed before the request body ended, freeing its slot', T, async () => {
    let rst = -1;
    const up = await startH2((s, h) => {
      if (h[':path'] === '/early') {
        // Reading the request keeps node's server from closing the stream itself after its response.
        s.on('data', () => {});
        s.on('close', () => (rst = s.rstCode));
      }
      s.respond({ ':status': 200 });
      s.end('done');
    }, { maxConcurrentStreams: 1 });
    const f = fixture(up.port, { maxConnections: 1 });
    await send(f, { path: '/warm' }).done;
    const h = new HeaderMap();
    h.add('host', 'svc.local');
    const a = send(f, {
      path: '/early',
      write: (req) => {
        req.writeHead('POST', '/early', 'http', h, false, false);
        req.writeBody(Buffer.from('part'));
      },
    });
    await a.done;
    assert.deepEqual(a.events.slice(1), ['headers', 'complete']);
    await waitFor(() => rst !== -1);
    assert.equal(rst, constants.NGHTTP2_CANCEL);
    const b = send(f, { path: '/next' });
    await b.done;
    assert.equal(b.status, 200);
    assert.equal(f.stat('upstream_cx_total'), 1);
  });

  it('opens a second connection when the peer allows 2 concurrent streams and 3 requests are in flight', T, async () => {
    const { up, peak } = await twoStreamUpstream();
    const f = fixture(up.port);
    const cs = await sendThree(f);
    for (const c of cs) assert.equal(c.status, 200);
    assert.equal(f.stat('upstream_cx_total'), 2);
    assert.equal(up.sessions.length, 2);
    assert.equal(f.stat('upstream_cx_overflow'), 0);
    assert.equal(f.stat('upstream_rq_pending_total'), 3, 'all three waited for a connection');
    assert.equal(f.stat('upstream_rq_pending_active'), 0);
    assert.equal(f.res.pendingRequests.count, 0);
    assert.ok(peak() <= 3);
  });

  it('queues the third request on a busy session when max_connections is 1', T, async () => {
    const { up, peak } = await twoStreamUpstream();
    const f = fixture(up.port, { maxConnections: 1 });
    const cs = await sendThree(f);
    for (const c of cs) assert.deepEqual(c.events, ['ready', 'headers', 'complete']);
    assert.equal(f.stat('upstream_cx_total'), 1);
    assert.equal(up.sessions.length, 1);
    assert.equal(peak(), 2);
    assert.ok(f.stat('upstream_cx_overflow') >= 1);
    assert.equal(f.stat('upstream_rq_pending_active'), 0);
    assert.equal(f.res.connections.count, 1);
  });

  it('refuses a request past max_pending_requests (null + upstream_rq_pending_overflow); an aborted pending request frees its slot', T, async () => {
    const up = await startH2((s) => respondLater(s, 30), { maxConcurrentStreams: 1 });
    const f = fixture(up.port, { maxConnections: 1, maxPending: 1 });
    const a = send(f, { path: '/a' });
    assert.equal(a.req!.connected, false);
    const b = send(f, { path: '/b' });
    assert.equal(b.req, null);
    assert.equal(f.stat('upstream_rq_pending_overflow'), 1);
    assert.equal(f.stat('upstream_rq_pending_active'), 1);

    a.req!.abort();
    assert.equal(f.stat('upstream_rq_pending_active'), 0);
    assert.equal(f.res.pendingRequests.count, 0);
    const c = send(f, { path: '/c' });
    assert.notEqual(c.req, null);
    await c.done;
    assert.equal(c.status, 200);
    await delay(30);
    assert.deepEqual(a.events, [], 'an aborted request hears nothing more');
    assert.equal(f.stat('upstream_rq_pending_total'), 2);
  });

  it('fails pending requests with ConnectFailure when the port is closed', T, async () => {
    const probe = await startRaw(() => {});
    const port = probe.port;
    await new Promise<void>((r) => probe.server.close(() => r()));
    const f = fixture(port);
    const a = send(f, { path: '/' });
    const b = send(f, { path: '/' });
    await Promise.all([a.done, b.done]);
    assert.equal(a.failure, PoolFailure.ConnectFailure);
    assert.equal(b.failure, PoolFailure.ConnectFailure);
    assert.equal(f.stat('upstream_cx_connect_fail'), 1);
    assert.equal(f.stat('upstream_cx_active'), 0);
    assert.equal(f.stat('upstream_rq_pending_active'), 0);
    assert.equal(f.res.connections.count, 0);
    assert.equal(f.ep.cxActive, 0);
  });

  it('times out a connection whose peer accepts TCP but never sends SETTINGS (ConnectTimeout)', T, async () => {
    // Loopback cannot leave a TCP connect hanging; readiness here means "peer SETTINGS received" (see h2.ts),
    // so a silent peer exercises the same connect timeout.
    const silent = await startRaw(() => {});
    const f = fixture(silent.port, { connectTimeoutMs: 60 });
    const t0 = Date.now();
    const a = send(f, { path: '/' });
    await a.done;
    assert.equal(a.failure, PoolFailure.ConnectTimeout);
    assert.ok(Date.now() - t0 >= 50);
    assert.equal(f.stat('upstream_cx_connect_timeout'), 1);
    assert.equal(f.stat('upstream_cx_connect_fail'), 0);
    assert.equal(f.res.connections.count, 0);
    await waitFor(() => f.stat('upstream_cx_active') === 0);
    assert.equal(f.ep.cxActive, 0);
  });

  it('maps RST_STREAM REFUSED_STREAM to RefusedStream and other codes to RemoteReset', T, async () => {
    const up = await startH2((s, h) => {
      s.close(h[':path'] === '/refuse' ? constants.NGHTTP2_REFUSED_STREAM : constants.NGHTTP2_ENHANCE_YOUR_CALM);
    });
    const f = fixture(up.port);
    const a = send(f, { path: '/refuse' });
    await a.done;
    assert.equal(a.reset, UpstreamReset.RefusedStream);
    const b = send(f, { path: '/calm' });
    await b.done;
    assert.equal(b.reset, UpstreamReset.RemoteReset);
    assert.equal(f.stat('upstream_cx_total'), 1, 'a stream reset keeps the connection');
  });

  it('maps an invalid response header to ProtocolError', T, async () => {
    // SETTINGS, SETTINGS ack, then HEADERS on stream 1 with an upper-case field name (malformed in HTTP/2).
    const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    const ack = Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]);
    const block = Buffer.concat([Buffer.from([0x88, 0x00, 3]), Buffer.from('X-A'), Buffer.from([1]), Buffer.from('1')]);
    const headers = Buffer.alloc(9 + block.length);
    headers.writeUIntBE(block.length, 0, 3);
    headers[3] = 1; // HEADERS
    headers[4] = 5; // END_STREAM | END_HEADERS
    headers.writeUInt32BE(1, 5);
    block.copy(headers, 9);
    let sawRequest = false;
    const raw = await startRaw((s) => {
      s.write(settings);
      let got = 0;
      s.on('data', (d: Buffer) => {
        got += d.length;
        // Preface (24) + SETTINGS + at least one HEADERS frame: answer once.
        if (!sawRequest && got > 24 + 9 + 9) {
          sawRequest = true;
          s.write(Buffer.concat([ack, headers]));
        }
      });
    });
    const f = fixture(raw.port);
    const a = send(f, { path: '/' });
    await a.done;
    assert.equal(sawRequest, true);
    assert.equal(a.reset, UpstreamReset.ProtocolError);
  });

  it('counts upstream_cx_protocol_error and fails pending requests when the peer does not speak HTTP/2', T, async () => {
    const h1 = await startRaw((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n')));
    const f = fixture(h1.port);
    const a = send(f, { path: '/' });
    await a.done;
    assert.equal(a.failure, PoolFailure.ConnectFailure);
    assert.equal(f.stat('upstream_cx_protocol_error'), 1);
    assert.equal(f.stat('upstream_cx_connect_fail'), 1);
  });

  it('moves to a new session after GOAWAY; streams above the last stream id get RefusedStream', T, async () => {
    let holdStream: ServerHttp2Stream | null = null;
    const up = await startH2((s, h) => {
      const path = h[':path'];
      if (path === '/bye') {
        s.respond({ ':status': 200 });
        s.end('bye');
        s.session!.goaway(constants.NGHTTP2_NO_ERROR, s.id!);
      } else if (path === '/hold') {
        holdStream = s;
      } else if (path === '/second') {
        // GOAWAY naming the /hold stream as the last one processed; /second is refused, /hold still answered.
        s.session!.goaway(constants.NGHTTP2_NO_ERROR, holdStream!.id!);
        respondLater(holdStream!, 20, 'held');
      } else {
        s.respond({ ':status': 200 });
        s.end('ok');
      }
    });
    const f = fixture(up.port);
    const a = send(f, { path: '/bye' });
    await a.done;
    assert.equal(a.body, 'bye');
    // The client session leaves the pool on GOAWAY (node then closes it once its streams are done).
    const pool = f.pools.pool(f.cluster, f.ep, 'DEFAULT');
    await waitFor(() => pool.sessionCount === 0);
    const b = send(f, { path: '/next' });
    await b.done;
    assert.equal(b.status, 200);
    assert.equal(up.sessions.length, 2, 'the request after GOAWAY used a new connection');
    assert.equal(f.stat('upstream_cx_total'), 2);

    const hold = send(f, { path: '/hold' });
    await waitFor(() => holdStream !== null);
    const second = send(f, { path: '/second' });
    await Promise.all([hold.done, second.done]);
    assert.equal(second.reset, UpstreamReset.RefusedStream);
    assert.equal(hold.body, 'held');
    const c = send(f, { path: '/after' });
    await c.done;
    assert.equal(c.status, 200);
    assert.equal(up.sessions.length, 3);
    await waitFor(() => f.stat('upstream_cx_active') === 1);
    assert.equal(f.res.connections.count, 1);
  });

  it('reports ConnectionTermination when the connection drops mid-response', T, async () => {
    const sockets: Socket[] = [];
    const up = await startH2((s) => {
      s.respond({ ':status': 200 });
      s.write('partial');
      setTimeout(() => sockets.forEach((x) => x.destroy()), 20);
    });
    up.server.on('connection', (x: Socket) => sockets.push(x));
    const f = fixture(up.port);
    const a = send(f, { path: '/' });
    await a.done;
    assert.equal(a.status, 200);
    assert.equal(a.body, 'partial');
    assert.equal(a.reset, UpstreamReset.ConnectionTermination);
    await waitFor(() => f.stat('upstream_cx_active') === 0);
    assert.equal(f.res.connections.count, 0);
  });

  it('closes an idle session after the upstream idle timeout', T, async () => {
    const up = await startH2((s) => {
      s.respond({ ':status': 200 });
      s.end();
    });
    const f = fixture(up.port, { idleTimeoutMs: 50 });
    const a = send(f, { path: '/' });
    await a.done;
    assert.equal(f.stat('upstream_cx_active'), 1);
    await waitFor(() => up.sessions[0]!.closed || up.sessions[0]!.destroyed, 1000);
    assert.equal(f.pools.pool(f.cluster, f.ep, 'DEFAULT').sessionCount, 0);
    await waitFor(() => f.stat('upstream_cx_active') === 0);
    assert.equal(f.ep.cxActive, 0);
    assert.equal(f.res.connections.count, 0);
  });

  it('drains a session after max_requests_per_connection streams', T, async () => {
    const up = await startH2((s) => {
      s.respond({ ':status': 200 });
      s.end();
    });
    const f = fixture(up.port, { maxRequestsPerConnection: 2 });
    for (let i = 0; i < 3; i++) await send(f, { path: `/${i}` }).done;
    assert.equal(f.stat('upstream_cx_total'), 2);
    assert.equal(up.sessions.length, 2);
    await waitFor(() => up.sessions[0]!.closed || up.sessions[0]!.destroyed);
  });

  it('abort() resets the stream with CANCEL, frees the slot and silences the client', T, async () => {
    let serverRst = -1;
    let arrived = 0;
    const up = await startH2((s, h) => {
      arrived++;
      if (h[':path'] === '/hang') {
        s.on('close', () => (serverRst = s.rstCode));
        return;
      }
      s.respond({ ':status': 200 });
      s.end();
    }, { maxConcurrentStreams: 1 });
    const f = fixture(up.port, { maxConnections: 1 });
    const a = send(f, { path: '/hang' });
    await waitFor(() => arrived === 1);
    a.req!.abort();
    await waitFor(() => serverRst !== -1);
    assert.equal(serverRst, constants.NGHTTP2_CANCEL);
    // The only slot (peer max 1, one connection) is free again.
    const b = send(f, { path: '/ok' });
    await b.done;
    assert.equal(b.status, 200);
    assert.deepEqual(a.events, ['ready']);
    assert.equal(f.stat('upstream_cx_total'), 1);
  });

  it('refuses upgrade requests on HTTP/2 with ProtocolError, after writeHead returns', T, async () => {
    const up = await startH2((s) => {
      s.respond({ ':status': 200 });
      s.end();
    });
    const f = fixture(up.port);
    await send(f, { path: '/warm' }).done;
    const a = new Client({ path: '/ws', upgrade: true });
    a.start(f);
    assert.deepEqual(a.events, ['connected'], 'no callback inside writeHead');
    await a.done;
    assert.equal(a.reset, UpstreamReset.ProtocolError);
    const b = send(f, { path: '/after' });
    await b.done;
    assert.equal(b.status, 200, 'the refused request released its slot');
  });

  it('honours readDisable: a paused response stops the upstream (flow control) and resumes', T, async () => {
    const CHUNK = 16 * 1024;
    const COUNT = 200;
    let writesBlocked = 0;
    let sent = 0;
    const up = await startH2((s) => {
      s.respond({ ':status': 200 });
      const buf = Buffer.alloc(CHUNK, 0x61);
      const pump = (): void => {
        while (sent < COUNT) {
          sent++;
          if (!s.write(buf)) {
            writesBlocked++;
            s.once('drain', pump);
            return;
          }
        }
        s.end();
      };
      pump();
    }, { initialWindowSize: 65_535 });
    const f = fixture(up.port, { http2: { initialStreamWindowSize: 65_535, initialConnectionWindowSize: 1024 * 1024 } });
    const a = send(f, { path: '/big' });
    await waitFor(() => a.received > 0);
    a.req!.readDisable(true);
    await delay(150);
    const atPause = a.received;
    const sentAtPause = sent;
    await delay(150);
    assert.equal(a.received, atPause, 'no data delivered while read-disabled');
    assert.equal(sent, sentAtPause, 'the upstream stopped writing');
    assert.ok(sent < COUNT, `the upstream was blocked (sent ${sent} of ${COUNT})`);
    assert.ok(writesBlocked >= 1);
    a.req!.readDisable(false);
    await a.done;
    assert.deepEqual(a.events, ['ready', 'headers', 'complete']);
    assert.equal(a.received, CHUNK * COUNT);
  });

  it('signals onUpstreamDrain after a request body write hits backpressure', T, async () => {
    const up = await startH2(async (s) => {
      const body = await readBody(s);
      s.respond({ ':status': 200 });
      s.end(String(body.length));
    });
    const f = fixture(up.port);
    await send(f, { path: '/warm' }).done;
    const c = send(f, { path: '/upload', manual: true });
    assert.equal(c.req!.connected, true);
    const h = new HeaderMap();
    h.add('host', 'svc.local');
    c.req!.writeHead('POST', '/upload', 'http', h, false, false);
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    let writes = 0;
    let accepted = true;
    while (accepted && writes < 100) {
      accepted = c.req!.writeBody(chunk);
      writes++;
    }
    assert.equal(accepted, false, 'a write returned false');
    await waitFor(() => c.events.includes('drain'));
    c.req!.endRequest(null);
    await c.done;
    assert.equal(c.body, String(writes * chunk.length));
  });

  it('closes idle sessions and fails pending requests when EDS removes the endpoint', T, async () => {
    const up = await startH2((s) => {
      s.respond({ ':status': 200 });
      s.end();
    });
    const f = fixture(up.port);
    await send(f, { path: '/' }).done;
    const pool = f.pools.pool(f.cluster, f.ep, 'DEFAULT');
    assert.equal(pool.sessionCount, 1);
    await delay(20); // the stream's 'close' follows the response's end: let the session become idle
    f.clusters.remove(f.ep);
    assert.equal(pool.sessionCount, 0);
    await waitFor(() => up.sessions[0]!.closed || up.sessions[0]!.destroyed);
    await waitFor(() => f.stat('upstream_cx_active') === 0);
    assert.equal(f.res.connections.count, 0);
  });

  it('fails requests still pending when the endpoint is removed', T, async () => {
    const silent = await startRaw(() => {});
    const f = fixture(silent.port);
    const a = send(f, { path: '/' });
    f.clusters.remove(f.ep);
    await a.done;
    assert.equal(a.failure, PoolFailure.ConnectFailure);
    assert.equal(f.stat('upstream_rq_pending_active'), 0);
    assert.equal(f.res.connections.count, 0);
  });

  it('keeps separate connections per priority', T, async () => {
    const up = await startH2((s) => {
      s.respond({ ':status': 200 });
      s.end();
    });
    const f = fixture(up.port);
    await send(f, { path: '/d' }).done;
    await send(f, { path: '/h', priority: 'HIGH' }).done;
    assert.equal(f.stat('upstream_cx_total'), 2);
    assert.equal(f.res.connections.count, 1);
    assert.equal(f.high.connections.count, 1);
  });
});
