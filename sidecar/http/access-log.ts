// Access log: one pino JSON line per request on ctx.accessLogger (asynchronous destination, no sync I/O).
import type { Logger } from '../../src/observability/logger.js';

/** What a finished stream reports; implemented by the connection manager's stream. */
export interface AccessLogEntry {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly protocol: string;
  /** Final status sent downstream; 0 when none was sent (reset). */
  readonly status: number;
  /** performance.now() at the first byte of the request and at the end of the stream. */
  readonly startMs: number;
  readonly endMs: number;
  /** Time from the upstream request being sent to its response headers; -1 when none. */
  readonly upstreamServiceTimeMs: number;
  /** 'address:port' of the endpoint used; '' when none. */
  readonly upstreamHost: string;
  readonly upstreamCluster: string;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly requestId: string;
  /** Envoy response flags, comma-separated ('' when none; logged as '-'). */
  readonly responseFlags: string;
  readonly downstreamRemoteAddress: string;
  readonly userAgent: string;
}

/** Writes one access-log line for `e` (skipped when the logger is not at info). */
export function writeAccessLog(logger: Logger, e: AccessLogEntry): void {
  if (!logger.isLevelEnabled('info')) return;
  logger.info({
    method: e.method,
    path: e.path,
    authority: e.authority,
    protocol: e.protocol,
    status: e.status,
    duration_ms: Math.round((e.endMs - e.startMs) * 1000) / 1000,
    upstream_service_time_ms: e.upstreamServiceTimeMs < 0 ? null : Math.round(e.upstreamServiceTimeMs * 1000) / 1000,
    upstream_host: e.upstreamHost === '' ? null : e.upstreamHost,
    upstream_cluster: e.upstreamCluster === '' ? null : e.upstreamCluster,
    bytes_received: e.bytesReceived,
    bytes_sent: e.bytesSent,
    request_id: e.requestId === '' ? null : e.requestId,
    response_flags: e.responseFlags === '' ? '-' : e.responseFlags,
    downstream_remote_address: e.downstreamRemoteAddress,
    user_agent: e.userAgent === '' ? null : e.userAgent,
  });
}
