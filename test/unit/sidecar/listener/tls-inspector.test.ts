// tls_inspector over real ClientHellos (made by node:tls) and plaintext; split records; SNI and ALPN.
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { test } from 'node:test';
import { inspectClientHello, inspectConnection } from '../../../../sidecar/listener/tls-inspector.js';

/** The first bytes a real node:tls client sends (its ClientHello), captured on a raw server. */
async function clientHello(opts: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (b: Buffer) => { resolve(b); s.destroy(); })));
  const c = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, rejectUnauthorized: false, ...opts });
  c.on('error', () => {});
  const b = await got;
  c.destroy();
  server.close();
  return b;
}

test('SNI and ALPN are read from a real ClientHello, also when it arrives a few bytes at a time', async () => {
  const hello = await clientHello({ servername: 'Shop.Example.com', ALPNProtocols: ['h2', 'http/1.1'] });
  assert.deepEqual(inspectClientHello(hello), { transportProtocol: 'tls', serverName: 'shop.example.com', applicationProtocols: ['h2', 'http/1.1'] });
  assert.equal(inspectClientHello(hello.subarray(0, 3)), 'more');
  assert.equal(inspectClientHello(hello.subarray(0, hello.length - 1)), 'more');
});

test('plaintext is raw_buffer at the first byte; a non-hello handshake is TLS without SNI', () => {
  assert.deepEqual(inspectClientHello(Buffer.from('GET / HTTP/1.1\r\n')), { transportProtocol: 'raw_buffer', serverName: '', applicationProtocols: [] });
  const notHello = Buffer.from([0x16, 3, 1, 0, 4, 2, 0, 0, 0]);
  assert.equal(inspectClientHello(notHello).valueOf() !== 'more' && (inspectClientHello(notHello) as { transportProtocol: string }).transportProtocol, 'tls');
});

test('inspectConnection puts the bytes back: a plaintext reader after it sees everything; a silent client times out', async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const seen = new Promise<string>((resolve) =>
    server.once('connection', (s) =>
      inspectConnection(s, 1000, (r) => {
        assert.notEqual(r, 'timeout');
        let all = '';
        s.on('data', (b: Buffer) => {
          all += b.toString();
          if (all.endsWith('END')) resolve(all);
        });
      }),
    ),
  );
  const c = net.connect(port, '127.0.0.1', () => c.write('GET /x HTTP/1.1\r\n\r\nEND'));
  assert.equal(await seen, 'GET /x HTTP/1.1\r\n\r\nEND');
  c.destroy();
  const timedOut = new Promise<string>((resolve) => server.once('connection', (s) => inspectConnection(s, 100, (r) => resolve(String(r)))));
  const quiet = net.connect(port, '127.0.0.1');
  assert.equal(await timedOut, 'timeout');
  quiet.destroy();
  server.close();
});
