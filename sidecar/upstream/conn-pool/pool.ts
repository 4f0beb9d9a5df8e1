// The codec-independent seam between the router and upstream connection pools (HTTP/1.1 and HTTP/2).
import type { Socket } from 'node:net';
import type { UpstreamCluster, UpstreamEndpoint } from '../../contracts.js';
import type { HeaderMap } from '../../http/header-map.js';

/** Why a pool could not give a stream a connection. */
export const PoolFailure = {
  ConnectFailure: 0,
  ConnectTimeout: 1,
  /** A circuit breaker refused it (max_connections with no queue room, or max_pending_requests). */
  Overflow: 2,
} as const;
export type PoolFailure = (typeof PoolFailure)[keyof typeof PoolFailure];

/** Why an upstream stream ended without a complete response. */
export const UpstreamReset = {
  /** The connection closed or was reset (TCP) before the response completed. */
  ConnectionTermination: 0,
  /** The upstream spoke malformed HTTP. */
  ProtocolError: 1,
  /** HTTP/2 RST_STREAM REFUSED_STREAM (or GOAWAY beyond the stream): the request was not processed, safe to retry. */
  RefusedStream: 2,
  /** HTTP/2 RST_STREAM with another code from the upstream. */
  RemoteReset: 3,
} as const;
export type UpstreamReset = (typeof UpstreamReset)[keyof typeof UpstreamReset];

/** The router's side of one upstream exchange; a pool calls these. */
export interface UpstreamCallbacks {
  /** A connection (or HTTP/2 stream slot) is ready: write the request now. */
  onPoolReady(req: UpstreamRequest): void;
  onPoolFailure(reason: PoolFailure): void;
  /** Response head, 1xx included (a 101 is followed by onUpstreamUpgraded on HTTP/1.1). `endStream`: no body follows. */
  onUpstreamHeaders(status: number, headers: HeaderMap, endStream: boolean): void;
  onUpstreamData(chunk: Buffer): void;
  /** The response completed (with trailers, or null). */
  onUpstreamComplete(trailers: HeaderMap | null): void;
  onUpstreamReset(reason: UpstreamReset): void;
  /** The upstream accepted more request body after a write returned false. */
  onUpstreamDrain(): void;
  /** HTTP/1.1 only: after a 101 the socket is no longer HTTP and now belongs to the callee. */
  onUpstreamUpgraded(socket: Socket, pending: Buffer | null): void;
}

/** One request on an upstream connection, as the router drives it. */
export interface UpstreamRequest {
  /** True when the request can be written now (otherwise onPoolReady follows, or onPoolFailure). */
  readonly connected: boolean;
  /**
   * Writes the request head. `headers` carries `host` (the HTTP/2 codec turns it into :authority) and no
   * hop-by-hop fields; HTTP/1.1 frames the body with content-length when present, else chunked.
   * `upgrade` marks an HTTP/1.1 upgrade request (`connection: upgrade`). Returns false on backpressure.
   */
  writeHead(method: string, path: string, scheme: string, headers: HeaderMap, endStream: boolean, upgrade: boolean): boolean;
  /** Writes a body chunk; false on backpressure (onUpstreamDrain follows). */
  writeBody(chunk: Buffer): boolean;
  /** Ends the request body, with trailers or not. */
  endRequest(trailers: HeaderMap | null): void;
  /** Stops/restarts reading the response (downstream backpressure). */
  readDisable(disable: boolean): void;
  /** The stream gives up (timeout, downstream reset, retry): HTTP/1.1 closes the connection, HTTP/2 resets the stream. */
  abort(): void;
}

/** Connection pools of one protocol for every endpoint of every cluster; owned by the sidecar. */
export interface ConnPool {
  /**
   * A request bound to `client`: ready now (`connected`) or after onPoolReady / onPoolFailure. Honours the
   * cluster's circuit breakers for `priority`: a new connection only while `connections` allows it
   * (else upstream_cx_overflow, and the request waits for a busy connection); a waiting request takes a
   * `pendingRequests` slot (upstream_rq_pending_total/_active). Returns null, having counted
   * upstream_rq_pending_overflow, when the request would have to wait and the pending limit is reached.
   */
  newStream(cluster: UpstreamCluster, endpoint: UpstreamEndpoint, priority: 'DEFAULT' | 'HIGH', client: UpstreamCallbacks): UpstreamRequest | null;
  /** Closes every connection (shutdown). */
  closeAll(): void;
}
