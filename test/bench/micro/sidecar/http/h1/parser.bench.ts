// H1Parser: a typical wrk request head, an nginx response head + 100 B body, and a 16 KiB chunked body.
import { H1Parser, ParserKind, type H1Message, type H1ParserHandler } from '../../../../../../sidecar/http/h1/parser.js';
import type { HeaderMap } from '../../../../../../sidecar/http/header-map.js';
import { bench } from '../../../bench.js';

class Sink implements H1ParserHandler {
  messages = 0;
  bodyBytes = 0;
  onHeaders(_m: H1Message): void {
    this.messages++;
  }
  onBody(c: Buffer): void {
    this.bodyBytes += c.length;
  }
  onMessageComplete(_t: HeaderMap | null): void {}
  onParseError(code: string, reason: string): void {
    throw new Error(`${code}: ${reason}`);
  }
}

const request = Buffer.from(
  'GET /small HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk/4.1.0\r\nAccept: */*\r\n' +
    'X-Request-Id: 6f1c1f4e-3b0a-4c8e-9d43-0d1b2a3c4d5e\r\nX-Forwarded-Proto: http\r\n\r\n',
  'latin1',
);
const response = Buffer.concat([
  Buffer.from(
    'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 27 Nov 2026 22:34:40 GMT\r\nContent-Type: text/plain\r\n' +
      'Content-Length: 100\r\nConnection: keep-alive\r\n\r\n',
    'latin1',
  ),
  Buffer.alloc(100, 'x'),
]);
const chunked = Buffer.concat([
  Buffer.from('POST /post HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4000\r\n', 'latin1'),
  Buffer.alloc(16384, 'y'),
  Buffer.from('\r\n0\r\n\r\n', 'latin1'),
]);

export function run(): void {
  const sink = new Sink();
  const req = new H1Parser(ParserKind.Request, sink);
  bench('h1 parser: request head (5 headers)', 300_000, () => req.execute(request));
  const res = new H1Parser(ParserKind.Response, sink);
  bench('h1 parser: response head (5 headers) + 100 B body', 300_000, () => res.execute(response));
  const ch = new H1Parser(ParserKind.Request, sink);
  bench('h1 parser: chunked request, one 16 KiB chunk', 200_000, () => ch.execute(chunked));
}

if (import.meta.url === `file://${process.argv[1]}`) run();
