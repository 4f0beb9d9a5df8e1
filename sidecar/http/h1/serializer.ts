// HTTP/1.1 serialization: request/response heads as latin1 strings, chunked framing as Buffers.
import type { HeaderMap } from '../header-map.js';

const REASONS: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols', 102: 'Processing', 103: 'Early Hints',
  200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'Non-Authoritative Information', 204: 'No Content',
  205: 'Reset Content', 206: 'Partial Content', 207: 'Multi-Status',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  409: 'Conflict', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Payload Too Large',
  414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 417: 'Expectation Failed',
  421: 'Misdirected Request', 422: 'Unprocessable Content', 425: 'Too Early', 426: 'Upgrade Required',
  428: 'Precondition Required', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
};

const STATUS_LINES: string[] = [];
for (let s = 100; s < 600; s++) STATUS_LINES[s] = `HTTP/1.1 ${s} ${REASONS[s] ?? 'Unknown'}\r\n`;

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Unknown';
}

/** `HTTP/1.1 <status> <reason>\r\n` (our own reason phrase, as Envoy does). */
export function statusLine(status: number): string {
  return STATUS_LINES[status] ?? `HTTP/1.1 ${status} Unknown\r\n`;
}

/** `name: value\r\n` for every header (names are already lower-case). */
export function headerLines(headers: HeaderMap): string {
  const n = headers.names;
  const v = headers.values;
  let s = '';
  for (let i = 0; i < n.length; i++) s += `${n[i]}: ${v[i]}\r\n`;
  return s;
}

/** Status line + headers + `extra` (pre-formatted framing/connection lines) + blank line. */
export function serializeResponseHead(status: number, headers: HeaderMap, extra: string): string {
  return `${statusLine(status)}${headerLines(headers)}${extra}\r\n`;
}

export function serializeRequestHead(method: string, path: string, headers: HeaderMap, extra: string): string {
  return `${method} ${path} HTTP/1.1\r\n${headerLines(headers)}${extra}\r\n`;
}

export const CRLF = Buffer.from('\r\n', 'latin1');
export const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
export const CHUNKED_LINE = 'transfer-encoding: chunked\r\n';
export const CLOSE_LINE = 'connection: close\r\n';
export const KEEP_ALIVE_LINE = 'connection: keep-alive\r\n';
export const CONTINUE_100 = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

/** Chunks up to this size are framed into one copied Buffer; larger ones are written as three corked writes. */
export const SMALL_CHUNK = 16 * 1024;

/** One Buffer holding `<hex len>\r\n<data>\r\n` (callers use it for small chunks). */
export function frameChunk(data: Buffer): Buffer {
  const hex = data.length.toString(16);
  const out = Buffer.allocUnsafe(hex.length + 4 + data.length);
  out.write(hex, 0, 'latin1');
  let o = hex.length;
  out[o++] = 13;
  out[o++] = 10;
  data.copy(out, o);
  o += data.length;
  out[o++] = 13;
  out[o] = 10;
  return out;
}

export function chunkHeader(len: number): string {
  return `${len.toString(16)}\r\n`;
}

/** Last chunk with trailers: `0\r\n<trailers>\r\n`. */
export function lastChunkWithTrailers(trailers: HeaderMap): string {
  return `0\r\n${headerLines(trailers)}\r\n`;
}

/** One Buffer of a latin1 head followed by `body` (one socket write). */
export function joinHeadAndBody(head: string, body: Buffer | null): Buffer {
  if (body === null || body.length === 0) return Buffer.from(head, 'latin1');
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, 'latin1');
  body.copy(out, head.length);
  return out;
}
