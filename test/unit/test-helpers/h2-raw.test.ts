// Tests of the raw HTTP/2 client harness itself, against a real node:http2 server on 127.0.0.1.
import test from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import {
  FrameType,
  H2Error,
  H2RawClient,
  HpackDecoder,
  headerValue,
  hpack,
  huffmanDecode,
  huffmanEncode,
} from '../../helpers/h2-raw.js';

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('').trim();

interface TestServer {
  readonly port: number;
  readonly server: http2.Http2Server;
  /** Streams held open by `/hold` (answered when the test says so). */
  readonly held: http2.ServerHttp2Stream[];
  close(): Promise<void>;
}

async function startServer(): Promise<TestServer> {
  const held: http2.ServerHttp2Stream[] = [];
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const path = headers[':path'];
    if (path === '/hold') {
      held.push(stream);
      return;
    }
    if (path === '/big') {
      stream.respond({ ':status': 200 });
      stream.end(Buffer.alloc(200_000, 0x61)); // > the 65 535-byte default window: needs our WINDOW_UPDATEs
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-printable': PRINTABLE, 'x-path': String(path) });
    stream.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    server,
    held,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

test('hpack: decodes the RFC 7541 C.4 request examples (Huffman + dynamic table)', () => {
  const d = new HpackDecoder();
  const first = d.decode(Buffer.from('828684418cf1e3c2e5f23a6ba0ab90f4ff', 'hex'));
  assert.deepEqual(first, [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']]);
  assert.equal(d.dynamicTableSize, 57);
  const second = d.decode(Buffer.from('828684be5886a8eb10649cbf', 'hex'));
  assert.deepEqual(second, [
    [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache'],
  ]);
  assert.equal(d.dynamicTableSize, 110);
});

test('hpack: huffman round-trips every byte value and rejects bad padding', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  assert.deepEqual(huffmanDecode(huffmanEncode(all)), all);
  assert.equal(huffmanEncode(Buffer.from('www.example.com')).toString('hex'), 'f1e3c2e5f23a6ba0ab90f4ff');
  // '0' is 00000 (5 bits): a whole zero byte leaves 3 zero bits of padding, which must be ones.
  assert.throws(() => huffmanDecode(Buffer.from([0x00])), /padding/);
});

test('hpack: integers with continuation bytes (RFC 7541 C.1.2) and literal encoding', () => {
  assert.deepEqual(hpack.int(1337, 5), Buffer.from([0x1f, 0x9a, 0x0a]));
  assert.deepEqual(hpack.int(10, 5), Buffer.from([0x0a]));
  const block = Buffer.concat([hpack.literalIndexed('x-a', 'v'.repeat(200)), hpack.indexed(62), hpack.literal('x-b', 'w')]);
  assert.deepEqual(new HpackDecoder().decode(block), [['x-a', 'v'.repeat(200)], ['x-a', 'v'.repeat(200)], ['x-b', 'w']]);
});

test('GET via raw frames receives :status 200, Huffman-coded headers and the body', async (t) => {
  const srv = await startServer();
  t.after(() => srv.close());
  const c = await H2RawClient.connect(srv.port);
  t.after(() => c.close());
  c.get(1, '/hello');
  const r = await c.response(1);
  assert.equal(c.decodeError, null);
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'ok');
  assert.equal(headerValue(r.headers, 'content-type'), 'text/plain');
  assert.equal(headerValue(r.headers, 'x-printable'), PRINTABLE);
  assert.equal(headerValue(r.headers, 'x-path'), '/hello');
  // A second request decodes against the dynamic table the server's encoder filled.
  c.get(3, '/again');
  const r2 = await c.response(3);
  assert.equal(r2.status, 200);
  assert.equal(headerValue(r2.headers, 'x-printable'), PRINTABLE);
  assert.equal(headerValue(r2.headers, 'x-path'), '/again');
  assert.ok(c.countOf(FrameType.SETTINGS) >= 1);
  assert.equal(c.goaway, null);
});

test('a body larger than the initial window arrives thanks to automatic WINDOW_UPDATEs', async (t) => {
  const srv = await startServer();
  t.after(() => srv.close());
  const c = await H2RawClient.connect(srv.port);
  t.after(() => c.close());
  c.get(1, '/big');
  const r = await c.response(1, 5000);
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 200_000);
});

test('with autoWindowUpdate off and a zero initial window the body stalls', async (t) => {
  const srv = await startServer();
  t.after(() => srv.close());
  const c = await H2RawClient.connect(srv.port, { settings: { INITIAL_WINDOW_SIZE: 0 }, autoWindowUpdate: false });
  t.after(() => c.close());
  c.get(1, '/big');
  await c.waitFor((x) => x.stream(1).status !== null, 2000, 'response headers');
  await assert.rejects(c.response(1, 300), /timed out/);
  assert.equal(c.stream(1).dataBytes, 0);
  c.windowUpdate(1, 1000);
  c.windowUpdate(0, 1000);
  await c.waitFor((x) => x.stream(1).dataBytes === 1000, 2000, '1000 bytes');
});

const POST: readonly (readonly [string, string])[] = [[':method', 'POST'], [':scheme', 'http'], [':authority', 'localhost']];

async function waitHeld(srv: TestServer, n: number): Promise<void> {
  const t0 = Date.now();
  while (srv.held.length < n) {
    if (Date.now() - t0 > 2000) throw new Error('server never saw the stream');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('RST_STREAM(NO_ERROR) when the server answers before the request body ends; later DATA on the closed stream is ignored', async (t) => {
  const srv = await startServer();
  t.after(() => srv.close());
  const c = await H2RawClient.connect(srv.port);
  t.after(() => c.close());
  c.headers(1, [...POST, [':path', '/early']], { endStream: false });
  const r = await c.response(1);
  assert.equal(r.status, 200);
  await c.waitFor((x) => x.rsts.has(1), 2000, 'RST_STREAM on stream 1');
  assert.equal(c.rsts.get(1), H2Error.NO_ERROR);
  c.data(1, 'late', { endStream: true }); // closed stream: nghttp2 drops it, no connection error
  c.get(3, '/ok');
  assert.equal((await c.response(3)).status, 200);
  assert.equal(c.goaway, null);
});

test('RST_STREAM(FLOW_CONTROL_ERROR) for DATA beyond the stream window (connection window is larger)', async (t) => {
  const srv = await startServer();
  srv.server.on('session', (s) => s.setLocalWindowSize(1 << 20));
  t.after(() => srv.close());
  const c = await H2RawClient.connect(srv.port);
  t.after(() => c.close());
  c.headers(1, [...POST, [':path', '/hold']], { endStream: false });
  await waitHeld(srv, 1);
  for (let i = 0; i < 5; i++) c.data(1, Buffer.alloc(16_384)); // 81 920 > 65 535
  await c.waitFor((x) => x.rsts.has(1), 2000, 'RST_STREAM on stream 1');
  assert.equal(c.rsts.get(1), H2Error.FLOW_CONTROL_ERROR);
  assert.equal(c.goaway, null);
});

test('GOAWAY(STREAM_CLOSED) with debug data for DATA on a stream the client half-closed', async (t) => {
  const srv = await startServer();
  t.after(() => srv.close());
  const c = await H2RawClient.connect(srv.port);
  t.after(() => c.close());
  c.get(1, '/first');
  await c.response(1);
  c.get(3, '/hold'); // END_STREAM: half-closed (remote) on the server, which holds its response
  await waitHeld(srv, 1);
  c.data(3, 'late');
  const g = await c.goawayOrClose(2000);
  assert.ok(g, 'expected a GOAWAY frame before the close');
  assert.equal(g.errorCode, H2Error.STREAM_CLOSED);
  assert.equal(g.errorName, 'STREAM_CLOSED');
  assert.equal(g.lastStreamId, 3);
  assert.match(g.debug, /half-closed/);
  assert.ok(g.atFramesSent >= 5);
  // (node:http2 20.x then leaves the socket open while the held stream exists: see docs/h2-hardening.md.)
});

test('GOAWAY(PROTOCOL_ERROR) for DATA on stream 0', async (t) => {
  const srv = await startServer();
  t.after(() => srv.close());
  const c = await H2RawClient.connect(srv.port);
  t.after(() => c.close());
  c.data(0, 'x');
  const g = await c.goawayOrClose(2000);
  assert.equal(g?.errorCode, H2Error.PROTOCOL_ERROR);
});

test('waitFor rejects after its timeout', async (t) => {
  const srv = await startServer();
  t.after(() => srv.close());
  const c = await H2RawClient.connect(srv.port);
  t.after(() => c.close());
  await assert.rejects(c.waitFor(() => false, 50, 'never'), /timed out after 50 ms waiting for never/);
});
