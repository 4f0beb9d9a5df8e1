// Access log: one JSON line per finished stream, built by hand and written to the access logger's sink.
//
// Why hand-built: profiling the sidecar under wrk (get-100b, `perf record` + --perf-basic-prof, Node 20)
// put pino's access-log call at ~13% of all sidecar CPU (≈1/3 of the JS time per request): pino's
// generic object serializer (_asJson), an ISO timestamp formatted per line, and sonic-boom measuring
// each line's UTF-8 length. Here the fields are known: one template string per line, strings
// escaped only when they hold a character JSON must escape (fast scan, else JSON.stringify), the
// "time" prefix cached per second, and lines batched by AccessLogWriter (src/observability/logger.ts)
// into one asynchronous write per 32 KiB or per second. Same fields and values as the pino line it
// replaces ({"level":30,"time":"<ISO>", ...}); measured cost ≈0.5 µs per line (test/bench/micro).
import type { AccessLogSink } from '../../src/observability/logger.js';

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
  /** Upstream attempts (1 + retries; 0 when none was made): Envoy's %UPSTREAM_REQUEST_ATTEMPT_COUNT%. */
  readonly attemptCount: number;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly requestId: string;
  /** Envoy response flags, comma-separated ('' when none; logged as '-'). */
  readonly responseFlags: string;
  /** The TESSERA_ERR_* code of the local reply sent, '' when the response came from the upstream. */
  readonly errCode: string;
  readonly downstreamRemoteAddress: string;
  readonly userAgent: string;
}

/** `"s"` as JSON: quoted as is unless it holds `"`, `\`, a control character or a surrogate. */
export function jsonString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return `"${s}"`;
}

function jsonStringOrNull(s: string): string {
  return s === '' ? 'null' : jsonString(s);
}

/**
 * `Math.round(x * 1000) / 1000` as JSON would print it, from integers (a double's shortest-repr
 * formatting was the costliest part of the line); NaN/Infinity never occur here.
 */
export function ms3(x: number): string {
  const us = Math.round(x * 1000);
  if (us < 0 || us > 0x3fffffff) return String(us / 1000);
  const int = (us / 1000) | 0;
  let frac = us - int * 1000;
  if (frac === 0) return `${int}`;
  if (frac % 100 === 0) return `${int}.${frac / 100}`;
  if (frac % 10 === 0) {
    frac /= 10;
    return `${int}.${frac < 10 ? '0' : ''}${frac}`;
  }
  return `${int}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

let secondStart = -1;
let secondPrefix = '';

/** `{"level":30,"time":"YYYY-MM-DDTHH:MM:SS.` for the current second (formatted once per second). */
function timePrefix(now: number): string {
  const sec = now - (now % 1000);
  if (sec !== secondStart) {
    secondStart = sec;
    secondPrefix = `{"level":30,"time":"${new Date(sec).toISOString().slice(0, 20)}`;
  }
  return secondPrefix;
}

/** The JSON line (with '\n') for `e` at wall-clock time `now` (ms since the epoch). */
export function formatAccessLog(e: AccessLogEntry, now: number): string {
  const msec = now % 1000;
  const ust = e.upstreamServiceTimeMs;
  return `${timePrefix(now)}${msec < 10 ? '00' : msec < 100 ? '0' : ''}${msec}Z","method":${jsonString(e.method)},"path":${jsonString(e.path)},"authority":${jsonString(e.authority)},"protocol":"${e.protocol}","status":${e.status},"duration_ms":${ms3(e.endMs - e.startMs)},"upstream_service_time_ms":${ust < 0 ? 'null' : ms3(ust)},"upstream_host":${jsonStringOrNull(e.upstreamHost)},"upstream_cluster":${jsonStringOrNull(e.upstreamCluster)},"upstream_attempts":${e.attemptCount},"bytes_received":${e.bytesReceived},"bytes_sent":${e.bytesSent},"request_id":${jsonStringOrNull(e.requestId)},"response_flags":${e.responseFlags === '' ? '"-"' : jsonString(e.responseFlags)},"err_code":${e.errCode === '' ? 'null' : `"${e.errCode}"`},"downstream_remote_address":${jsonString(e.downstreamRemoteAddress)},"user_agent":${jsonStringOrNull(e.userAgent)}}\n`;
}

/** Writes one access-log line for `e` to `sink` (null: access log off). */
export function writeAccessLog(sink: AccessLogSink | null, e: AccessLogEntry): void {
  if (sink === null) return;
  sink.write(formatAccessLog(e, Date.now()));
}
