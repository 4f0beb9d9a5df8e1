// Access-log line: the hand-built formatter against the pino call it replaced (both into a null sink).
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { formatAccessLog, type AccessLogEntry } from '../../../../../sidecar/http/access-log.js';
import { bench } from '../../bench.js';

const entry: AccessLogEntry = {
  method: 'GET', path: '/small', authority: '127.0.0.1:8080', protocol: 'HTTP/1.1', status: 200,
  startMs: 1000.25, endMs: 1000.9731, upstreamServiceTimeMs: 0.4123, upstreamHost: '127.0.0.1:9000',
  upstreamCluster: 'origin', attemptCount: 1, bytesReceived: 0, bytesSent: 100, requestId: '6f1c1f4e-3b0a-4c8e-9d43-0d1b2a3c4d5e',
  responseFlags: '', errCode: '', downstreamRemoteAddress: '127.0.0.1', userAgent: 'wrk/4.1.0',
};

export function run(): void {
  let bytes = 0;
  bench('access log: hand-built JSON line', 500_000, (i) => {
    const l = formatAccessLog(entry, 1_790_000_000_000 + i);
    bytes += l.length;
    return l;
  });
  const nul = new Writable({ write: (_c, _e, cb) => cb() });
  const logger = pino({ level: 'info', base: null, timestamp: pino.stdTimeFunctions.isoTime }, { write: (s: string) => (bytes += s.length) } as unknown as typeof nul);
  bench('access log: pino logger.info(fields) (before)', 200_000, () =>
    logger.info({
      method: entry.method, path: entry.path, authority: entry.authority, protocol: entry.protocol, status: entry.status,
      duration_ms: Math.round((entry.endMs - entry.startMs) * 1000) / 1000,
      upstream_service_time_ms: Math.round(entry.upstreamServiceTimeMs * 1000) / 1000,
      upstream_host: entry.upstreamHost, upstream_cluster: entry.upstreamCluster, bytes_received: 0, bytes_sent: 100,
      request_id: entry.requestId, response_flags: '-', downstream_remote_address: entry.downstreamRemoteAddress,
      user_agent: entry.userAgent,
    }),
  );
  if (bytes < 0) throw new Error('unreachable');
}

if (import.meta.url === `file://${process.argv[1]}`) run();
