// Strict incremental HTTP/1.1 parser (RFC 9112, Envoy edge defaults): one reusable object per connection.
import type { ErrorCode } from '../../../src/core/errors.js';
import { HeaderMap } from '../header-map.js';
import { COLON, CR, FIELD_VALUE, HEX, HTAB, LF, SP, TARGET, TOKEN } from './chars.js';

export const ParserKind = { Request: 0, Response: 1 } as const;
export type ParserKind = (typeof ParserKind)[keyof typeof ParserKind];

export interface H1ParserLimits {
  /** Longest request target (414 beyond); default 8 KiB. */
  readonly maxRequestTargetBytes: number;
  /** Header section size (431 beyond; also bounds trailers). */
  readonly maxHeaderBytes: number;
  /** Header count (431 beyond). */
  readonly maxHeadersCount: number;
}

export const DEFAULT_PARSER_LIMITS: H1ParserLimits = Object.freeze({
  maxRequestTargetBytes: 8192,
  maxHeaderBytes: 60 * 1024,
  maxHeadersCount: 100,
});

/** The head of the message being parsed; valid during `onHeaders` (the HeaderMap is fresh per message and may be kept). */
export class H1Message {
  method: string;
  /** Request target as received. */
  target: string;
  /** Origin-form path with query (from an absolute-form target: its path part). */
  path: string;
  /** Authority of an absolute-form target, lower-cased; null for origin-form. */
  absoluteAuthority: string | null;
  versionMinor: number;
  status: number;
  reason: string;
  headers: HeaderMap;
  /** Declared Content-Length, -1 when absent. */
  contentLength: number;
  chunked: boolean;
  /** Persistent connection per RFC 9112 §9.3 (1.1 unless close; 1.0 only with keep-alive). */
  keepAlive: boolean;
  /** Request: Upgrade header + Connection: upgrade. Response: status 101. */
  upgrade: boolean;
  expectContinue: boolean;
  /** The single Host value lower-cased ('' when absent on HTTP/1.0). */
  host: string;
  /** Message has no body (request without framing; response to HEAD, 1xx, 204, 304). */
  bodyless: boolean;
  /** Response without length: body runs until the connection closes. */
  closeDelimited: boolean;

  constructor() {
    this.method = '';
    this.target = '';
    this.path = '';
    this.absoluteAuthority = null;
    this.versionMinor = 1;
    this.status = 0;
    this.reason = '';
    this.headers = new HeaderMap();
    this.contentLength = -1;
    this.chunked = false;
    this.keepAlive = true;
    this.upgrade = false;
    this.expectContinue = false;
    this.host = '';
    this.bodyless = true;
    this.closeDelimited = false;
  }
}

/** Receives parse events; bound once per connection. */
export interface H1ParserHandler {
  onHeaders(msg: H1Message): void;
  /** A body slice of the input (no copy). */
  onBody(chunk: Buffer): void;
  onMessageComplete(trailers: HeaderMap | null): void;
  /** The parser is dead after this; `code` picks the local reply (request side). */
  onParseError(code: ErrorCode, reason: string): void;
}

const S_START = 0; // before the start line (leading empty lines allowed on requests)
const S_HEADERS = 1;
const S_BODY_CL = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_DATA = 4;
const S_CHUNK_CR = 5;
const S_CHUNK_LF = 6;
const S_TRAILERS = 7;
const S_BODY_EOF = 8;
const S_UPGRADED = 9;
const S_DEAD = 10;

const BAD: ErrorCode = 'TESSERA_ERR_HTTP_BAD_REQUEST';
const MAX_LEADING_EMPTY_LINES = 8;
const MAX_CHUNK_LINE = 4096;
const MAX_CL_DIGITS = 15;

/** Incremental HTTP/1.1 request or response parser; `execute` may span messages (pipelining). */
export class H1Parser {
  readonly kind: ParserKind;
  readonly limits: H1ParserLimits;
  /** Response side: set before each request is sent when it is a HEAD (response has no body). */
  expectBodyless: boolean;
  readonly #handler: H1ParserHandler;
  readonly #msg: H1Message;
  #state: number;
  #paused: boolean;
  #executing: boolean;
  /** Unconsumed input while paused/upgraded. */
  #pending: Buffer | null;
  /** Incomplete line carried over between chunks. */
  #partial: Buffer | null;
  #headBytes: number;
  #emptyLines: number;
  #remaining: number;
  #trailers: HeaderMap | null;
  // per-head tracking
  #clCount: number;
  #clValue: string;
  #teCount: number;
  #teValue: string;
  #hostCount: number;
  #connection: string;
  #hasUpgradeHeader: boolean;
  #expect: string;
  /** Value of the field `#field` just parsed. */
  #fieldValue: string;

  constructor(kind: ParserKind, handler: H1ParserHandler, limits: H1ParserLimits = DEFAULT_PARSER_LIMITS) {
    this.kind = kind;
    this.limits = limits;
    this.expectBodyless = false;
    this.#handler = handler;
    this.#msg = new H1Message();
    this.#state = S_START;
    this.#paused = false;
    this.#executing = false;
    this.#pending = null;
    this.#partial = null;
    this.#headBytes = 0;
    this.#emptyLines = 0;
    this.#remaining = 0;
    this.#trailers = null;
    this.#clCount = 0;
    this.#clValue = '';
    this.#teCount = 0;
    this.#teValue = '';
    this.#hostCount = 0;
    this.#connection = '';
    this.#hasUpgradeHeader = false;
    this.#expect = '';
    this.#fieldValue = '';
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Bytes buffered while paused (the caller stops reading the socket past a limit). */
  get pendingBytes(): number {
    return (this.#pending === null ? 0 : this.#pending.length) + (this.#partial === null ? 0 : this.#partial.length);
  }

  /** Between messages with nothing buffered (an EOF here is clean). */
  get idle(): boolean {
    return this.#state === S_START && this.#partial === null && this.#pending === null && this.#emptyLines === 0;
  }

  /** Started receiving a message head (first byte seen). */
  get inHead(): boolean {
    return this.#state === S_START ? this.#partial !== null || this.#emptyLines > 0 : this.#state === S_HEADERS;
  }

  get dead(): boolean {
    return this.#state === S_DEAD;
  }

  get upgraded(): boolean {
    return this.#state === S_UPGRADED;
  }

  /** Stops delivering events after the current one; later input is buffered. */
  pause(): void {
    this.#paused = true;
  }

  /** Continues with buffered input (synchronously, unless called from inside a callback). */
  resume(): void {
    this.#paused = false;
    if (this.#executing || this.#pending === null) return;
    if (this.#state === S_DEAD || this.#state === S_UPGRADED) return;
    const p = this.#pending;
    this.#pending = null;
    this.execute(p);
  }

  /** Stops parsing for good (connection closing). */
  kill(): void {
    this.#state = S_DEAD;
    this.#pending = null;
    this.#partial = null;
  }

  /** Bytes after a 101 response head (or buffered while paused); the parser forgets them. */
  takePending(): Buffer | null {
    const p = this.#pending;
    this.#pending = null;
    return p;
  }

  /** Back to a fresh state (pooled upstream connection reuse after a clean response). */
  reset(): void {
    this.#state = S_START;
    this.#paused = false;
    this.#pending = null;
    this.#partial = null;
    this.expectBodyless = false;
    this.#resetHead();
  }

  execute(buf: Buffer): void {
    const st = this.#state;
    if (st === S_DEAD) return;
    if (this.#paused || st === S_UPGRADED) {
      this.#pending = this.#pending === null ? buf : Buffer.concat([this.#pending, buf]);
      return;
    }
    this.#executing = true;
    const len = buf.length;
    let off = 0;
    while (off < len) {
      const s = this.#state;
      if (s === S_DEAD) break;
      if (this.#paused || s === S_UPGRADED) {
        this.#pending = buf.subarray(off);
        break;
      }
      switch (s) {
        case S_BODY_CL: {
          const n = Math.min(this.#remaining, len - off);
          this.#remaining -= n;
          const chunk = buf.subarray(off, off + n);
          off += n;
          this.#handler.onBody(chunk);
          if (this.#remaining === 0 && this.#state === S_BODY_CL) this.#complete(null);
          break;
        }
        case S_CHUNK_DATA: {
          const n = Math.min(this.#remaining, len - off);
          this.#remaining -= n;
          const chunk = buf.subarray(off, off + n);
          off += n;
          if (this.#remaining === 0) this.#state = S_CHUNK_CR;
          this.#handler.onBody(chunk);
          break;
        }
        case S_CHUNK_CR:
          if (buf[off] !== CR) {
            this.#fail(BAD, 'missing CRLF after chunk data');
            break;
          }
          off++;
          this.#state = S_CHUNK_LF;
          break;
        case S_CHUNK_LF:
          if (buf[off] !== LF) {
            this.#fail(BAD, 'missing CRLF after chunk data');
            break;
          }
          off++;
          this.#state = S_CHUNK_SIZE;
          break;
        case S_BODY_EOF: {
          const chunk = off === 0 ? buf : buf.subarray(off);
          off = len;
          this.#handler.onBody(chunk);
          break;
        }
        default:
          off = this.#lines(buf, off);
          break;
      }
    }
    this.#executing = false;
    if (!this.#paused && this.#pending !== null && this.#state !== S_DEAD && this.#state !== S_UPGRADED) {
      const p = this.#pending;
      this.#pending = null;
      this.execute(p);
    }
  }

  /**
   * The peer closed its side. Completes a close-delimited body; returns false when a message was cut
   * short (the caller treats that as a reset), true when the parser was between messages or done.
   */
  finish(): boolean {
    const s = this.#state;
    if (s === S_BODY_EOF) {
      this.#complete(null);
      return true;
    }
    if (s === S_DEAD || s === S_UPGRADED) return true;
    return s === S_START && this.#partial === null;
  }

  // ---- line-oriented states ----

  #lines(buf: Buffer, off: number): number {
    const len = buf.length;
    while (off < len) {
      const s = this.#state;
      if (s !== S_START && s !== S_HEADERS && s !== S_CHUNK_SIZE && s !== S_TRAILERS) return off;
      if (this.#paused) return off;
      // A JS scan beats Buffer#indexOf (a native call) on header-sized lines.
      let nl = off;
      while (nl < len && buf[nl] !== LF) nl++;
      if (nl === len) {
        const rest = buf.subarray(off);
        this.#partial = this.#partial === null ? rest : Buffer.concat([this.#partial, rest]);
        this.#checkPartial();
        return len;
      }
      let line = buf;
      let ls = off;
      let le = nl;
      if (this.#partial !== null) {
        line = Buffer.concat([this.#partial, buf.subarray(off, nl + 1)]);
        this.#partial = null;
        ls = 0;
        le = line.length - 1;
      }
      off = nl + 1;
      if (le === ls || line[le - 1] !== CR) {
        this.#fail(BAD, 'bare LF line ending');
        return len;
      }
      const ce = le - 1;
      let ok: boolean;
      switch (s) {
        case S_START:
          ok = this.#startLine(line, ls, ce);
          break;
        case S_HEADERS:
          this.#headBytes += le + 1 - ls;
          ok = this.#headerLine(line, ls, ce);
          break;
        case S_CHUNK_SIZE:
          ok = this.#chunkSizeLine(line, ls, ce);
          break;
        default:
          this.#headBytes += le + 1 - ls;
          ok = this.#trailerLine(line, ls, ce);
          break;
      }
      if (!ok) return len;
    }
    return off;
  }

  #checkPartial(): void {
    const p = this.#partial!.length;
    switch (this.#state) {
      case S_START:
        if (p > this.limits.maxRequestTargetBytes + 64) {
          this.#fail(this.kind === ParserKind.Request ? 'TESSERA_ERR_HTTP_URI_TOO_LONG' : BAD, 'start line too long');
        }
        break;
      case S_HEADERS:
      case S_TRAILERS:
        if (this.#headBytes + p > this.limits.maxHeaderBytes) this.#fail('TESSERA_ERR_HTTP_HEADERS_TOO_LARGE', 'headers too large');
        break;
      default:
        if (p > MAX_CHUNK_LINE) this.#fail(BAD, 'chunk size line too long');
        break;
    }
  }

  #startLine(b: Buffer, s: number, e: number): boolean {
    if (s === e) {
      // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
      if (this.kind === ParserKind.Request && ++this.#emptyLines <= MAX_LEADING_EMPTY_LINES) return true;
      return this.#fail(BAD, 'empty start line');
    }
    this.#emptyLines = 0;
    this.#msg.headers = new HeaderMap();
    const ok = this.kind === ParserKind.Request ? this.#requestLine(b, s, e) : this.#statusLine(b, s, e);
    if (ok) this.#state = S_HEADERS;
    return ok;
  }

  #requestLine(b: Buffer, s: number, e: number): boolean {
    const m = this.#msg;
    let i = s;
    while (i < e && TOKEN[b[i]!] === 1) i++;
    if (i === s || i >= e || b[i] !== SP) return this.#fail(BAD, 'invalid method');
    m.method = latin1(b, s, i);
    const ts = ++i;
    while (i < e && TARGET[b[i]!] === 1) i++;
    const te = i;
    if (te === ts) return this.#fail(BAD, 'invalid request target');
    if (te - ts > this.limits.maxRequestTargetBytes) return this.#fail('TESSERA_ERR_HTTP_URI_TOO_LONG', 'request target too long');
    if (i >= e) return this.#fail(BAD, 'missing HTTP version');
    if (b[i] !== SP) return this.#fail(BAD, 'invalid request target');
    i++;
    if (e - i !== 8 || !this.#version(b, i)) return this.#fail(BAD, 'invalid HTTP version');
    if (b[i + 5] !== 0x31 || (b[i + 7] !== 0x31 && b[i + 7] !== 0x30)) {
      return this.#fail('TESSERA_ERR_HTTP_VERSION', 'unsupported HTTP version');
    }
    m.versionMinor = b[i + 7]! - 0x30;
    const target = latin1(b, ts, te);
    m.target = target;
    m.absoluteAuthority = null;
    const c0 = target.charCodeAt(0);
    if (c0 === 0x2f /* / */) {
      m.path = target;
    } else if (target === '*') {
      if (m.method !== 'OPTIONS') return this.#fail(BAD, 'asterisk-form target requires OPTIONS');
      m.path = target;
    } else if (m.method === 'CONNECT') {
      return this.#fail('TESSERA_ERR_HTTP_NOT_IMPLEMENTED', 'CONNECT not supported');
    } else {
      const lower = target.slice(0, 8).toLowerCase();
      const schemeEnd = lower.startsWith('http://') ? 7 : lower.startsWith('https://') ? 8 : -1;
      if (schemeEnd === -1) return this.#fail(BAD, 'invalid request target');
      let pe = target.indexOf('/', schemeEnd);
      const qe = target.indexOf('?', schemeEnd);
      if (qe !== -1 && (pe === -1 || qe < pe)) pe = qe;
      const authority = pe === -1 ? target.slice(schemeEnd) : target.slice(schemeEnd, pe);
      if (authority.length === 0 || authority.includes('@')) return this.#fail(BAD, 'invalid request target authority');
      m.absoluteAuthority = authority.toLowerCase();
      m.path = pe === -1 ? '/' : target.charCodeAt(pe) === 0x3f ? `/${target.slice(pe)}` : target.slice(pe);
    }
    return true;
  }

  #statusLine(b: Buffer, s: number, e: number): boolean {
    const m = this.#msg;
    if (e - s < 12 || !this.#version(b, s) || b[s + 8] !== SP) return this.#fail(BAD, 'invalid status line');
    if (b[s + 5] !== 0x31 || (b[s + 7] !== 0x31 && b[s + 7] !== 0x30)) return this.#fail(BAD, 'unsupported HTTP version');
    m.versionMinor = b[s + 7]! - 0x30;
    let status = 0;
    for (let i = s + 9; i < s + 12; i++) {
      const c = b[i]!;
      if (c < 0x30 || c > 0x39) return this.#fail(BAD, 'invalid status code');
      status = status * 10 + (c - 0x30);
    }
    if (status < 100) return this.#fail(BAD, 'invalid status code');
    m.status = status;
    if (e > s + 12) {
      if (b[s + 12] !== SP) return this.#fail(BAD, 'invalid status line');
      for (let i = s + 13; i < e; i++) if (FIELD_VALUE[b[i]!] === 0) return this.#fail(BAD, 'invalid reason phrase');
      m.reason = latin1(b, s + 13, e);
    } else {
      m.reason = '';
    }
    return true;
  }

  #version(b: Buffer, i: number): boolean {
    return (
      b[i] === 0x48 && b[i + 1] === 0x54 && b[i + 2] === 0x54 && b[i + 3] === 0x50 && b[i + 4] === 0x2f &&
      b[i + 5]! >= 0x30 && b[i + 5]! <= 0x39 && b[i + 6] === 0x2e && b[i + 7]! >= 0x30 && b[i + 7]! <= 0x39
    );
  }

  /** Parses `name: value` into (name, value) or fails; returns the lower-cased name or null. */
  #field(b: Buffer, s: number, e: number): string | null {
    const c0 = b[s];
    if (c0 === SP || c0 === HTAB) {
      this.#fail(BAD, 'obsolete line folding');
      return null;
    }
    let i = s;
    let upper = false;
    while (i < e) {
      const c = b[i]!;
      if (TOKEN[c] === 0) break;
      if (c >= 0x41 && c <= 0x5a) upper = true;
      i++;
    }
    if (i === s || i === e || b[i] !== COLON) {
      const c = b[i];
      this.#fail(BAD, c === SP || c === HTAB ? 'whitespace before colon' : 'invalid header name');
      return null;
    }
    let vs = i + 1;
    while (vs < e && (b[vs] === SP || b[vs] === HTAB)) vs++;
    let ve = e;
    while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HTAB)) ve--;
    for (let j = vs; j < ve; j++) {
      if (FIELD_VALUE[b[j]!] === 0) {
        this.#fail(BAD, 'invalid character in header value');
        return null;
      }
    }
    this.#fieldValue = vs === ve ? '' : latin1(b, vs, ve);
    const known = knownHeaderName(b, s, i);
    if (known !== null) return known;
    const name = latin1(b, s, i);
    return upper ? name.toLowerCase() : name;
  }

  #headerLine(b: Buffer, s: number, e: number): boolean {
    if (s === e) return this.#endHead();
    if (this.#headBytes > this.limits.maxHeaderBytes) return this.#fail('TESSERA_ERR_HTTP_HEADERS_TOO_LARGE', 'headers too large');
    const name = this.#field(b, s, e);
    if (name === null) return false;
    const h = this.#msg.headers;
    if (h.names.length >= this.limits.maxHeadersCount) return this.#fail('TESSERA_ERR_HTTP_HEADERS_TOO_LARGE', 'too many headers');
    const value = this.#fieldValue;
    h.names.push(name);
    h.values.push(value);
    switch (name) {
      case 'content-length':
        this.#clCount++;
        this.#clValue = value;
        break;
      case 'transfer-encoding':
        this.#teCount++;
        this.#teValue = value;
        break;
      case 'host':
        this.#hostCount++;
        if (this.#hostCount === 1) this.#msg.host = value;
        break;
      case 'connection':
        this.#connection = this.#connection === '' ? value : `${this.#connection},${value}`;
        break;
      case 'upgrade':
        this.#hasUpgradeHeader = true;
        break;
      case 'expect':
        this.#expect = value;
        break;
    }
    return true;
  }

  #trailerLine(b: Buffer, s: number, e: number): boolean {
    if (s === e) {
      const t = this.#trailers;
      this.#complete(t !== null && t.size > 0 ? t : null);
      return true;
    }
    if (this.#headBytes > this.limits.maxHeaderBytes) return this.#fail('TESSERA_ERR_HTTP_HEADERS_TOO_LARGE', 'trailers too large');
    const name = this.#field(b, s, e);
    if (name === null) return false;
    if (this.#trailers === null) this.#trailers = new HeaderMap();
    if (this.#trailers.size >= this.limits.maxHeadersCount) return this.#fail('TESSERA_ERR_HTTP_HEADERS_TOO_LARGE', 'too many trailers');
    // RFC 9110 §6.5.1: framing, routing and connection fields are not allowed in trailers; drop them.
    if (name !== 'content-length' && name !== 'transfer-encoding' && name !== 'host' && name !== 'connection') {
      this.#trailers.add(name, this.#fieldValue);
    }
    return true;
  }

  #chunkSizeLine(b: Buffer, s: number, e: number): boolean {
    let i = s;
    let size = 0;
    while (i < e) {
      const h = HEX[b[i]!]!;
      if (h === 0) break;
      size = size * 16 + (h - 1);
      if (size > Number.MAX_SAFE_INTEGER) return this.#fail(BAD, 'chunk size overflow');
      i++;
    }
    if (i === s) return this.#fail(BAD, 'invalid chunk size');
    if (i < e && !validChunkExt(b, i, e)) return this.#fail(BAD, 'invalid chunk extension');
    if (size === 0) {
      this.#state = S_TRAILERS;
      this.#trailers = null;
      return true;
    }
    this.#remaining = size;
    this.#state = S_CHUNK_DATA;
    return true;
  }

  /** Semantic checks on the complete head (framing, Host, Connection), then the body state. */
  #endHead(): boolean {
    const m = this.#msg;
    const req = this.kind === ParserKind.Request;
    m.contentLength = -1;
    m.chunked = false;
    m.closeDelimited = false;
    if (this.#teCount > 0) {
      if (this.#clCount > 0) return this.#fail(BAD, 'both Content-Length and Transfer-Encoding');
      if (this.#teCount > 1) return this.#fail(BAD, 'multiple Transfer-Encoding headers');
      const te = analyzeTransferEncoding(this.#teValue);
      if (te === TE_BAD) return this.#fail(BAD, 'invalid Transfer-Encoding');
      if (te === TE_UNSUPPORTED) return this.#fail('TESSERA_ERR_HTTP_NOT_IMPLEMENTED', 'unsupported transfer coding');
      if (m.versionMinor === 0) return this.#fail(BAD, 'Transfer-Encoding in HTTP/1.0');
      m.chunked = true;
    } else if (this.#clCount > 0) {
      if (this.#clCount > 1) return this.#fail(BAD, 'multiple Content-Length headers');
      const cl = parseContentLength(this.#clValue);
      if (cl < 0) return this.#fail(BAD, 'invalid Content-Length');
      m.contentLength = cl;
    }
    const conn = this.#connection;
    const close = conn !== '' && hasToken(conn, 'close');
    m.keepAlive = m.versionMinor === 1 ? !close : !close && conn !== '' && hasToken(conn, 'keep-alive');
    if (req) {
      if (this.#hostCount > 1) return this.#fail(BAD, 'multiple Host headers');
      if (this.#hostCount === 0) {
        if (m.versionMinor === 1) return this.#fail(BAD, 'missing Host header');
        m.host = m.absoluteAuthority ?? '';
      } else {
        if (!validHost(m.host)) return this.#fail(BAD, 'invalid Host header');
        m.host = m.absoluteAuthority ?? m.host.toLowerCase();
      }
      m.upgrade = this.#hasUpgradeHeader && conn !== '' && hasToken(conn, 'upgrade');
      m.expectContinue = m.versionMinor === 1 && this.#expect !== '' && this.#expect.toLowerCase() === '100-continue';
      m.bodyless = !m.chunked && m.contentLength <= 0;
    } else {
      const st = m.status;
      m.upgrade = st === 101;
      m.bodyless = this.expectBodyless || st < 200 || st === 204 || st === 304;
      if (!m.bodyless && !m.chunked && m.contentLength === -1) {
        m.closeDelimited = true;
        m.keepAlive = false;
      }
      if (!m.bodyless && m.contentLength === 0) m.bodyless = true;
    }
    const st = m.status;
    this.#resetHead();
    this.#handler.onHeaders(m);
    if (this.#state === S_DEAD) return false;
    if (!req && st < 200) {
      // 101: the connection is no longer HTTP; other 1xx: interim, the final response follows.
      this.#state = st === 101 ? S_UPGRADED : S_START;
      return true;
    }
    if (m.bodyless) this.#complete(null);
    else if (m.chunked) this.#state = S_CHUNK_SIZE;
    else if (m.closeDelimited) this.#state = S_BODY_EOF;
    else {
      this.#remaining = m.contentLength;
      this.#state = S_BODY_CL;
    }
    return true;
  }

  #resetHead(): void {
    this.#headBytes = 0;
    this.#emptyLines = 0;
    this.#clCount = 0;
    this.#clValue = '';
    this.#teCount = 0;
    this.#teValue = '';
    this.#hostCount = 0;
    this.#connection = '';
    this.#hasUpgradeHeader = false;
    this.#expect = '';
  }

  #complete(trailers: HeaderMap | null): void {
    this.#state = S_START;
    this.#trailers = null;
    this.#handler.onMessageComplete(trailers);
  }

  #fail(code: ErrorCode, reason: string): false {
    if (this.#state === S_DEAD) return false;
    this.kill();
    this.#handler.onParseError(code, reason);
    return false;
  }
}

/** Common field names (lower-case), by length: matched in place so they cost no string decode. */
const KNOWN_NAMES: (readonly { name: string; code: Uint8Array }[] | undefined)[] = [];
for (const name of [
  'host', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'accept-ranges', 'authorization',
  'cache-control', 'connection', 'content-encoding', 'content-length', 'content-type', 'cookie', 'date', 'etag',
  'expect', 'keep-alive', 'last-modified', 'location', 'origin', 'referer', 'server', 'set-cookie', 'te',
  'transfer-encoding', 'upgrade', 'vary', 'via', 'x-forwarded-for', 'x-forwarded-proto', 'x-request-id',
  'traceparent', 'x-b3-traceid', 'x-envoy-expected-rq-timeout-ms', 'x-envoy-upstream-service-time',
]) {
  (KNOWN_NAMES[name.length] ??= [] as { name: string; code: Uint8Array }[]);
  (KNOWN_NAMES[name.length] as { name: string; code: Uint8Array }[]).push({ name, code: Buffer.from(name, 'latin1') });
}

/**
 * The interned lower-case name when `b[s, e)` (already checked to be a token) is a known field name in
 * any case, else null. `c | 0x20` lower-cases A-Z and leaves `-` and digits; no other token character
 * maps onto a lower-case letter or `-`.
 */
function knownHeaderName(b: Buffer, s: number, e: number): string | null {
  const list = KNOWN_NAMES[e - s];
  if (list === undefined) return null;
  outer: for (let k = 0; k < list.length; k++) {
    const code = list[k]!.code;
    for (let j = 0; j < code.length; j++) if ((b[s + j]! | 0x20) !== code[j]) continue outer;
    return list[k]!.name;
  }
  return null;
}

/** Buffer's own latin1 decoder, called without Buffer#toString's argument and encoding dispatch. */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Buffer, s: number, e: number) => string }).latin1Slice;

function latin1(b: Buffer, s: number, e: number): string {
  return latin1Slice.call(b, s, e);
}

const TE_CHUNKED = 0;
const TE_BAD = 1;
const TE_UNSUPPORTED = 2;

/** RFC 9112 §6.1/§6.3: `chunked` must be the final coding, once; anything but plain `chunked` is refused (501). */
export function analyzeTransferEncoding(v: string): number {
  if (v.length === 7 && v.toLowerCase() === 'chunked') return TE_CHUNKED;
  const parts = v.toLowerCase().split(',');
  let chunked = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = trimOws(parts[i]!);
    if (p.length === 0 || !isTokenString(p)) return TE_BAD;
    if (p === 'identity') return TE_BAD;
    if (p === 'chunked') chunked++;
  }
  if (chunked !== 1 || trimOws(parts[parts.length - 1]!) !== 'chunked') return TE_BAD;
  return TE_UNSUPPORTED;
}

/** 1*DIGIT only (no sign, no list, no spaces), at most 15 digits; -1 when invalid. */
export function parseContentLength(v: string): number {
  const n = v.length;
  if (n === 0 || n > MAX_CL_DIGITS) return -1;
  let x = 0;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    x = x * 10 + (c - 0x30);
  }
  return x;
}

/** Case-insensitive membership of `token` in a comma-separated list. */
export function hasToken(list: string, token: string): boolean {
  const l = list.toLowerCase();
  let from = 0;
  for (;;) {
    const i = l.indexOf(token, from);
    if (i === -1) return false;
    const before = i === 0 ? 0x2c : l.charCodeAt(i - 1);
    const end = i + token.length;
    const after = end === l.length ? 0x2c : l.charCodeAt(end);
    if ((before === 0x2c || before === SP || before === HTAB) && (after === 0x2c || after === SP || after === HTAB)) return true;
    from = i + 1;
  }
}

function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === SP || s.charCodeAt(a) === HTAB)) a++;
  while (b > a && (s.charCodeAt(b - 1) === SP || s.charCodeAt(b - 1) === HTAB)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function isTokenString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** RFC 3986 host [":" port]: reg-name / IPv4 / IP-literal characters only. */
function validHost(h: string): boolean {
  if (h.length === 0) return false;
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e || c === 0x3a || c === 0x5b || c === 0x5d || c === 0x25 ||
      c === 0x21 || c === 0x24 || c === 0x26 || c === 0x27 || c === 0x28 || c === 0x29 || c === 0x2a || c === 0x2b ||
      c === 0x2c || c === 0x3b || c === 0x3d;
    if (!ok) return false;
  }
  return true;
}

/** chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ), validated strictly. */
function validChunkExt(b: Buffer, i: number, e: number): boolean {
  while (i < e) {
    while (i < e && (b[i] === SP || b[i] === HTAB)) i++;
    if (i >= e || b[i] !== 0x3b) return false;
    i++;
    while (i < e && (b[i] === SP || b[i] === HTAB)) i++;
    const ns = i;
    while (i < e && TOKEN[b[i]!] === 1) i++;
    if (i === ns) return false;
    let j = i;
    while (j < e && (b[j] === SP || b[j] === HTAB)) j++;
    if (j < e && b[j] === 0x3d) {
      i = j + 1;
      while (i < e && (b[i] === SP || b[i] === HTAB)) i++;
      if (i < e && b[i] === 0x22) {
        i++;
        for (;;) {
          if (i >= e) return false;
          const c = b[i]!;
          if (c === 0x22) break;
          if (c === 0x5c) i++;
          else if (FIELD_VALUE[c] === 0) return false;
          i++;
        }
        if (i >= e) return false;
        i++;
      } else {
        const vs = i;
        while (i < e && TOKEN[b[i]!] === 1) i++;
        if (i === vs) return false;
      }
    }
  }
  return true;
}
