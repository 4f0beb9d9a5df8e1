// What one health-check kind (HTTP, TCP, gRPC) offers the health checker: run one check against one host.
import type { SocketAddress } from '../../../src/xds/resources/types.js';

/** How one check ended (Envoy's HealthCheckFailureType, plus success). */
export const ProbeOutcome = {
  Success: 0,
  /** The host answered, but not as expected (status, grpc-status, NOT_SERVING, payload mismatch). */
  ActiveFailure: 1,
  /** Connect failure, reset, closed connection (and timeouts, reported by the checker). */
  NetworkFailure: 2,
} as const;
export type ProbeOutcome = (typeof ProbeOutcome)[keyof typeof ProbeOutcome];

/** Receives each check's result; implemented by the per host × check session. */
export interface ProbeCallbacks {
  /** Called once per start() unless abort() or close() came first; may be called synchronously from start(). */
  onProbeResult(outcome: ProbeOutcome, reason: string): void;
}

/** Runs checks of one kind against one host, one at a time. */
export interface HealthProbe {
  readonly kind: 'http' | 'tcp' | 'grpc';
  /** Starts one check. */
  start(): void;
  /** Abandons the check in flight (timeout): it is never reported and its connection is closed. */
  abort(): void;
  /** Releases every connection and handle; the probe is not used again. */
  close(): void;
}

/** Where a probe connects, and the names it uses when the config leaves them empty. */
export interface ProbeTarget {
  readonly address: SocketAddress;
  readonly clusterName: string;
}

/** An error's code when it has one (ECONNREFUSED), else its message. */
export function errorReason(e: unknown): string {
  if (e !== null && typeof e === 'object') {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
    const msg = (e as { message?: unknown }).message;
    if (typeof msg === 'string') return msg;
  }
  return String(e);
}

/** host:port for URLs, bracketing IPv6 literals. */
export function hostPort(a: SocketAddress): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
