// HTTP/2 and gRPC end to end through real sidecar processes: h2c and h1 on one listener (codec AUTO), h1↔h2 both
// ways, and grpc-js client → sidecar A → sidecar B → grpc-js server for unary and all three streaming kinds.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { bootstrap, httpListener, staticCluster, writeBootstrap } from '../helpers/bootstraps.js';
import { eventually, freePorts, startTessera, startUpstream, stopChild, tempDir, type ReadyChild, type Upstream } from '../helpers/mesh.js';

const run = promisify(execFile);
const raw = (b: Buffer): Buffer => b;
const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/tessera.test.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: raw,
  requestDeserialize: raw,
  responseSerialize: raw,
  responseDeserialize: raw,
});
const echoDefinition = {
  Unary: method('Unary', false, false),
  ServerStream: method('ServerStream', false, true),
  ClientStream: method('ClientStream', true, false),
  Bidi: method('Bidi', true, true),
} as unknown as grpc.ServiceDefinition;

type AnyCall = grpc.ServerUnaryCall<Buffer, Buffer> & grpc.ServerReadableStream<Buffer, Buffer> & grpc.ServerWritableStream<Buffer, Buffer> & grpc.ServerDuplexStream<Buffer, Buffer>;

const cancelled: string[] = [];

async function startEcho(): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(echoDefinition, <grpc.UntypedServiceImplementation>(<unknown>{
    Unary: (call: AnyCall, cb: grpc.sendUnaryData<Buffer>) => {
      const text = call.request.toString();
      call.on('cancelled', () => cancelled.push(text));
      if (text.startsWith('sleep:')) {
        setTimeout(() => cb(null, Buffer.from('late')), Number(text.slice(6))).unref();
        return;
      }
      if (text === 'notfound') {
        cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' } as grpc.ServiceError);
        return;
      }
      const md = new grpc.Metadata();
      md.set('x-trailer', 'present');
      cb(null, Buffer.from(`echo:${text}:${Number.isFinite(Number(call.getDeadline())) ? 'deadline' : 'none'}`), md);
    },
    ServerStream: (call: AnyCall) => {
      const n = Number(call.request.toString());
      for (let i = 0; i < n; i++) call.write(Buffer.from(`m${i}`));
      call.end();
    },
    ClientStream: (call: AnyCall, cb: grpc.sendUnaryData<Buffer>) => {
      const parts: string[] = [];
      call.on('data', (b: Buffer) => parts.push(b.toString()));
      call.on('end', () => cb(null, Buffer.from(parts.join('+'))));
    },
    Bidi: (call: AnyCall) => {
      call.on('data', (b: Buffer) => call.write(Buffer.from(`re:${b.toString()}`)));
      call.on('end', () => call.end());
    },
  }));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { server, port };
}

type EchoClient = grpc.Client & Record<string, (...a: unknown[]) => unknown>;

describe('HTTP/2 and gRPC through two sidecars', () => {
  const { dir, cleanup } = tempDir();
  let echo: { server: grpc.Server; port: number };
  let unavailable: grpc.Server;
  let adminPortA = 0;
  let web: Upstream;
  let h2app: http2.Http2Server;
  let h2appPort = 0;
  let a: ReadyChild;
  let b: ReadyChild;
  let portA = 0;
  let client: EchoClient;

  before(async () => {
    echo = await startEcho();
    // A server that answers every call UNAVAILABLE (trailers-only): the retry policy's 'unavailable' condition.
    unavailable = new grpc.Server();
    unavailable.addService(echoDefinition, <grpc.UntypedServiceImplementation>(<unknown>{
      Unary: (_c: AnyCall, cb: grpc.sendUnaryData<Buffer>) => cb({ code: grpc.status.UNAVAILABLE, details: 'draining' } as grpc.ServiceError),
    }));
    const unavailablePort = await new Promise<number>((resolve, reject) =>
      unavailable.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    web = await startUpstream('web');
    // A plain HTTP/2 (h2c) app, for HTTP/1.1 clients → sidecar → HTTP/2 upstream.
    h2app = http2.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (b: Buffer) => parts.push(b));
      req.on('end', () => {
        res.setHeader('x-upstream-version', String(req.httpVersion));
        res.end(JSON.stringify({ path: req.url, authority: req.headers[':authority'], bytes: Buffer.concat(parts).length }));
      });
    });
    await new Promise<void>((r) => h2app.listen(0, '127.0.0.1', () => r()));
    h2appPort = (h2app.address() as { port: number }).port;
    const [pa, pb, adminA, adminB, deadPort] = await freePorts(5);
    portA = pa!;
    adminPortA = adminA!;
    const grpcRoute = { match: { prefix: '/tessera.test.Echo/' }, route: { cluster: 'next', timeout: '0s', max_stream_duration: { grpc_timeout_header_max: '0s' } } };
    // Sidecar B: inbound, forwards gRPC to the app over h2c.
    const bB = bootstrap('sidecar-b', adminB!, [httpListener('inbound', pb!, [{ ...grpcRoute, route: { ...grpcRoute.route, cluster: 'app' } }])], [
      staticCluster('app', [echo.port], { http2: true }),
    ]);
    // Sidecar A: outbound, gRPC to sidecar B over h2c, everything else to an HTTP/1.1 app.
    const bA = bootstrap('sidecar-a', adminA!, [httpListener('outbound', pa!, [
      grpcRoute,
      { match: { prefix: '/tessera.test.Dead/' }, route: { cluster: 'dead' } },
      { match: { prefix: '/tessera.test.Slow/' }, route: { cluster: 'next', prefix_rewrite: '/tessera.test.Echo/', max_stream_duration: { max_stream_duration: '0.3s' } } },
      { match: { prefix: '/h2app' }, route: { cluster: 'h2app' } },
      {
        match: { prefix: '/tessera.test.Flaky/' },
        route: {
          cluster: 'flakygrpc', prefix_rewrite: '/tessera.test.Echo/',
          retry_policy: {
            retry_on: 'unavailable', num_retries: 2, host_selection_retry_max_attempts: 3,
            retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
          },
        },
      },
      { match: { prefix: '/' }, route: { cluster: 'web' } },
    ])], [
      staticCluster('next', [pb!], { http2: true }),
      staticCluster('web', [web.port]),
      staticCluster('h2app', [h2appPort], { http2: true }),
      staticCluster('dead', [deadPort!], { http2: true }),
      staticCluster('flakygrpc', [unavailablePort, echo.port], { http2: true }),
    ]);
    b = await startTessera(['sidecar', '--bootstrap', writeBootstrap(dir, 'b', bB), '--access-log', 'off'], { dir, name: 'b' });
    a = await startTessera(['sidecar', '--bootstrap', writeBootstrap(dir, 'a', bA)], { dir, name: 'a' });
    const Ctor = grpc.makeGenericClientConstructor(echoDefinition, 'Echo');
    client = new Ctor(`127.0.0.1:${portA}`, grpc.credentials.createInsecure()) as unknown as EchoClient;
  });

  after(async () => {
    client?.close();
    if (a) await stopChild(a);
    if (b) await stopChild(b);
    echo?.server.forceShutdown();
    unavailable?.forceShutdown();
    await web?.close();
    h2app?.close();
    cleanup();
  });

  it('serves HTTP/1.1 and h2c (prior knowledge) on one listener, h2 downstream to an HTTP/1.1 upstream', async () => {
    const h1 = await run('curl', ['-sS', '--http1.1', '-o', '-', '-w', '\\n%{http_version} %{http_code}', `http://127.0.0.1:${portA}/x`]);
    assert.match(h1.stdout, /"name":"web"/);
    assert.match(h1.stdout, /\n1\.1 200$/);
    const h2 = await run('curl', ['-sS', '--http2-prior-knowledge', '-o', '-', '-w', '\\n%{http_version} %{http_code}', `http://127.0.0.1:${portA}/y?q=1`]);
    assert.match(h2.stdout, /"path":"\/y\?q=1"/);
    assert.match(h2.stdout, /\n2 200$/);
    const post = await run('curl', ['-sS', '--http2-prior-knowledge', '--data-binary', 'x'.repeat(100_000), `http://127.0.0.1:${portA}/post`]);
    assert.equal(JSON.parse(post.stdout).body_bytes, 100_000);
  });

  it('HTTP/1.1 client → HTTP/2 upstream (request body framed as h2 DATA, :authority from Host)', async () => {
    const r = await run('curl', ['-sS', '--http1.1', '-H', 'Host: shop.local', '--data-binary', 'z'.repeat(70_000), '-D', '-', `http://127.0.0.1:${portA}/h2app/p?x=1`]);
    assert.match(r.stdout, /^HTTP\/1\.1 200/);
    assert.match(r.stdout, /x-upstream-version: 2\.0/i);
    const body = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    assert.deepEqual(body, { path: '/h2app/p?x=1', authority: 'shop.local', bytes: 70_000 });
  });

  it('an unreachable upstream is UNAVAILABLE to gRPC clients; max_stream_duration ends a call with DEADLINE_EXCEEDED', async () => {
    const dead = grpc.makeGenericClientConstructor({ Unary: { ...method('Unary', false, false), path: '/tessera.test.Dead/Unary' } } as unknown as grpc.ServiceDefinition, 'Dead');
    const dc = new dead(`127.0.0.1:${portA}`, grpc.credentials.createInsecure()) as unknown as EchoClient;
    const e = await new Promise<grpc.ServiceError>((resolve, reject) => {
      dc.Unary(Buffer.from('x'), new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null) =>
        err ? resolve(err) : reject(new Error('expected an error')),
      );
    });
    dc.close();
    assert.equal(e.code, grpc.status.UNAVAILABLE);
    assert.match(e.details, /connection failure/);
    // The sidecar's own duration limit (no client deadline): DEADLINE_EXCEEDED after ~300 ms.
    const slow = grpc.makeGenericClientConstructor({ Unary: { ...method('Unary', false, false), path: '/tessera.test.Slow/Unary' } } as unknown as grpc.ServiceDefinition, 'Slow');
    const sc = new slow(`127.0.0.1:${portA}`, grpc.credentials.createInsecure()) as unknown as EchoClient;
    const t0 = Date.now();
    const e2 = await new Promise<grpc.ServiceError>((resolve, reject) => {
      sc.Unary(Buffer.from('sleep:3000'), new grpc.Metadata(), {}, (err: grpc.ServiceError | null) => (err ? resolve(err) : reject(new Error('expected an error'))));
    });
    sc.close();
    assert.equal(e2.code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - t0 < 2000);
  });

  it('retry_on unavailable: a trailers-only UNAVAILABLE is retried on the other host', async () => {
    const flaky = grpc.makeGenericClientConstructor({ Unary: { ...method('Unary', false, false), path: '/tessera.test.Flaky/Unary' } } as unknown as grpc.ServiceDefinition, 'Flaky');
    const fc = new flaky(`127.0.0.1:${portA}`, grpc.credentials.createInsecure()) as unknown as EchoClient;
    try {
      for (let i = 0; i < 6; i++) {
        const r = await new Promise<string>((resolve, reject) => {
          fc.Unary(Buffer.from(`f${i}`), new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e: grpc.ServiceError | null, res: Buffer) =>
            e ? reject(e) : resolve(res.toString()),
          );
        });
        assert.equal(r, `echo:f${i}:deadline`);
      }
    } finally {
      fc.close();
    }
    const st = JSON.parse((await run('curl', ['-sS', `http://127.0.0.1:${adminPortA}/stats?format=json`])).stdout) as Record<string, number>;
    assert.ok((st['cluster.flakygrpc.upstream_rq_retry'] ?? 0) >= 1);
    assert.equal(st['cluster.flakygrpc.upstream_rq_retry'], st['cluster.flakygrpc.upstream_rq_retry_success']);
  });

  it('multiplexes many concurrent h2 streams on one downstream connection', async () => {
    const session = http2.connect(`http://127.0.0.1:${portA}`);
    try {
      const one = (i: number) =>
        new Promise<number>((resolve, reject) => {
          const s = session.request({ ':path': `/m${i}` });
          let status = 0;
          s.on('response', (h) => (status = Number(h[':status'])));
          s.resume();
          s.on('end', () => resolve(status));
          s.on('error', reject);
        });
      const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => one(i)));
      assert.deepEqual(new Set(statuses), new Set([200]));
    } finally {
      session.close();
    }
  });

  it('unary call with response trailers (metadata) and the propagated deadline', async () => {
    const md = await new Promise<{ res: string; trailer: unknown }>((resolve, reject) => {
      let res = '';
      const call = client.Unary(Buffer.from('hi'), new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e: grpc.ServiceError | null, r: Buffer) => {
        if (e) reject(e);
        else res = r.toString();
      }) as grpc.ClientUnaryCall;
      call.on('status', (s: grpc.StatusObject) => setImmediate(() => resolve({ res, trailer: s.metadata.get('x-trailer')[0] })));
    });
    // The server got a deadline (grpc-timeout propagated through both sidecars).
    assert.equal(md.res, 'echo:hi:deadline');
    assert.equal(md.trailer, 'present');
  });

  it('server streaming, client streaming and bidi streaming', async () => {
    const got = await new Promise<string[]>((resolve, reject) => {
      const out: string[] = [];
      const s = client.ServerStream(Buffer.from('5'), new grpc.Metadata(), { deadline: Date.now() + 5000 }) as grpc.ClientReadableStream<Buffer>;
      s.on('data', (b: Buffer) => out.push(b.toString()));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
    assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4']);
    const sum = await new Promise<string>((resolve, reject) => {
      const s = client.ClientStream(new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e: grpc.ServiceError | null, r: Buffer) =>
        e ? reject(e) : resolve(r.toString()),
      ) as grpc.ClientWritableStream<Buffer>;
      for (const p of ['a', 'b', 'c']) s.write(Buffer.from(p));
      s.end();
    });
    assert.equal(sum, 'a+b+c');
    const echoed = await new Promise<string[]>((resolve, reject) => {
      const out: string[] = [];
      const s = client.Bidi(new grpc.Metadata(), { deadline: Date.now() + 5000 }) as grpc.ClientDuplexStream<Buffer, Buffer>;
      s.on('data', (b: Buffer) => {
        out.push(b.toString());
        if (out.length < 3) s.write(Buffer.from(`x${out.length}`));
        else s.end();
      });
      s.on('end', () => resolve(out));
      s.on('error', reject);
      s.write(Buffer.from('x0'));
    });
    assert.deepEqual(echoed, ['re:x0', 're:x1', 're:x2']);
  });

  it('passes gRPC error statuses and messages through', async () => {
    const e = await new Promise<grpc.ServiceError>((resolve, reject) => {
      client.Unary(Buffer.from('notfound'), new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null) =>
        err ? resolve(err) : reject(new Error('expected an error')),
      );
    });
    assert.equal(e.code, grpc.status.NOT_FOUND);
    assert.equal(e.details, 'no such thing');
  });

  it('a deadline shorter than the server: DEADLINE_EXCEEDED, and the server call is cancelled', async () => {
    const started = Date.now();
    const e = await new Promise<grpc.ServiceError>((resolve, reject) => {
      client.Unary(Buffer.from('sleep:3000'), new grpc.Metadata(), { deadline: Date.now() + 400 }, (err: grpc.ServiceError | null) =>
        err ? resolve(err) : reject(new Error('expected an error')),
      );
    });
    assert.equal(e.code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 2000);
    await eventually(async () => cancelled.includes('sleep:3000'), 3000);
  });
});
