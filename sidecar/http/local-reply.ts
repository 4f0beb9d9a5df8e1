// Local replies: the one place mapping error codes (src/core/errors.ts) to status, body and access-log flag.
import { ErrorCodes, type ErrorCode } from '../../src/core/errors.js';
import { joinHeadAndBody, serializeResponseHead } from './h1/serializer.js';
import { HeaderMap } from './header-map.js';

/** A response the proxy generates itself. */
export interface LocalReply {
  readonly code: ErrorCode;
  readonly status: number;
  readonly body: Buffer;
  /** Envoy response flag for the access log (UH, UF, UT, NR, NC, UC, UPE, DPE, ...). */
  readonly flag: string;
  /** grpc-status for gRPC requests; null = mapped from `status` (httpToGrpcStatus). */
  readonly grpcStatus: number | null;
}

function reply(code: ErrorCode, body: string, flag: string, status: number = ErrorCodes[code].status, grpcStatus: number | null = null): LocalReply {
  return Object.freeze({ code, status, body: Buffer.from(body, 'latin1'), flag, grpcStatus });
}

const RESET_BEFORE_HEADERS = 'upstream connect error or disconnect/reset before headers. reset reason: ';

/** Prebuilt replies (bodies as Envoy words them where Envoy has one). */
export const LocalReplies = Object.freeze({
  routeNotFound: reply('TESSERA_ERR_ROUTE_NOT_FOUND', 'route not found', 'NR'),
  clusterNotFound: reply('TESSERA_ERR_CLUSTER_NOT_FOUND', 'cluster not found', 'NC'),
  noHealthyUpstream: reply('TESSERA_ERR_NO_HEALTHY_UPSTREAM', 'no healthy upstream', 'UH'),
  connectFailure: reply('TESSERA_ERR_UPSTREAM_CONNECT', `${RESET_BEFORE_HEADERS}connection failure`, 'UF'),
  connectTimeout: reply('TESSERA_ERR_UPSTREAM_CONNECT', `${RESET_BEFORE_HEADERS}connection timeout`, 'UF'),
  /** Envoy answers a reset/close before response headers with 503 (flag UC), not 502. */
  upstreamReset: reply('TESSERA_ERR_UPSTREAM_RESET', `${RESET_BEFORE_HEADERS}connection termination`, 'UC'),
  /** A malformed upstream response is a 502 (flag UPE). */
  upstreamProtocolError: reply('TESSERA_ERR_UPSTREAM_PROTOCOL', 'upstream sent a malformed response', 'UPE'),
  /** Route or grpc-timeout deadline passed: gRPC callers see DEADLINE_EXCEEDED (Envoy's mapping would say UNAVAILABLE). */
  upstreamTimeout: reply('TESSERA_ERR_UPSTREAM_TIMEOUT', 'upstream request timeout', 'UT', 504, 4),
  /** A circuit breaker refused the request (Envoy adds x-envoy-overloaded: true; flag UO). */
  upstreamOverflow: reply('TESSERA_ERR_UPSTREAM_OVERFLOW', 'upstream connect error or disconnect/reset before headers. reset reason: overflow', 'UO'),
  /** HCM/route max_stream_duration passed before the response started (Envoy: 408, flag DT). */
  streamDurationTimeout: reply('TESSERA_ERR_HTTP_REQUEST_TIMEOUT', 'downstream duration timeout', 'DT', 408, 4),
  requestHeadersTimeout: reply('TESSERA_ERR_HTTP_REQUEST_TIMEOUT', 'request timeout', 'DPE'),
  /** stream_idle_timeout before the response started (Envoy's body and flag SI). */
  streamIdleTimeout: reply('TESSERA_ERR_HTTP_REQUEST_TIMEOUT', 'stream timeout', 'SI'),
  /** request_timeout: the whole request was not received in time (Envoy sets no response flag). */
  requestTimeout: reply('TESSERA_ERR_HTTP_REQUEST_TIMEOUT', 'request timeout', ''),
  /** accept_http_10 off: Envoy answers HTTP/1.0 with 426 Upgrade Required. */
  http10NotAccepted: reply('TESSERA_ERR_HTTP_UPGRADE_REQUIRED', 'Upgrade Required', 'DPE'),
});

/** A reply with a status and body chosen at config time (e.g. a fault abort); build once, reuse per request. */
export function configuredReply(code: ErrorCode, status: number, body: string, flag: string, grpcStatus: number | null = null): LocalReply {
  return reply(code, body, flag, status, grpcStatus);
}

/** A route table name RDS has not delivered (yet): 404 naming it. */
export function routeConfigMissing(name: string): LocalReply {
  return reply('TESSERA_ERR_ROUTE_NOT_FOUND', `route configuration "${name}" not loaded`, 'NR');
}

const parseReplies = new Map<string, LocalReply>();

/** The reply to a request the codec rejected (400/414/431/501/505); cached per (code, reason). */
export function parseErrorReply(code: ErrorCode, reason: string): LocalReply {
  const key = `${code}:${reason}`;
  let r = parseReplies.get(key);
  if (r === undefined) {
    r = reply(code, reason, 'DPE');
    if (parseReplies.size < 256) parseReplies.set(key, r);
  }
  return r;
}

/**
 * The bytes of a local reply: `headers` (or none) plus content-length, content-type and server, the
 * connection line `extra`, and the body unless the request was HEAD.
 */
export function serializeLocalReply(reply: LocalReply, serverName: string, headers: HeaderMap | null, extra: string, head: boolean): Buffer {
  const h = headers ?? new HeaderMap();
  h.add('content-length', String(reply.body.length));
  h.add('content-type', 'text/plain');
  h.add('server', serverName);
  return joinHeadAndBody(serializeResponseHead(reply.status, h, extra), head ? null : reply.body);
}
