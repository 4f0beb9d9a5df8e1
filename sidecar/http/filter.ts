// HTTP filter contract (STYLE §2) and the stream callbacks the terminal router drives the response through.
import type { Socket } from 'node:net';
import type { RouteConfigData } from '../../src/xds/resources/types.js';
import type { RouteMatch } from '../contracts.js';
import type { HeaderMap } from './header-map.js';
import type { LocalReply } from './local-reply.js';
import type { DownstreamConnectionInfo } from './connection-info.js';

export const FilterStatus = { Continue: 0, StopIteration: 1 } as const;
export type FilterStatus = (typeof FilterStatus)[keyof typeof FilterStatus];

/** A per-stream HTTP filter: synchronous state machine; async work returns StopIteration and resumes later. */
export interface HttpFilter {
  onRequestHeaders(headers: HeaderMap, endStream: boolean): FilterStatus;
  onRequestData(chunk: Buffer, endStream: boolean): FilterStatus;
  onRequestTrailers(trailers: HeaderMap): FilterStatus;
  onResponseHeaders(headers: HeaderMap, endStream: boolean): FilterStatus;
  /** The downstream socket drained after encodeData returned false. */
  onDownstreamDrain(): void;
  /** The stream is over (complete or reset); release upstream resources. */
  onDestroy(): void;
}

/** A filter that decides on the request headers alone (RBAC, API keys): every other callback passes through. */
export abstract class RequestHeadersFilter implements HttpFilter {
  abstract onRequestHeaders(headers: HeaderMap, endStream: boolean): FilterStatus;

  onRequestData(_chunk: Buffer, _endStream: boolean): FilterStatus {
    return FilterStatus.Continue;
  }

  onRequestTrailers(_trailers: HeaderMap): FilterStatus {
    return FilterStatus.Continue;
  }

  onResponseHeaders(_headers: HeaderMap, _endStream: boolean): FilterStatus {
    return FilterStatus.Continue;
  }

  onDownstreamDrain(): void {}

  onDestroy(): void {}
}

/**
 * What a non-terminal (decoder) filter may do with its stream. Filters run in http_filters order before the
 * router; one returning StopIteration from a request callback holds the rest of the request (headers, body
 * and trailers are buffered by the stream) until it calls continueDecoding() or sendLocalReply().
 */
export interface DecoderFilterCallbacks {
  readonly route: RouteMatch | null;
  readonly method: string;
  readonly path: string;
  /** Rewrites the request target before routing goes upstream (a filter removing a query credential). */
  setPath(path: string): void;
  readonly authority: string;
  /** The request is gRPC (content-type application/grpc*): local replies become trailers-only gRPC responses. */
  readonly isGrpc: boolean;
  /** The downstream connection: addresses, TLS and the verified peer identity. */
  readonly connection: DownstreamConnectionInfo;
  /** The client address after x-forwarded-for trust rules (RBAC remote_ip); connection.directRemoteAddress is the socket's. */
  readonly downstreamRemoteAddress: string;
  /** Dynamic metadata one filter leaves for later ones (Envoy's: jwt_authn → rbac), by filter namespace. */
  dynamicMetadata(namespace: string): Readonly<Record<string, unknown>> | undefined;
  setDynamicMetadata(namespace: string, key: string, value: unknown): void;
  /** Resumes the filter chain after StopIteration. */
  continueDecoding(): void;
  /** Ends the stream with a generated response; for gRPC requests the status maps to grpc-status. */
  sendLocalReply(reply: LocalReply, headers: HeaderMap | null): void;
  addResponseFlag(flag: string): void;
}

/** A registered HTTP filter extension: validated config in, one filter per stream out (STYLE §2). */
export interface HttpFilterFactory<C = unknown> {
  /** Envoy's extension name, e.g. envoy.filters.http.fault. */
  readonly name: string;
  /** The typed_config type URL it accepts. */
  readonly typeUrl: string;
  /** Per-filter-chain shared state built once from the validated config (stats, counters). */
  createShared(config: C, stats: import('../../src/observability/stats.js').StatsStore, statPrefix: string): unknown;
  createFilter(shared: unknown, cb: DecoderFilterCallbacks): HttpFilter;
}

/** What the connection manager's stream offers to its filters (bound once per stream). */
export interface StreamCallbacks {
  readonly route: RouteMatch | null;
  /** The RouteConfiguration the route came from (its request/response header mutations apply last). */
  readonly routeConfig: RouteConfigData | null;
  readonly method: string;
  /** Request path as received (origin-form). */
  readonly path: string;
  /** Host / :authority lower-cased. */
  readonly authority: string;
  /** 'http' or 'https' of the downstream connection. */
  readonly scheme: string;
  /** 'HTTP/1.0', 'HTTP/1.1' or 'HTTP/2' of the downstream request. */
  readonly protocol: string;
  /** The client address (after XFF trust rules), for hash policies. */
  readonly downstreamRemoteAddress: string;
  /** The request is gRPC (content-type application/grpc*). */
  readonly isGrpc: boolean;
  /** performance.now() deadline from max_stream_duration / grpc-timeout; 0 = none (propagated as grpc-timeout). */
  readonly deadlineMs: number;
  /** Upstream attempts made (1 + retries), for the access log. */
  attemptCount: number;
  /** Upgrade type requested and allowed by config (e.g. 'websocket'), '' when none. */
  readonly upgradeType: string;
  /** Route/HCM stream idle and other per-stream facts for the router. */
  readonly expectContinue: boolean;

  /** Starts the response; `headers` must be free of hop-by-hop fields. `endStream` = no body follows. */
  encodeHeaders(status: number, headers: HeaderMap, endStream: boolean): void;
  /** Returns false when the downstream buffer is full (wait for onDownstreamDrain). */
  encodeData(chunk: Buffer, endStream: boolean): boolean;
  encodeTrailers(trailers: HeaderMap): void;
  /** Sends a generated response (before any response headers); `headers` adds fields (e.g. location). */
  sendLocalReply(reply: LocalReply, headers: HeaderMap | null): void;
  /** Sends `100 Continue` if the client asked for it (once). */
  continueRequest(): void;
  /** Stops/restarts reading the downstream socket (upstream backpressure). */
  readDisable(disable: boolean): void;
  /** After a 101 from upstream: forward the 101 head, then pipe raw bytes both ways. */
  upgradeTo(status: number, headers: HeaderMap, upstream: Socket, upstreamPending: Buffer | null): void;
  /** Aborts the stream after the response started (the downstream connection is closed). */
  resetStream(flag: string): void;
  /** Upstream facts for the access log. */
  setUpstream(host: string, cluster: string): void;
  setUpstreamServiceTime(ms: number): void;
  addResponseFlag(flag: string): void;
}
