// HTTP filter contract (STYLE §2) and the stream callbacks the terminal router drives the response through.
import type { Socket } from 'node:net';
import type { RouteConfigData } from '../../src/xds/resources/types.js';
import type { RouteMatch } from '../contracts.js';
import type { HeaderMap } from './header-map.js';
import type { LocalReply } from './local-reply.js';

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
  /** Request body framing from downstream: chunked, or Content-Length (-1 none). */
  readonly requestChunked: boolean;
  readonly requestContentLength: number;
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
