// gRPC over HTTP/2 facts the data path needs: request detection, HTTP→gRPC status mapping, grpc-timeout.
import type { HeaderMap } from './header-map.js';

/** gRPC status codes used by the proxy itself. */
export const GrpcStatus = {
  Ok: 0,
  Cancelled: 1,
  Unknown: 2,
  DeadlineExceeded: 4,
  ResourceExhausted: 8,
  Internal: 13,
  Unavailable: 14,
  Unimplemented: 12,
  PermissionDenied: 7,
  Unauthenticated: 16,
} as const;

/** content-type application/grpc, application/grpc+proto, application/grpc-web… (RFC: starts with application/grpc). */
export function isGrpcContentType(ct: string | undefined): boolean {
  return ct !== undefined && ct.length >= 16 && ct.charCodeAt(0) === 97 /* a */ && ct.startsWith('application/grpc');
}

/** The gRPC spec's HTTP→gRPC mapping (doc/http-grpc-status-mapping.md), as Envoy applies it to local replies. */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return GrpcStatus.Internal;
    case 401:
      return GrpcStatus.Unauthenticated;
    case 403:
      return GrpcStatus.PermissionDenied;
    case 404:
      return GrpcStatus.Unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.Unavailable;
    default:
      return GrpcStatus.Unknown;
  }
}

/** Envoy's gRPC→HTTP mapping, used to feed outlier detection from grpc-status. */
export function grpcToHttpStatus(code: number): number {
  switch (code) {
    case 0:
      return 200;
    case 1:
      return 499;
    case 3:
    case 9:
    case 11:
      return 400;
    case 4:
      return 504;
    case 5:
      return 404;
    case 6:
    case 10:
      return 409;
    case 7:
      return 403;
    case 8:
      return 429;
    case 12:
      return 501;
    case 14:
      return 503;
    case 16:
      return 401;
    default:
      return 500;
  }
}

const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** Parses a grpc-timeout value (1–8 digits + H/M/S/m/u/n) into ms; -1 when absent or malformed. */
export function parseGrpcTimeout(v: string | undefined): number {
  if (v === undefined || v.length < 2 || v.length > 9) return -1;
  const unit = UNIT_MS[v[v.length - 1]!];
  if (unit === undefined) return -1;
  let n = 0;
  for (let i = 0; i < v.length - 1; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return Math.ceil(n * unit);
}

/** Formats ms as a grpc-timeout value (milliseconds, 8 digits at most, falling back to seconds). */
export function formatGrpcTimeout(ms: number): string {
  const v = Math.max(0, Math.ceil(ms));
  return v < 100_000_000 ? `${v}m` : `${Math.min(99_999_999, Math.ceil(v / 1000))}S`;
}

/** grpc-status of a trailers-only response (in the headers), or -1. */
export function grpcStatusOf(h: HeaderMap): number {
  const s = h.get('grpc-status');
  if (s === undefined) return -1;
  const n = Number(s);
  return Number.isInteger(n) && n >= 0 ? n : -1;
}
