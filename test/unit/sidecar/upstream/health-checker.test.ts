import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { pino, type Logger } from 'pino';
import protobuf from 'protobufjs';
import { HealthFlag, type UpstreamCluster, type UpstreamEndpoint } from '../../../../sidecar/contracts.js';
import { decodeServingStatus, encodeHealthCheckRequest } from '../../../../sidecar/upstream/health-check/grpc.js';
import { buildCheckHeaders, statusExpected } from '../../../../sidecar/upstream/health-check/http.js';
import { matchesInOrder } from '../../../../sidecar/upstream/health-check/tcp.js';
import { HealthChecker, HealthTransition, nextCheckDelayMs } from '../../../../sidecar/upstream/health-checker.js';
import { StatsStore } from '../../../../src/observability/stats.js';
import { endpoint } from '../../../helpers/http-fakes.js';
import type { ClusterConfig, HealthCheckConfig } from '../../../../src/xds/resources/types.js';

// ---------- helpers ----------

type Check = HealthCheckConfig['check'];

function hc(check: Check, over: Partial<HealthCheckConfig> = {}): HealthCheckConfig {
  return {
    timeoutMs: 300,
    intervalMs: 30,
    intervalJitterMs: 0,
    intervalJitterPercent: 0,
    unhealthyThreshold: 2,
    healthyThreshold: 2,
    noTrafficIntervalMs: 60_000,
    unhealthyIntervalMs: null,
    unhealthyEdgeIntervalMs: null,
    healthyEdgeIntervalMs: null,
    alwaysLogFailures: false,
    check,
    ...over,
  };
}

const httpCheck = (over: Partial<Extract<Check, { kind: 'http' }>> = {}): Check => ({
  kind: 'http',
  host: '',
  path: '/healthz',
  expectedStatuses: [[200, 201]],
  requestHeadersToAdd: [],
  codec: 'HTTP1',
  ...over,
});

/** The part of a cluster the checker uses: setHealthFlag, recorded with a caller-supplied snapshot. */
class FakeCluster {
  readonly name: string;
  readonly flagChanges: { key: string; on: boolean; at: number }[] = [];
  snapshot: () => number = () => 0;
  constructor(name = 'api') {
    this.name = name;
  }
  setHealthFlag(ep: UpstreamEndpoint, flag: HealthFlag, on: boolean): void {
    ep.healthFlags = on ? ep.healthFlags | flag : ep.healthFlags & ~flag;
    ep.healthy = ep.healthFlags === 0;
    this.flagChanges.push({ key: ep.key, on, at: this.snapshot() });
  }
  asCluster(): UpstreamCluster {
    const notUsed = (): never => {
      throw new Error('not used by the health checker');
    };
    return {
      name: this.name,
      tls: null,
      config: { name: this.name } as ClusterConfig,
      stats: {} as UpstreamCluster['stats'],
      pick: notUsed,
      endpoints: notUsed,
      resources: notUsed,
      setHealthFlag: (ep, flag, on) => this.setHealthFlag(ep, flag, on),
    };
  }
}

function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

function setup(configs: HealthCheckConfig[], opts: { random?: () => number } = {}) {
  const cluster = new FakeCluster();
  const stats = new StatsStore();
  const { logger, lines } = captureLogger();
  const checker = new HealthChecker(cluster.asCluster(), configs, { logger, stats, ...(opts.random ? { random: opts.random } : {}) });
  toClose.push(async () => checker.close());
  const stat = (n: string) => stats.snapshot('cluster.api.health_check.')[`cluster.api.health_check.${n}`] ?? 0;
  return { cluster, stats, lines, checker, stat };
}

const failed = (ep: UpstreamEndpoint) => (ep.healthFlags & HealthFlag.FailedActiveHc) !== 0;

/** Polls `pred` every 5 ms; fails after `ms`. */
async function waitFor(what: string, pred: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const toClose: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of toClose.reverse()) await c();
});

/** Tracks a server's sockets so tests can see the checker's connections come and go. */
function trackSockets(server: net.Server | http2.Http2Server): { total: () => number; open: () => number } {
  let total = 0;
  let open = 0;
  server.on('connection', (s: net.Socket) => {
    total++;
    open++;
    s.on('close', () => open--);
  });
  return { total: () => total, open: () => open };
}

async function listen(server: net.Server | http2.Http2Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  toClose.push(
    () =>
      new Promise<void>((r) => {
        (server as http.Server).closeAllConnections?.();
        server.close(() => r());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

interface HealthzServer {
  port: number;
  status: number;
  mode: 'answer' | 'hang';
  /** Responses sent, by status. */
  served: Map<number, number>;
  requests: http.IncomingHttpHeaders[];
  paths: string[];
  sockets: { total: () => number; open: () => number };
}

async function healthzServer(): Promise<HealthzServer> {
  const state: HealthzServer = { port: 0, status: 200, mode: 'answer', served: new Map(), requests: [], paths: [], sockets: { total: () => 0, open: () => 0 } };
  const server = http.createServer((req, res) => {
    state.requests.push(req.headers);
    state.paths.push(req.url ?? '');
    if (state.mode === 'hang') return; // never answers
    const st = state.status;
    state.served.set(st, (state.served.get(st) ?? 0) + 1);
    res.writeHead(st, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  state.sockets = trackSockets(server);
  state.port = await listen(server);
  return state;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// grpc.health.v1 written inline (protobufjs), served by a real grpc-js server.
const healthRoot = protobuf.parse(`
  syntax = "proto3";
  package grpc.health.v1;
  message HealthCheckRequest { string service = 1; }
  message HealthCheckResponse {
    enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
    ServingStatus status = 1;
  }
`).root;
const HcRequest = healthRoot.lookupType('grpc.health.v1.HealthCheckRequest');
const HcResponse = healthRoot.lookupType('grpc.health.v1.HealthCheckResponse');

async function grpcHealthServer(statuses: Map<string, number>): Promise<{ port: number; services: string[] }> {
  const services: string[] = [];
  const def = {
    Check: {
      path: '/grpc.health.v1.Health/Check',
      requestStream: false,
      responseStream: false,
      requestSerialize: (o: object) => Buffer.from(HcRequest.encode(HcRequest.fromObject(o)).finish()),
      requestDeserialize: (b: Buffer) => HcRequest.toObject(HcRequest.decode(b)) as { service?: string },
      responseSerialize: (o: object) => Buffer.from(HcResponse.encode(HcResponse.fromObject(o)).finish()),
      responseDeserialize: (b: Buffer) => HcResponse.toObject(HcResponse.decode(b)),
    },
  } as unknown as grpc.ServiceDefinition;
  const server = new grpc.Server();
  server.addService(def, {
    Check: (call: grpc.ServerUnaryCall<{ service?: string }, object>, cb: grpc.sendUnaryData<object>) => {
      const svc = call.request.service ?? '';
      services.push(svc);
      const st = statuses.get(svc);
      if (st === undefined) cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      else cb(null, { status: st });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  toClose.push(async () => {
    server.forceShutdown();
  });
  return { port, services };
}

// ---------- pure parts ----------

describe('nextCheckDelayMs', () => {
  const cfg = hc(httpCheck(), {
    intervalMs: 1000,
    unhealthyIntervalMs: 3000,
    healthyEdgeIntervalMs: 100,
    unhealthyEdgeIntervalMs: 200,
  });
  const zero = () => 0;

  it('uses interval / unhealthy_interval, and the edge intervals while a transition is pending', () => {
    assert.equal(nextCheckDelayMs(cfg, true, HealthTransition.Unchanged, zero), 1000);
    assert.equal(nextCheckDelayMs(cfg, true, HealthTransition.Changed, zero), 1000);
    assert.equal(nextCheckDelayMs(cfg, true, HealthTransition.ChangePending, zero), 100);
    assert.equal(nextCheckDelayMs(cfg, false, HealthTransition.Unchanged, zero), 3000);
    assert.equal(nextCheckDelayMs(cfg, false, HealthTransition.Changed, zero), 3000);
    assert.equal(nextCheckDelayMs(cfg, false, HealthTransition.ChangePending, zero), 200);
  });

  it('falls back: edge intervals to their regular interval, unhealthy_interval to interval', () => {
    const plain = hc(httpCheck(), { intervalMs: 700 });
    assert.equal(nextCheckDelayMs(plain, false, HealthTransition.Unchanged, zero), 700);
    assert.equal(nextCheckDelayMs(plain, false, HealthTransition.ChangePending, zero), 700);
    assert.equal(nextCheckDelayMs(plain, true, HealthTransition.ChangePending, zero), 700);
    const unh = hc(httpCheck(), { intervalMs: 700, unhealthyIntervalMs: 1500 });
    assert.equal(nextCheckDelayMs(unh, false, HealthTransition.ChangePending, zero), 1500);
  });

  it('adds jitter in [0, interval_jitter) plus [0, interval_jitter_percent of the base)', () => {
    const j = hc(httpCheck(), { intervalMs: 1000, intervalJitterMs: 50, intervalJitterPercent: 10 });
    assert.equal(nextCheckDelayMs(j, true, HealthTransition.Unchanged, zero), 1000);
    const max = nextCheckDelayMs(j, true, HealthTransition.Unchanged, () => 0.999999);
    assert.equal(max, 1000 + 99 + 49);
    // percent applies to the base in use (unhealthy_interval here)
    const u = hc(httpCheck(), { intervalMs: 1000, unhealthyIntervalMs: 2000, intervalJitterPercent: 10 });
    assert.equal(nextCheckDelayMs(u, false, HealthTransition.Unchanged, () => 0.999999), 2000 + 199);
    let seed = 7;
    const lcg = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const d = nextCheckDelayMs(j, true, HealthTransition.Unchanged, lcg);
      assert.ok(d >= 1000 && d < 1000 + 100 + 50, `delay ${d} out of bounds`);
      seen.add(d);
    }
    assert.ok(seen.size > 50, 'jitter spreads the delays');
  });

  it('never returns 0', () => {
    assert.equal(nextCheckDelayMs(hc(httpCheck(), { intervalMs: 0 }), true, HealthTransition.Unchanged, zero), 1);
  });
});

describe('check helpers', () => {
  it('statusExpected matches [start, end) ranges', () => {
    const r = [[200, 201], [204, 300]] as const;
    assert.equal(statusExpected(200, r), true);
    assert.equal(statusExpected(201, r), false);
    assert.equal(statusExpected(204, r), true);
    assert.equal(statusExpected(299, r), true);
    assert.equal(statusExpected(300, r), false);
  });

  it('buildCheckHeaders sets host and user-agent, then applies request_headers_to_add actions', () => {
    const h = buildCheckHeaders('api', [
      { key: 'x-a', value: '1', action: 'APPEND_IF_EXISTS_OR_ADD' },
      { key: 'x-a', value: '2', action: 'APPEND_IF_EXISTS_OR_ADD' },
      { key: 'x-b', value: 'b', action: 'ADD_IF_ABSENT' },
      { key: 'x-b', value: 'ignored', action: 'ADD_IF_ABSENT' },
      { key: 'x-c', value: 'never', action: 'OVERWRITE_IF_EXISTS' },
      { key: 'user-agent', value: 'custom', action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    ]);
    assert.deepEqual(h, { host: 'api', 'user-agent': 'custom', 'x-a': ['1', '2'], 'x-b': 'b' });
  });

  it('matchesInOrder finds every segment after the previous one', () => {
    const d = Buffer.from('xxPONGyyOK');
    assert.equal(matchesInOrder(d, [Buffer.from('PONG'), Buffer.from('OK')]), true);
    assert.equal(matchesInOrder(d, [Buffer.from('OK'), Buffer.from('PONG')]), false);
    assert.equal(matchesInOrder(d, [Buffer.from('PONG'), Buffer.from('PONG')]), false);
    assert.equal(matchesInOrder(d, []), true);
  });

  it('encodes HealthCheckRequest and decodes HealthCheckResponse like protobufjs', () => {
    for (const svc of ['', 'svc', 'x'.repeat(300)]) {
      const framed = encodeHealthCheckRequest(svc);
      assert.equal(framed[0], 0);
      assert.equal(framed.readUInt32BE(1), framed.length - 5);
      assert.equal((HcRequest.toObject(HcRequest.decode(framed.subarray(5))) as { service?: string }).service ?? '', svc);
    }
    const frame = (msg: Uint8Array) => {
      const b = Buffer.alloc(5 + msg.length);
      b.writeUInt32BE(msg.length, 1);
      Buffer.from(msg).copy(b, 5);
      return b;
    };
    for (const status of [0, 1, 2, 3]) {
      assert.equal(decodeServingStatus(frame(HcResponse.encode(HcResponse.fromObject({ status })).finish())), status);
    }
    // unknown fields are skipped
    assert.equal(decodeServingStatus(frame(Uint8Array.from([0x12, 0x01, 0x41, 0x08, 0x01]))), 1);
    assert.equal(decodeServingStatus(Buffer.from([0, 0, 0, 0])), -1, 'short frame');
    assert.equal(decodeServingStatus(Buffer.from([1, 0, 0, 0, 2, 0x08, 0x01])), -1, 'compressed');
    assert.equal(decodeServingStatus(Buffer.from([0, 0, 0, 0, 3, 0x08, 0x01])), -1, 'length mismatch');
  });
});

// ---------- against real servers ----------

describe('HealthChecker HTTP', () => {
  it('new hosts start failing, serve after one pass, flip after the thresholds', async () => {
    const srv = await healthzServer();
    const { cluster, checker, stat, lines } = setup([
      hc(
        httpCheck({ requestHeadersToAdd: [{ key: 'x-hc', value: 'yes', action: 'APPEND_IF_EXISTS_OR_ADD' }] }),
        { unhealthyThreshold: 3, healthyThreshold: 2, intervalMs: 150 },
      ),
    ]);
    cluster.snapshot = () => (srv.served.get(srv.status) ?? 0);
    const ep = endpoint('api', srv.port);
    checker.addHosts([ep]);
    assert.equal(failed(ep), true, 'FailedActiveHc is set at once');
    assert.equal(ep.healthy, false);

    await waitFor('first pass', () => !failed(ep));
    assert.equal(srv.requests.length, 1, 'one success is enough the first time');
    assert.equal(stat('healthy'), 1);
    const h = srv.requests[0]!;
    assert.equal(h.host, 'api', 'Host defaults to the cluster name');
    assert.equal(h['user-agent'], 'tessera/hc');
    assert.equal(h['x-hc'], 'yes');
    assert.equal(srv.paths[0], '/healthz');

    srv.status = 503;
    await waitFor('unhealthy', () => failed(ep));
    assert.deepEqual(cluster.flagChanges.at(-1), { key: ep.key, on: true, at: 3 }, 'set after exactly unhealthy_threshold failures');
    assert.equal(stat('healthy'), 0);

    srv.status = 200;
    const before = srv.served.get(200) ?? 0;
    cluster.snapshot = () => (srv.served.get(200) ?? 0) - before;
    await waitFor('healthy again', () => !failed(ep));
    assert.deepEqual(cluster.flagChanges.at(-1), { key: ep.key, on: false, at: 2 }, 'cleared after exactly healthy_threshold passes');
    assert.equal(stat('healthy'), 1);
    assert.equal(stat('failure'), 3 + 0);
    assert.ok(stat('attempt') >= stat('success') + stat('failure'));
    assert.equal(stat('network_failure'), 0);
    assert.equal(srv.sockets.total(), 1, 'one kept-alive connection for every check');

    const transitions = lines.filter((l) => l.msg === 'health check passing' || l.msg === 'health check failing');
    assert.deepEqual(
      transitions.map((l) => [l.cluster, l.host, l.check, l.healthy, l.reason]),
      [
        ['api', ep.key, 'http', true, 'status 200'],
        ['api', ep.key, 'http', false, 'status 503'],
        ['api', ep.key, 'http', true, 'status 200'],
      ],
    );
    assert.ok(transitions.every((l) => l.level === 30), 'transitions log at info');
    assert.ok(lines.some((l) => l.level === 20 && l.reason === 'status 503'), 'failures log at debug');
    checker.close();
  });

  it('honours expected_statuses ranges and the configured host', async () => {
    const srv = await healthzServer();
    const { checker } = setup([
      hc(httpCheck({ host: 'health.internal', expectedStatuses: [[204, 205], [300, 400]] }), { unhealthyThreshold: 1, healthyThreshold: 1 }),
    ]);
    const ep = endpoint('api', srv.port);
    srv.status = 204;
    checker.addHosts([ep]);
    await waitFor('204 passes', () => !failed(ep));
    assert.equal(srv.requests[0]!.host, 'health.internal');
    srv.status = 200;
    await waitFor('200 fails (not in the ranges)', () => failed(ep));
    srv.status = 302;
    await waitFor('302 passes', () => !failed(ep));
    srv.status = 400;
    await waitFor('400 fails (end is exclusive)', () => failed(ep));
    checker.close();
  });

  it('counts a check that outlives timeout as a network failure and closes its connection', async () => {
    const srv = await healthzServer();
    const { checker, stat, lines } = setup([
      hc(httpCheck(), { timeoutMs: 80, intervalMs: 20, unhealthyThreshold: 2, alwaysLogFailures: true }),
    ]);
    const ep = endpoint('api', srv.port);
    checker.addHosts([ep]);
    await waitFor('healthy', () => !failed(ep));
    srv.mode = 'hang';
    const t0 = Date.now();
    await waitFor('unhealthy by timeouts', () => failed(ep));
    assert.ok(Date.now() - t0 >= 2 * 80 - 10, 'two timeouts elapsed');
    assert.ok(stat('network_failure') >= 2);
    assert.equal(stat('network_failure'), stat('failure'));
    assert.ok(lines.some((l) => l.level === 30 && l.msg === 'health check failed' && l.reason === 'timeout'), 'always_log_health_check_failures logs at info');
    await waitFor('a new connection after each timed-out one', () => srv.sockets.total() >= 3);
    await waitFor('timed-out connections closed', () => srv.sockets.open() <= 1);
    checker.close();
  });

  it('speaks HTTP/2 (h2c) on one session when codec is HTTP2', async () => {
    let status = 200;
    const seen: http2.IncomingHttpHeaders[] = [];
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      seen.push(headers);
      stream.respond({ ':status': status });
      stream.end('ok');
    });
    const sockets = trackSockets(server);
    const port = await listen(server);
    const { checker } = setup([hc(httpCheck({ codec: 'HTTP2', host: 'h2.local' }), { unhealthyThreshold: 1, healthyThreshold: 1 })]);
    const ep = endpoint('api', port);
    checker.addHosts([ep]);
    await waitFor('healthy over h2', () => !failed(ep));
    assert.equal(seen[0]![':authority'], 'h2.local');
    assert.equal(seen[0]![':method'], 'GET');
    assert.equal(seen[0]![':path'], '/healthz');
    assert.equal(seen[0]!['user-agent'], 'tessera/hc');
    status = 500;
    await waitFor('unhealthy over h2', () => failed(ep));
    status = 200;
    await waitFor('healthy again over h2', () => !failed(ep));
    assert.equal(sockets.total(), 1, 'one session for every check');
    checker.close();
    await waitFor('session closed', () => sockets.open() === 0, 1000);
  });

  it('fails a host whose port is closed (network failure) and keeps it failing', async () => {
    const port = await closedPort();
    const { checker, stat } = setup([hc(httpCheck({ codec: 'HTTP2' }), { intervalMs: 20 }), hc(httpCheck(), { intervalMs: 20 })]);
    const ep = endpoint('api', port);
    checker.addHosts([ep]);
    await waitFor('several failures', () => stat('network_failure') >= 6);
    assert.equal(failed(ep), true);
    assert.equal(stat('success'), 0);
    checker.close();
  });
});

describe('HealthChecker TCP', () => {
  it('connect-only: an open port passes, a closed one fails', async () => {
    const server = net.createServer((s) => s.resume());
    const sockets = trackSockets(server);
    const open = await listen(server);
    const closed = await closedPort();
    const { checker, stat } = setup([hc({ kind: 'tcp', send: null, receive: [] }, { intervalMs: 20 })]);
    const up = endpoint('api', open);
    const down = endpoint('api', closed);
    checker.addHosts([up, down]);
    await waitFor('open port passes', () => !failed(up));
    await waitFor('closed port fails repeatedly', () => stat('network_failure') >= 3);
    assert.equal(failed(down), true);
    await waitFor('a few checks', () => sockets.total() >= 3);
    checker.close();
    await waitFor('every check connection closed', () => sockets.open() === 0, 1000);
  });

  it('send/receive: every receive payload must appear in order', async () => {
    let reply = 'PO|NG';
    const server = net.createServer((s) => {
      s.on('data', (d) => {
        if (d.toString() !== 'PING') return;
        if (reply === 'close') {
          s.end();
          return;
        }
        // split across two writes to exercise accumulation
        const [a, b] = reply.split('|');
        s.write(a!);
        setTimeout(() => s.writable && s.write(b ?? ''), 5);
      });
    });
    const port = await listen(server);
    const { checker, stat } = setup([
      hc({ kind: 'tcp', send: Buffer.from('PING'), receive: [Buffer.from('PO'), Buffer.from('NG')] }, { timeoutMs: 100, intervalMs: 20, unhealthyThreshold: 1, healthyThreshold: 1 }),
    ]);
    const ep = endpoint('api', port);
    checker.addHosts([ep]);
    await waitFor('PONG matches', () => !failed(ep));
    reply = 'NG|PO';
    await waitFor('out-of-order reply fails (by timeout)', () => failed(ep));
    const nf = stat('network_failure');
    assert.ok(nf >= 1);
    reply = 'xxPOyy|zzNGww';
    await waitFor('segments with noise around them pass', () => !failed(ep));
    reply = 'close';
    await waitFor('peer closing without a match fails', () => failed(ep));
    checker.close();
  });
});

describe('HealthChecker gRPC', () => {
  it('follows grpc.health.v1 SERVING / NOT_SERVING of the configured service', async () => {
    const statuses = new Map([['', 1], ['svc', 1]]);
    const g = await grpcHealthServer(statuses);
    const { checker, lines } = setup([
      hc({ kind: 'grpc', serviceName: 'svc', authority: '' }, { unhealthyThreshold: 2, healthyThreshold: 2 }),
    ]);
    const ep = endpoint('api', g.port);
    checker.addHosts([ep]);
    await waitFor('SERVING', () => !failed(ep));
    assert.equal(g.services[0], 'svc');
    statuses.set('svc', 2);
    await waitFor('NOT_SERVING', () => failed(ep));
    assert.ok(lines.some((l) => l.reason === 'serving status NOT_SERVING'));
    statuses.set('svc', 1);
    await waitFor('SERVING again', () => !failed(ep));
    statuses.delete('svc');
    await waitFor('unknown service (grpc-status NOT_FOUND) fails', () => failed(ep));
    assert.ok(lines.some((l) => typeof l.reason === 'string' && l.reason.startsWith('grpc-status 5')));
    checker.close();
  });

  it('checks the empty service name and sends the configured :authority', async () => {
    const seen: http2.IncomingHttpHeaders[] = [];
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      seen.push(headers);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        const req = HcRequest.toObject(HcRequest.decode(body.subarray(5))) as { service?: string };
        const msg = HcResponse.encode(HcResponse.fromObject({ status: (req.service ?? '') === '' ? 1 : 2 })).finish();
        const framed = Buffer.alloc(5 + msg.length);
        framed.writeUInt32BE(msg.length, 1);
        Buffer.from(msg).copy(framed, 5);
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(framed);
      });
    });
    const port = await listen(server);
    const { checker } = setup([hc({ kind: 'grpc', serviceName: '', authority: 'grpc.local' })]);
    const ep = endpoint('api', port);
    checker.addHosts([ep]);
    await waitFor('SERVING for the server as a whole', () => !failed(ep));
    const h = seen[0]!;
    assert.equal(h[':authority'], 'grpc.local');
    assert.equal(h[':method'], 'POST');
    assert.equal(h[':path'], '/grpc.health.v1.Health/Check');
    assert.equal(h['content-type'], 'application/grpc');
    assert.equal(h.te, 'trailers');
    checker.close();
  });

  it('fails on a non-gRPC answer (HTTP 200 without grpc-status)', async () => {
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.end();
    });
    const port = await listen(server);
    const { checker, stat, lines } = setup([hc({ kind: 'grpc', serviceName: '', authority: '' }, { intervalMs: 20 })]);
    const ep = endpoint('api', port);
    checker.addHosts([ep]);
    await waitFor('failures', () => stat('failure') >= 2);
    assert.equal(failed(ep), true);
    assert.equal(stat('network_failure'), 0, 'an active failure, not a network one');
    assert.ok(lines.some((l) => l.reason === 'no grpc-status'));
    checker.close();
  });
});

describe('HealthChecker hosts, checks and lifecycle', () => {
  it('marks a host failing when any of several checks fails', async () => {
    const srv = await healthzServer();
    const tcpServer = net.createServer((s) => s.resume());
    await listen(tcpServer);
    const { checker, stat } = setup([
      hc(httpCheck(), { unhealthyThreshold: 1, healthyThreshold: 1 }),
      hc({ kind: 'tcp', send: null, receive: [] }, { unhealthyThreshold: 1, healthyThreshold: 1 }),
    ]);
    const ep = endpoint('api', srv.port); // the TCP check connects to the same port: it stays passing
    checker.addHosts([ep]);
    await waitFor('both pass', () => !failed(ep));
    srv.status = 503;
    await waitFor('HTTP fails, so the host fails', () => failed(ep));
    assert.equal(stat('healthy'), 0);
    srv.status = 200;
    await waitFor('back', () => !failed(ep));
    assert.equal(stat('healthy'), 1);
    checker.close();
  });

  it('removeHosts stops checking a host; addHosts of a known host is a no-op', async () => {
    const a = await healthzServer();
    const b = await healthzServer();
    const { checker, stat } = setup([hc(httpCheck(), { intervalMs: 20 })]);
    const epA = endpoint('api', a.port);
    const epB = endpoint('api', b.port);
    checker.addHosts([epA, epB]);
    await waitFor('both pass', () => !failed(epA) && !failed(epB));
    assert.equal(stat('healthy'), 2);
    checker.addHosts([epA]);
    assert.equal(failed(epA), false, 're-adding a known host keeps its state');
    checker.removeHosts([epA]);
    assert.equal(stat('healthy'), 1);
    const n = a.requests.length;
    const nb = b.requests.length;
    await sleep(150);
    assert.equal(a.requests.length, n, 'no check of a removed host');
    assert.ok(b.requests.length > nb + 2, 'the other host is still checked');
    assert.deepEqual(checker.hostStates(), [{ key: epB.key, passing: true }]);
    checker.close();
    assert.equal(stat('healthy'), 0);
  });

  it('setConfig restarts the checks, keeps serving state, and clears the flag when checks go away', async () => {
    const srv = await healthzServer();
    const { checker } = setup([hc(httpCheck({ path: '/a' }))]);
    const ep = endpoint('api', srv.port);
    checker.addHosts([ep]);
    await waitFor('passes', () => !failed(ep));
    checker.setConfig([hc(httpCheck({ path: '/b' }))]);
    assert.equal(failed(ep), false, 'a serving host keeps serving across a config change');
    await waitFor('new path used', () => srv.paths.includes('/b'));
    const n = srv.paths.length;
    checker.setConfig([hc(httpCheck({ path: '/b' }))]);
    await sleep(60);
    assert.ok(srv.paths.slice(n).every((p) => p === '/b'));
    srv.status = 500;
    await waitFor('fails', () => failed(ep));
    checker.setConfig([]);
    assert.equal(failed(ep), false, 'no check, no FailedActiveHc');
    const m = srv.paths.length;
    await sleep(100);
    assert.equal(srv.paths.length, m, 'no checks run without config');
    checker.close();
  });

  it('waits interval + jitter between checks (random drawn from deps.random)', async () => {
    const slow = await healthzServer();
    const fast = await healthzServer();
    const cfg = hc(httpCheck(), { intervalMs: 20, intervalJitterMs: 300, healthyThreshold: 1 });
    const s1 = setup([cfg], { random: () => 0.999 });
    const s2 = setup([cfg], { random: () => 0 });
    s1.checker.addHosts([endpoint('api', slow.port)]);
    s2.checker.addHosts([endpoint('api', fast.port)]);
    await sleep(400);
    // first check at once, the next one ~319 ms later, the third not before ~640 ms
    assert.ok(slow.requests.length >= 1 && slow.requests.length <= 2, `max jitter: ${slow.requests.length} checks`);
    assert.ok(fast.requests.length >= 6, `no jitter: ${fast.requests.length} checks`);
    s1.checker.close();
    s2.checker.close();
  });

  it('close() stops every timer and closes every check connection', async () => {
    const h1 = await healthzServer();
    const h2server = http2.createServer();
    h2server.on('stream', (s) => {
      s.respond({ ':status': 200 });
      s.end();
    });
    const h2sockets = trackSockets(h2server);
    const h2port = await listen(h2server);
    const hang = await healthzServer();
    hang.mode = 'hang';
    const { checker, stat } = setup([
      hc(httpCheck(), { intervalMs: 20, timeoutMs: 5000 }),
      hc(httpCheck({ codec: 'HTTP2' }), { intervalMs: 20, timeoutMs: 5000 }),
    ]);
    const a = endpoint('api', h1.port);
    const b = endpoint('api', h2port);
    const c = endpoint('api', hang.port);
    checker.addHosts([a, b, c]);
    await waitFor('checks running', () => h1.requests.length >= 3 && hang.requests.length >= 1 && h2sockets.total() >= 1);
    checker.close();
    const attempts = stat('attempt');
    await waitFor('every connection closed', () => h1.sockets.open() === 0 && h2sockets.open() === 0 && hang.sockets.open() === 0, 1000);
    await sleep(100);
    assert.equal(stat('attempt'), attempts, 'no check after close()');
    checker.addHosts([endpoint('api', 1)]);
    assert.equal(checker.hostStates().length, 0, 'a closed checker ignores new hosts');
  });
});
