import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorCode } from '../../../../src/core/errors.js';
import { H1Parser, ParserKind, hasToken, parseContentLength, type H1Message } from '../../../../sidecar/http/h1/parser.js';
import type { HeaderMap } from '../../../../sidecar/http/header-map.js';

interface Msg {
  method: string;
  path: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  trailers: Record<string, string> | null;
  keepAlive: boolean;
  upgrade: boolean;
  host: string;
}

class Collector {
  msgs: Msg[] = [];
  cur: Msg | null = null;
  error: { code: ErrorCode; reason: string } | null = null;
  pauseOnComplete = false;
  parser: H1Parser;
  constructor(kind: ParserKind = ParserKind.Request, limits?: ConstructorParameters<typeof H1Parser>[2]) {
    this.parser = new H1Parser(kind, this, limits);
  }
  onHeaders(m: H1Message): void {
    this.cur = {
      method: m.method, path: m.path, status: m.status, headers: m.headers.toObject(), body: '', trailers: null,
      keepAlive: m.keepAlive, upgrade: m.upgrade, host: m.host,
    };
    if (m.status > 0 && m.status < 200) {
      this.msgs.push(this.cur);
      this.cur = null;
    }
  }
  onBody(c: Buffer): void {
    this.cur!.body += c.toString('latin1');
  }
  onMessageComplete(t: HeaderMap | null): void {
    this.cur!.trailers = t === null ? null : t.toObject();
    this.msgs.push(this.cur!);
    this.cur = null;
    if (this.pauseOnComplete) this.parser.pause();
  }
  onParseError(code: ErrorCode, reason: string): void {
    this.error = { code, reason };
  }
}

function parse(input: string, byteByByte = false): Collector {
  const c = new Collector();
  const b = Buffer.from(input, 'latin1');
  if (byteByByte) for (let i = 0; i < b.length; i++) c.parser.execute(b.subarray(i, i + 1));
  else c.parser.execute(b);
  return c;
}

function rejects(input: string, code: ErrorCode = 'TESSERA_ERR_HTTP_BAD_REQUEST'): void {
  for (const bb of [false, true]) {
    const c = parse(input, bb);
    assert.ok(c.error, `expected rejection of ${JSON.stringify(input)}`);
    assert.equal(c.error.code, code, `${JSON.stringify(input)}: ${c.error.reason}`);
    assert.equal(c.msgs.length, 0, 'no message may complete');
  }
}

describe('H1Parser requests', () => {
  it('parses a simple GET, whole and byte by byte', () => {
    for (const bb of [false, true]) {
      const c = parse('GET /a?b=1 HTTP/1.1\r\nHost: Example.com\r\nX-Foo:  bar \r\n\r\n', bb);
      assert.equal(c.error, null);
      assert.equal(c.msgs.length, 1);
      const m = c.msgs[0]!;
      assert.equal(m.method, 'GET');
      assert.equal(m.path, '/a?b=1');
      assert.equal(m.host, 'example.com');
      assert.equal(m.headers['x-foo'], 'bar');
      assert.equal(m.keepAlive, true);
    }
  });

  it('parses content-length and chunked bodies with trailers, pipelined', () => {
    for (const bb of [false, true]) {
      const c = parse(
        'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello' +
          'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: v\r\n\r\n' +
          'GET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
        bb,
      );
      assert.equal(c.error, null);
      assert.deepEqual(c.msgs.map((m) => m.body), ['hello', 'abcde', '']);
      assert.deepEqual(c.msgs[1]!.trailers, { 'x-t': 'v' });
      assert.equal(c.msgs[2]!.keepAlive, false);
    }
  });

  it('pause() holds pipelined bytes until resume()', () => {
    const c = new Collector();
    c.pauseOnComplete = true;
    c.parser.execute(Buffer.from('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n'));
    assert.equal(c.msgs.length, 1);
    assert.ok(c.parser.pendingBytes > 0);
    c.parser.execute(Buffer.from('GET /3 HTTP/1.1\r\nHost: a\r\n\r\n'));
    assert.equal(c.msgs.length, 1);
    c.parser.resume();
    assert.equal(c.msgs.length, 2);
    c.parser.resume();
    assert.deepEqual(c.msgs.map((m) => m.path), ['/1', '/2', '/3']);
  });

  it('HTTP/1.0 keep-alive only when asked; upgrade detection', () => {
    assert.equal(parse('GET / HTTP/1.0\r\n\r\n').msgs[0]!.keepAlive, false);
    assert.equal(parse('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').msgs[0]!.keepAlive, true);
    assert.equal(parse('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n').msgs[0]!.upgrade, true);
    assert.equal(parse('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n').msgs[0]!.upgrade, false);
  });

  it('accepts absolute-form targets and leading CRLF', () => {
    const c = parse('\r\nGET http://Up.example:8080/x?y HTTP/1.1\r\nHost: other\r\n\r\n');
    assert.equal(c.error, null);
    assert.equal(c.msgs[0]!.path, '/x?y');
    assert.equal(c.msgs[0]!.host, 'up.example:8080');
  });

  const smuggling: [string, string, ErrorCode?][] = [
    ['CL+TE', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['TE+CL', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n'],
    ['TE chunked ,x', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked ,x\r\n\r\n'],
    ['TE xchunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n'],
    ['TE identity', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n'],
    ['TE chunked, chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n'],
    ['TE duplicate', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['TE vertical tab', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n'],
    ['TE gzip,chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 'TESSERA_ERR_HTTP_NOT_IMPLEMENTED'],
    ['TE in 1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['space before colon', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n'],
    ['CL duplicate same', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc'],
    ['CL differing', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'],
    ['CL list', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc'],
    ['CL signed', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc'],
    ['CL negative', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n'],
    ['CL hex', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc'],
    ['CL overflow', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n'],
    ['bad chunk size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['chunk size 0x', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n'],
    ['chunk size space', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n'],
    ['chunk ext bad', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;\r\nabc\r\n0\r\n\r\n'],
    ['chunk ext ctl', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a="\x01"\r\nabc\r\n0\r\n\r\n'],
    ['chunk overflow', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n'],
    ['missing CRLF after chunk', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n'],
    ['bare LF in chunk line', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n'],
    ['bare LF header', 'GET / HTTP/1.1\nHost: a\r\n\r\n'],
    ['bare LF end', 'GET / HTTP/1.1\r\nHost: a\n\n'],
    ['bare CR', 'GET / HTTP/1.1\rHost: a\r\n\r\n'],
    ['bare CR in value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n'],
    ['NUL in value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n'],
    ['ctl in value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x1fb\r\n\r\n'],
    ['DEL in value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n'],
    ['bad name char', 'GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n'],
    ['empty name', 'GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n'],
    ['bad method', 'G(T / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['double space', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['trailing space', 'GET / HTTP/1.1 \r\nHost: a\r\n\r\n'],
    ['missing version', 'GET / \r\nHost: a\r\n\r\n'],
    ['HTTP/0.9', 'GET /\r\n\r\n'],
    ['lowercase version', 'GET / http/1.1\r\nHost: a\r\n\r\n'],
    ['space in target', 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['non-ascii target', 'GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['relative target', 'GET a HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 'TESSERA_ERR_HTTP_VERSION'],
    ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: a\r\n\r\n', 'TESSERA_ERR_HTTP_VERSION'],
    ['no Host 1.1', 'GET / HTTP/1.1\r\n\r\n'],
    ['two Host', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
    ['bad Host', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n'],
    ['CONNECT', 'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n', 'TESSERA_ERR_HTTP_NOT_IMPLEMENTED'],
  ];
  for (const [name, input, code] of smuggling) {
    it(`rejects ${name}`, () => rejects(input, code));
  }

  it('414 for a long target, 431 for big or many headers', () => {
    rejects(`GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 'TESSERA_ERR_HTTP_URI_TOO_LONG');
    const c = new Collector(ParserKind.Request, { maxRequestTargetBytes: 8192, maxHeaderBytes: 1024, maxHeadersCount: 5 });
    c.parser.execute(Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'b'.repeat(2000)}`));
    assert.equal(c.error?.code, 'TESSERA_ERR_HTTP_HEADERS_TOO_LARGE');
    const d = new Collector(ParserKind.Request, { maxRequestTargetBytes: 8192, maxHeaderBytes: 1024, maxHeadersCount: 5 });
    d.parser.execute(Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\n${'X: 1\r\n'.repeat(6)}\r\n`));
    assert.equal(d.error?.code, 'TESSERA_ERR_HTTP_HEADERS_TOO_LARGE');
  });

  it('parseContentLength and hasToken are strict', () => {
    assert.equal(parseContentLength('123'), 123);
    assert.equal(parseContentLength(''), -1);
    assert.equal(parseContentLength('1 2'), -1);
    assert.equal(parseContentLength('1234567890123456'), -1);
    assert.equal(hasToken('keep-alive, Upgrade', 'upgrade'), true);
    assert.equal(hasToken('xupgrade', 'upgrade'), false);
  });
});

describe('H1Parser responses', () => {
  function resp(input: string, head = false): Collector {
    const c = new Collector(ParserKind.Response);
    c.parser.expectBodyless = head;
    c.parser.execute(Buffer.from(input, 'latin1'));
    return c;
  }

  it('handles CL, chunked+trailers, 204, 304, HEAD, 1xx', () => {
    assert.equal(resp('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok').msgs[0]!.body, 'ok');
    const ch = resp('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nGrpc-Status: 0\r\n\r\n');
    assert.equal(ch.msgs[0]!.body, 'ok');
    assert.deepEqual(ch.msgs[0]!.trailers, { 'grpc-status': '0' });
    assert.equal(resp('HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').msgs.length, 2);
    assert.equal(resp('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n').msgs.length, 1);
    assert.equal(resp('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', true).msgs.length, 1);
    const cont = resp('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx');
    assert.deepEqual(cont.msgs.map((m) => m.status), [100, 200]);
  });

  it('close-delimited body completes on finish()', () => {
    const c = resp('HTTP/1.1 200 OK\r\n\r\nabc');
    assert.equal(c.msgs.length, 0);
    c.parser.execute(Buffer.from('def'));
    assert.equal(c.parser.finish(), true);
    assert.equal(c.msgs[0]!.body, 'abcdef');
    assert.equal(c.msgs[0]!.keepAlive, false);
  });

  it('101 stops parsing and keeps the rest', () => {
    const c = resp('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi');
    assert.equal(c.parser.upgraded, true);
    assert.equal(c.parser.takePending()?.toString('latin1'), '\x81\x02hi');
  });

  it('rejects malformed responses', () => {
    for (const bad of [
      'HTTP/1.1 20 OK\r\n\r\n',
      'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
      'HTTP/2 200 OK\r\n\r\n',
      'XTTP/1.1 200 OK\r\n\r\n',
    ]) {
      assert.ok(resp(bad).error, bad);
    }
  });
});
