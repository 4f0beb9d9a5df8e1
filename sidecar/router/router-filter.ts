// Terminal router filter: direct responses, redirects, and forwarding one stream upstream (HTTP/1.1 or HTTP/2)
// with Envoy's retry policy, timeouts (route, per-try), circuit breakers, outlier reporting and hash policies.
import type { Socket } from 'node:net';
import { sharedTimerWheel, WheelTimer, type TimerTarget, type TimerWheel } from '../../src/core/timer-wheel.js';
import type { Logger } from '../../src/observability/logger.js';
import type {
  DirectResponseActionConfig, ForwardActionConfig, HeaderMutationsConfig, HeaderValueOptionConfig, RedirectActionConfig,
  RetryPolicyConfig,
} from '../../src/xds/resources/types.js';
import {
  OutlierResult, type ClusterManager, type ClusterResources, type LbContext, type RouteMatch, type SidecarContext,
  type UpstreamCluster, type UpstreamConnPools, type UpstreamEndpoint,
} from '../contracts.js';
import { FilterStatus, type HttpFilter, type StreamCallbacks } from '../http/filter.js';
import { formatGrpcTimeout, grpcStatusOf, grpcToHttpStatus, isGrpcContentType } from '../http/grpc.js';
import { HeaderMap } from '../http/header-map.js';
import { LocalReplies, type LocalReply } from '../http/local-reply.js';
import { PoolFailure, UpstreamReset, type ConnPool, type UpstreamCallbacks, type UpstreamRequest } from '../upstream/conn-pool/pool.js';
import { computeRequestHash } from './hash-policy.js';

/** What every router instance of one connection manager shares. */
export interface RouterShared {
  readonly clusters: ClusterManager;
  readonly pools: UpstreamConnPools;
  readonly wheel: TimerWheel;
  readonly logger: Logger;
  /** Request body bytes held while the upstream connection is being set up before reads pause. */
  readonly bufferLimitBytes: number;
  /** Injected randomness (retry backoff jitter). */
  readonly random: () => number;
}

export function createRouterShared(ctx: SidecarContext, bufferLimitBytes: number, wheel: TimerWheel = sharedTimerWheel): RouterShared {
  return Object.freeze({ clusters: ctx.clusters, pools: ctx.connPools, wheel, logger: ctx.logger, bufferLimitBytes, random: Math.random });
}

const EMPTY = Buffer.alloc(0);
const T_GLOBAL = 0;
const T_PER_TRY = 1;
const T_PER_TRY_IDLE = 2;

/** What ended an attempt, for the retry decision. */
const Failure = { ConnectFailure: 0, Reset: 1, RefusedStream: 2, PerTryTimeout: 3 } as const;
type Failure = (typeof Failure)[keyof typeof Failure];

/** One stream's terminal filter: owns the upstream attempts (retries), endpoint accounting and timeouts. */
export class RouterFilter implements HttpFilter, UpstreamCallbacks, TimerTarget, LbContext {
  readonly #shared: RouterShared;
  readonly #cb: StreamCallbacks;
  readonly #timer: WheelTimer;
  #tryTimer: WheelTimer | null;
  #tryIdleTimer: WheelTimer | null;
  #route: RouteMatch | null;
  #action: ForwardActionConfig | null;
  #retry: RetryPolicyConfig | null;
  #cluster: UpstreamCluster | null;
  #resources: ClusterResources | null;
  #pool: ConnPool | null;
  // current attempt
  #endpoint: UpstreamEndpoint | null;
  #req: UpstreamRequest | null;
  #active: boolean;
  #attemptIsRetry: boolean;
  /** The current attempt's headers were written (body may follow directly). */
  #headSent: boolean;
  #upstream5xx: boolean;
  #upstreamStart: number;
  /** grpc response whose status comes in trailers: outlier detection hears it at completion. */
  #grpcStatusPending: boolean;
  // request
  #headers: HeaderMap | null;
  #path: string;
  #requestEnded: boolean;
  /** Body chunks not yet written to the current attempt, or (with a retry policy) every chunk so far. */
  #body: Buffer[];
  #bodyBytes: number;
  /** Chunks of #body already written to the current attempt. */
  #bodySent: number;
  /** Body kept for replay (retry policy set and the body stayed under the limit). */
  #keepBody: boolean;
  #bodyLimit: number;
  #trailers: HeaderMap | null;
  // response
  #responseStarted: boolean;
  #responseEnded: boolean;
  #upstreamPaused: boolean;
  #downstreamPaused: boolean;
  #upgradeHeaders: HeaderMap | null;
  #upgradeStatus: number;
  // retries
  #retriesLeft: number;
  #retryCount: number;
  #backoff: NodeJS.Timeout | null;
  #triedHosts: UpstreamEndpoint[] | null;
  #hash: bigint | null;
  #hashDone: boolean;
  #setCookie: string | null;

  constructor(shared: RouterShared, cb: StreamCallbacks) {
    this.#shared = shared;
    this.#cb = cb;
    this.#timer = new WheelTimer(this, T_GLOBAL);
    this.#tryTimer = null;
    this.#tryIdleTimer = null;
    this.#route = null;
    this.#action = null;
    this.#retry = null;
    this.#cluster = null;
    this.#resources = null;
    this.#pool = null;
    this.#endpoint = null;
    this.#req = null;
    this.#active = false;
    this.#attemptIsRetry = false;
    this.#headSent = false;
    this.#upstream5xx = false;
    this.#upstreamStart = 0;
    this.#grpcStatusPending = false;
    this.#headers = null;
    this.#path = '';
    this.#requestEnded = false;
    this.#body = [];
    this.#bodyBytes = 0;
    this.#bodySent = 0;
    this.#keepBody = false;
    this.#bodyLimit = 0;
    this.#trailers = null;
    this.#responseStarted = false;
    this.#responseEnded = false;
    this.#upstreamPaused = false;
    this.#downstreamPaused = false;
    this.#upgradeHeaders = null;
    this.#upgradeStatus = 0;
    this.#retriesLeft = 0;
    this.#retryCount = 0;
    this.#backoff = null;
    this.#triedHosts = null;
    this.#hash = null;
    this.#hashDone = false;
    this.#setCookie = null;
  }

  // HttpFilter

  onRequestHeaders(headers: HeaderMap, endStream: boolean): FilterStatus {
    const route = this.#cb.route;
    if (route === null) {
      this.#cb.sendLocalReply(LocalReplies.routeNotFound, null);
      return FilterStatus.StopIteration;
    }
    this.#route = route;
    const action = route.route.action;
    // virtual_hosts[].require_tls: plaintext requests get a 301 to https (a route's own https redirect wins: it may name the port).
    if (route.virtualHost.requireTls && this.#cb.scheme !== 'https' && !(action.kind === 'redirect' && action.httpsRedirect)) this.#redirect(REQUIRE_TLS_REDIRECT);
    else if (action.kind === 'direct_response') this.#directResponse(action);
    else if (action.kind === 'redirect') this.#redirect(action);
    else this.#forward(action, headers, endStream);
    return FilterStatus.StopIteration;
  }

  onRequestData(chunk: Buffer, endStream: boolean): FilterStatus {
    if (this.#action === null || this.#responseEnded) return FilterStatus.StopIteration;
    if (chunk.length > 0) {
      const req = this.#req;
      if (req !== null && this.#headSent) {
        if (!req.writeBody(chunk)) this.#pauseDownstream();
        if (this.#keepBody) {
          this.#body.push(chunk);
          this.#bodySent = this.#body.length;
          this.#addBodyBytes(chunk.length);
        }
      } else {
        this.#body.push(chunk);
        this.#addBodyBytes(chunk.length);
        if (this.#bodyBytes > this.#shared.bufferLimitBytes) this.#pauseDownstream();
      }
    }
    if (endStream) {
      this.#endRequest();
      const req = this.#req;
      if (req !== null && this.#headSent) req.endRequest(null);
    }
    return FilterStatus.StopIteration;
  }

  onRequestTrailers(trailers: HeaderMap): FilterStatus {
    if (this.#action === null || this.#responseEnded) return FilterStatus.StopIteration;
    this.#trailers = trailers;
    this.#endRequest();
    const req = this.#req;
    if (req !== null && this.#headSent) req.endRequest(trailers);
    return FilterStatus.StopIteration;
  }

  onResponseHeaders(_headers: HeaderMap, _endStream: boolean): FilterStatus {
    return FilterStatus.Continue;
  }

  onDownstreamDrain(): void {
    if (this.#upstreamPaused && this.#req !== null) {
      this.#upstreamPaused = false;
      this.#req.readDisable(false);
    }
  }

  onDestroy(): void {
    this.#cancelBackoff();
    this.#abortAttempt(!this.#responseEnded);
    this.#shared.wheel.cancel(this.#timer);
  }

  // LbContext

  computeHash(): bigint | null {
    if (!this.#hashDone) {
      this.#hashDone = true;
      const policies = this.#action!.hashPolicy;
      if (policies.length > 0) {
        const r = computeRequestHash(policies, { headers: this.#headers!, path: this.#cb.path, sourceIp: this.#cb.downstreamRemoteAddress });
        this.#hash = r.hash;
        this.#setCookie = r.setCookie;
      }
    }
    return this.#hash;
  }

  shouldSelectAnotherHost(ep: UpstreamEndpoint): boolean {
    const tried = this.#triedHosts;
    return tried !== null && tried.includes(ep);
  }

  get hostSelectionRetryMaxAttempts(): number {
    return this.#retry === null ? 1 : this.#retry.hostSelectionRetryMaxAttempts;
  }

  // UpstreamCallbacks

  onPoolReady(req: UpstreamRequest): void {
    this.#req = req;
    this.#upstreamStart = performance.now();
    this.#endpoint!.outlier?.putResult(OutlierResult.LocalOriginConnectSuccess);
    const cb = this.#cb;
    const body = this.#body;
    const bodyFollows = !this.#requestEnded || body.length > 0 || this.#trailers !== null;
    const headers = this.#attemptHeaders();
    let ok = req.writeHead(cb.method, this.#path, cb.scheme, headers, !bodyFollows, cb.upgradeType !== '');
    this.#headSent = true;
    for (let i = 0; i < body.length; i++) ok = req.writeBody(body[i]!);
    if (this.#keepBody) this.#bodySent = body.length;
    else {
      this.#body = [];
      this.#bodyBytes = 0;
      this.#bodySent = 0;
    }
    if (this.#requestEnded && bodyFollows) req.endRequest(this.#trailers);
    if (!ok) this.#pauseDownstream();
    else if (this.#downstreamPaused) {
      this.#downstreamPaused = false;
      cb.readDisable(false);
    }
    if (!this.#requestEnded) cb.continueRequest();
  }

  onPoolFailure(reason: PoolFailure): void {
    this.#req = null;
    if (reason === PoolFailure.Overflow) {
      this.#finishAttempt(true);
      this.#overflow();
      return;
    }
    this.#endpoint!.outlier?.putResult(reason === PoolFailure.ConnectTimeout ? OutlierResult.LocalOriginTimeout : OutlierResult.LocalOriginConnectFailed);
    this.#finishAttempt(true);
    if (this.#maybeRetryFailure(Failure.ConnectFailure)) return;
    this.#cluster!.stats.upstream_rq_5xx.inc();
    this.#responseEnded = true;
    this.#cb.sendLocalReply(reason === PoolFailure.ConnectTimeout ? LocalReplies.connectTimeout : LocalReplies.connectFailure, null);
  }

  onUpstreamHeaders(status: number, headers: HeaderMap, endStream: boolean): void {
    if (status < 200) {
      if (status === 101) {
        this.#upgradeStatus = status;
        this.#upgradeHeaders = headers;
      }
      return;
    }
    const grpc = this.#cb.isGrpc && isGrpcContentType(headers.get('content-type'));
    const grpcStatus = grpc ? grpcStatusOf(headers) : -1;
    const ep = this.#endpoint!;
    if (ep.outlier !== null) {
      if (grpcStatus >= 0) ep.outlier.putHttpStatus(grpcToHttpStatus(grpcStatus));
      else if (grpc && !endStream) this.#grpcStatusPending = true;
      else ep.outlier.putHttpStatus(status);
    }
    if (this.#retriesLeft >= 0 && this.#retry !== null && this.#retriableResponse(this.#retry, status, grpcStatus)) {
      if (this.#tryRetry()) return;
    } else if (this.#retryCount > 0) {
      this.#cluster!.stats.upstream_rq_retry_success.inc();
    }
    this.#cancelTryTimer();
    this.#touchTryIdle();
    const cb = this.#cb;
    cb.setUpstreamServiceTime(performance.now() - this.#upstreamStart);
    const stats = this.#cluster!.stats;
    if (status < 300) stats.upstream_rq_2xx.inc();
    else if (status < 400) stats.upstream_rq_3xx.inc();
    else if (status < 500) stats.upstream_rq_4xx.inc();
    else {
      stats.upstream_rq_5xx.inc();
      this.#upstream5xx = true;
    }
    this.#responseMutations(headers);
    if (this.#setCookie !== null) headers.add('set-cookie', this.#setCookie);
    this.#responseStarted = true;
    if (endStream) this.#responseEnded = true;
    cb.encodeHeaders(status, headers, endStream);
    if (endStream) this.#completeAttempt(null);
  }

  onUpstreamData(chunk: Buffer): void {
    if (this.#tryIdleTimer !== null) this.#touchTryIdle();
    if (!this.#cb.encodeData(chunk, false) && this.#req !== null && !this.#upstreamPaused) {
      this.#upstreamPaused = true;
      this.#req.readDisable(true);
    }
  }

  onUpstreamComplete(trailers: HeaderMap | null): void {
    this.#completeAttempt(trailers);
    if (this.#responseEnded) return;
    this.#responseEnded = true;
    if (trailers !== null) this.#cb.encodeTrailers(trailers);
    else this.#cb.encodeData(EMPTY, true);
  }

  onUpstreamReset(reason: UpstreamReset): void {
    this.#req = null;
    const counted = this.#active;
    if (!this.#responseStarted && reason !== UpstreamReset.ProtocolError) this.#endpoint!.outlier?.putResult(OutlierResult.LocalOriginReset);
    this.#finishAttempt(true);
    if (this.#responseEnded) return;
    const stats = this.#cluster!.stats;
    stats.upstream_rq_rx_reset.inc();
    const protocol = reason === UpstreamReset.ProtocolError;
    if (!this.#responseStarted) {
      if (!protocol && this.#maybeRetryFailure(reason === UpstreamReset.RefusedStream ? Failure.RefusedStream : Failure.Reset)) return;
      if (counted) stats.upstream_rq_5xx.inc();
      this.#responseEnded = true;
      this.#cb.sendLocalReply(protocol ? LocalReplies.upstreamProtocolError : LocalReplies.upstreamReset, null);
    } else {
      this.#responseEnded = true;
      this.#cb.resetStream(protocol ? 'UPE' : 'UR');
    }
  }

  onUpstreamDrain(): void {
    if (this.#downstreamPaused) {
      this.#downstreamPaused = false;
      this.#cb.readDisable(false);
    }
  }

  onUpstreamUpgraded(socket: Socket, pending: Buffer | null): void {
    this.#req = null;
    const headers = this.#upgradeHeaders;
    if (this.#cb.upgradeType === '' || headers === null) {
      socket.destroy();
      this.onUpstreamReset(UpstreamReset.ProtocolError);
      return;
    }
    this.#finishAttempt(false);
    this.#shared.wheel.cancel(this.#timer);
    this.#responseStarted = true;
    this.#responseEnded = true;
    this.#cb.upgradeTo(this.#upgradeStatus, headers, socket, pending);
  }

  // TimerTarget: the route timeout (whole request, all attempts) and the per-try timeout

  onTimer(t: WheelTimer): void {
    if (this.#responseEnded) return;
    const stats = this.#cluster!.stats;
    if (t.kind === T_PER_TRY || t.kind === T_PER_TRY_IDLE) {
      if (t.kind === T_PER_TRY) stats.upstream_rq_per_try_timeout.inc();
      else stats.upstream_rq_per_try_idle_timeout.inc();
      this.#endpoint?.outlier?.putResult(OutlierResult.LocalOriginTimeout);
      this.#abortAttempt(true);
      if (!this.#responseStarted && this.#maybeRetryFailure(Failure.PerTryTimeout)) return;
      this.#timeoutReply();
      return;
    }
    stats.upstream_rq_timeout.inc();
    this.#cancelBackoff();
    if (this.#active) this.#endpoint?.outlier?.putResult(OutlierResult.LocalOriginTimeout);
    this.#abortAttempt(true);
    this.#timeoutReply();
  }

  // ---- forwarding ----

  #forward(a: ForwardActionConfig, headers: HeaderMap, endStream: boolean): void {
    const cb = this.#cb;
    const route = this.#route!;
    const name = route.clusterName ?? a.cluster;
    const cluster = name === null ? null : this.#shared.clusters.get(name);
    if (cluster === null) {
      cb.sendLocalReply(LocalReplies.clusterNotFound, null);
      return;
    }
    this.#action = a;
    this.#cluster = cluster;
    this.#resources = cluster.resources(a.priority);
    const proto = cluster.config.upstreamProtocol;
    const pools = this.#shared.pools;
    this.#pool = cb.upgradeType === '' && (proto === 'http2' || (proto === 'downstream' && cb.protocol === 'HTTP/2')) ? pools.http2 : pools.http1;
    const retry = a.retryPolicy;
    if (retry !== null && retry.numRetries > 0) {
      this.#retry = retry;
      this.#retriesLeft = retry.numRetries;
      this.#keepBody = true;
      this.#bodyLimit = a.perRequestBufferLimitBytes ?? this.#shared.bufferLimitBytes;
      if (retry.previousHostsPredicate) this.#triedHosts = [];
    }
    // Path and host rewrites.
    let path = cb.path;
    if (a.prefixRewrite !== null || a.regexRewrite !== null) {
      const q = path.indexOf('?');
      const p = q === -1 ? path : path.slice(0, q);
      const rewritten = a.prefixRewrite !== null ? rewritePrefix(route, p, a.prefixRewrite) : rewriteRegex(a, p);
      path = q === -1 ? rewritten : rewritten + path.slice(q);
    }
    this.#path = path;
    if (a.hostRewriteLiteral !== null) headers.set('host', a.hostRewriteLiteral);
    // Envoy's order: weighted cluster, route, virtual host, route configuration (each: remove, then add).
    const wc = route.weightedCluster;
    if (wc !== null) requestMutations(headers, wc);
    requestMutations(headers, route.route);
    requestMutations(headers, route.virtualHost);
    if (cb.routeConfig !== null) requestMutations(headers, cb.routeConfig);
    this.#headers = headers;
    if (endStream) this.#endRequest();
    this.#startAttempt();
  }

  /** Picks an endpoint and asks its pool for a stream; answers locally when none can be had. */
  #startAttempt(): void {
    const cb = this.#cb;
    const cluster = this.#cluster!;
    const res = this.#resources!;
    if (!res.requests.canCreate()) {
      cluster.stats.upstream_rq_pending_overflow.inc();
      this.#overflow();
      return;
    }
    const ep = cluster.pick(this);
    if (ep === null) {
      // pick() counted upstream_cx_none_healthy.
      cb.setUpstream('', cluster.name);
      this.#responseEnded = true;
      cb.sendLocalReply(LocalReplies.noHealthyUpstream, null);
      return;
    }
    this.#endpoint = ep;
    this.#triedHosts?.push(ep);
    this.#headSent = false;
    this.#upstream5xx = false;
    this.#grpcStatusPending = false;
    this.#upgradeHeaders = null;
    // Accounting: the attempt holds its endpoint until it ends, whatever EDS does meanwhile.
    this.#active = true;
    ep.activeRequests++;
    ep.rqTotal++;
    res.requests.inc();
    cluster.stats.upstream_rq_total.inc();
    cluster.stats.upstream_rq_active.inc();
    cb.attemptCount++;
    cb.setUpstream(ep.key, cluster.name);
    const req = this.#pool!.newStream(cluster, ep, this.#action!.priority, this);
    if (req === null) {
      // The pool counted upstream_rq_pending_overflow.
      this.#finishAttempt(true);
      this.#overflow();
      return;
    }
    this.#req = req;
    if (this.#requestEnded) this.#armTryTimer();
    const idle = this.#retry === null ? 0 : this.#retry.perTryIdleTimeoutMs;
    if (idle > 0) this.#shared.wheel.schedule((this.#tryIdleTimer ??= new WheelTimer(this, T_PER_TRY_IDLE)), idle);
    if (req.connected) this.onPoolReady(req);
  }

  /** The request head for the current attempt: endpoint-dependent host rewrite and the propagated gRPC deadline. */
  #attemptHeaders(): HeaderMap {
    const a = this.#action!;
    const retrying = this.#keepBody || this.#retry !== null;
    // A retry may need the original head again; the first attempt without a retry policy uses it directly.
    const h = retrying ? this.#headers!.clone() : this.#headers!;
    const ep = this.#endpoint!;
    if (a.autoHostRewrite && a.hostRewriteLiteral === null && !isIpLiteral(ep.address.address)) h.set('host', `${ep.address.address}:${ep.address.port}`);
    // HTTP/1.0 clients may omit Host; the upstream request is HTTP/1.1 and needs one.
    if (!h.has('host')) h.add('host', this.#cb.authority !== '' ? this.#cb.authority : ep.key);
    const cb = this.#cb;
    if (cb.isGrpc) {
      let remaining = cb.deadlineMs > 0 ? cb.deadlineMs - performance.now() : 0;
      const perTry = this.#retry !== null ? this.#retry.perTryTimeoutMs : 0;
      if (perTry > 0 && (remaining <= 0 || perTry < remaining)) remaining = perTry;
      if (remaining > 0) h.set('grpc-timeout', formatGrpcTimeout(remaining));
    }
    if (this.#retryCount > 0) h.set('x-envoy-attempt-count', String(this.#retryCount + 1));
    return h;
  }

  #endRequest(): void {
    if (this.#requestEnded) return;
    this.#requestEnded = true;
    const ms = this.#action!.timeoutMs;
    if (ms > 0 && this.#cb.upgradeType === '') this.#shared.wheel.schedule(this.#timer, ms);
    if (this.#req !== null) this.#armTryTimer();
  }

  #armTryTimer(): void {
    const r = this.#retry;
    if (r === null || r.perTryTimeoutMs <= 0) return;
    const t = (this.#tryTimer ??= new WheelTimer(this, T_PER_TRY));
    this.#shared.wheel.schedule(t, r.perTryTimeoutMs);
  }

  #cancelTryTimer(): void {
    if (this.#tryTimer !== null) this.#shared.wheel.cancel(this.#tryTimer);
  }

  /** per_try_idle_timeout: restarted by every response head or body chunk of the current attempt. */
  #touchTryIdle(): void {
    const t = this.#tryIdleTimer;
    if (t !== null && t.armed) this.#shared.wheel.touch(t, this.#retry!.perTryIdleTimeoutMs);
  }

  #addBodyBytes(n: number): void {
    this.#bodyBytes += n;
    if (this.#keepBody && this.#bodyBytes > this.#bodyLimit) {
      // Past per_request_buffer_limit_bytes the request can no longer be replayed: no more retries.
      this.#keepBody = false;
      this.#retriesLeft = 0;
      if (this.#headSent) {
        this.#body = [];
        this.#bodyBytes = 0;
        this.#bodySent = 0;
      }
    }
  }

  // ---- retries ----

  #retriableResponse(r: RetryPolicyConfig, status: number, grpcStatus: number): boolean {
    const on = r.retryOn;
    for (let i = 0; i < on.length; i++) {
      switch (on[i]) {
        case '5xx':
          if (status >= 500) return true;
          break;
        case 'gateway-error':
          if (status === 502 || status === 503 || status === 504) return true;
          break;
        case 'retriable-4xx':
          if (status === 409) return true;
          break;
        case 'retriable-status-codes':
          if (r.retriableStatusCodes.includes(status)) return true;
          break;
        case 'cancelled':
          if (grpcStatus === 1) return true;
          break;
        case 'deadline-exceeded':
          if (grpcStatus === 4) return true;
          break;
        case 'resource-exhausted':
          if (grpcStatus === 8) return true;
          break;
        case 'internal':
          if (grpcStatus === 13) return true;
          break;
        case 'unavailable':
          if (grpcStatus === 14) return true;
          break;
        default:
          break;
      }
    }
    return false;
  }

  #retriableFailure(r: RetryPolicyConfig, f: Failure): boolean {
    const on = r.retryOn;
    for (let i = 0; i < on.length; i++) {
      const c = on[i];
      if (c === '5xx' || c === 'gateway-error' || c === 'reset') return true;
      if (c === 'connect-failure' && f === Failure.ConnectFailure) return true;
      if (c === 'refused-stream' && f === Failure.RefusedStream) return true;
      if (c === 'reset-before-request' && f === Failure.ConnectFailure) return true;
    }
    return false;
  }

  /** After a failed attempt (nothing sent downstream yet): retries when the policy allows; true when one was scheduled. */
  #maybeRetryFailure(f: Failure): boolean {
    const r = this.#retry;
    if (r === null || !this.#retriableFailure(r, f)) return false;
    return this.#tryRetry();
  }

  /** Schedules the next attempt after a jittered backoff; false (counted) when retries are exhausted or refused. */
  #tryRetry(): boolean {
    const cluster = this.#cluster!;
    const stats = cluster.stats;
    if (this.#retriesLeft <= 0 || !this.#keepBody) {
      stats.upstream_rq_retry_limit_exceeded.inc();
      this.#cb.addResponseFlag('URX');
      return false;
    }
    const res = this.#resources!;
    if (!res.retries.canCreate()) {
      stats.upstream_rq_retry_overflow.inc();
      return false;
    }
    // Abandon the current attempt (its response, if any, is discarded).
    this.#abortAttempt(true);
    this.#retriesLeft--;
    this.#retryCount++;
    res.retries.inc();
    this.#attemptIsRetry = true;
    stats.upstream_rq_retry.inc();
    stats.upstream_rq_retry_backoff_exponential.inc();
    const r = this.#retry!;
    // Envoy's jittered exponential backoff: random in [0, (2^n − 1) × base), capped at max.
    const mult = 2 ** Math.min(this.#retryCount, 30) - 1;
    const delay = Math.min(Math.floor(this.#shared.random() * mult * r.backoffBaseMs), r.backoffMaxMs);
    const log = this.#shared.logger;
    if (log.isLevelEnabled('debug')) log.debug({ cluster: cluster.name, host: this.#endpoint?.key, attempt: this.#retryCount + 1, backoff_ms: delay }, 'retrying upstream request');
    this.#backoff = setTimeout(this.#onBackoff, delay);
    return true;
  }

  readonly #onBackoff = (): void => {
    this.#backoff = null;
    if (this.#responseEnded) return;
    // The retry slot is held only while waiting; the new attempt counts as a request.
    this.#resources!.retries.dec();
    this.#attemptIsRetry = false;
    if (this.#keepBody) this.#bodySent = 0;
    this.#startAttempt();
  };

  #cancelBackoff(): void {
    if (this.#backoff !== null) {
      clearTimeout(this.#backoff);
      this.#backoff = null;
      if (this.#attemptIsRetry) {
        this.#attemptIsRetry = false;
        this.#resources!.retries.dec();
      }
    }
  }

  // ---- attempt teardown ----

  /** The upstream response completed: endpoint accounting ends, gRPC status from trailers reaches outlier detection. */
  #completeAttempt(trailers: HeaderMap | null): void {
    this.#req = null;
    if (this.#grpcStatusPending) {
      this.#grpcStatusPending = false;
      const g = trailers === null ? -1 : grpcStatusOf(trailers);
      this.#endpoint?.outlier?.putHttpStatus(g >= 0 ? grpcToHttpStatus(g) : 200);
    }
    this.#finishAttempt(false);
    this.#shared.wheel.cancel(this.#timer);
  }

  /** Aborts the current attempt's upstream request (if any) and ends its accounting. */
  #abortAttempt(error: boolean): void {
    const req = this.#req;
    if (req !== null) {
      this.#req = null;
      if (this.#active) this.#cluster!.stats.upstream_rq_tx_reset.inc();
      req.abort();
    }
    this.#finishAttempt(error);
  }

  #finishAttempt(error: boolean): void {
    this.#cancelTryTimer();
    if (this.#tryIdleTimer !== null) this.#shared.wheel.cancel(this.#tryIdleTimer);
    this.#upstreamPaused = false;
    if (!this.#active) return;
    this.#active = false;
    const ep = this.#endpoint!;
    ep.activeRequests--;
    if (error || this.#upstream5xx) ep.rqError++;
    this.#resources!.requests.dec();
    this.#cluster!.stats.upstream_rq_active.dec();
  }

  #timeoutReply(): void {
    this.#responseEnded = true;
    if (!this.#responseStarted) {
      this.#cluster!.stats.upstream_rq_5xx.inc();
      this.#cb.sendLocalReply(LocalReplies.upstreamTimeout, null);
    } else {
      this.#cb.resetStream('UT');
    }
  }

  #overflow(): void {
    this.#responseEnded = true;
    const h = new HeaderMap();
    h.add('x-envoy-overloaded', 'true');
    this.#cb.sendLocalReply(LocalReplies.upstreamOverflow, h);
  }

  #pauseDownstream(): void {
    if (this.#downstreamPaused) return;
    this.#downstreamPaused = true;
    this.#cb.readDisable(true);
  }

  #responseMutations(h: HeaderMap): void {
    const route = this.#route!;
    const wc = route.weightedCluster;
    if (wc !== null) responseMutations(h, wc);
    responseMutations(h, route.route);
    responseMutations(h, route.virtualHost);
    const rc = this.#cb.routeConfig;
    if (rc !== null) responseMutations(h, rc);
  }

  // ---- actions ----

  #directResponse(a: DirectResponseActionConfig): void {
    const h = new HeaderMap();
    const body = a.body === null || a.body.length === 0 ? null : Buffer.from(a.body, 'utf8');
    if (body !== null) h.add('content-type', 'text/plain');
    h.add('content-length', body === null ? '0' : String(body.length));
    this.#responseMutations(h);
    this.#responseStarted = true;
    this.#responseEnded = true;
    this.#cb.encodeHeaders(a.status, h, body === null);
    if (body !== null) this.#cb.encodeData(body, true);
  }

  #redirect(a: RedirectActionConfig): void {
    const cb = this.#cb;
    const scheme = a.httpsRedirect ? 'https' : (a.schemeRedirect ?? cb.scheme);
    const auth = cb.authority;
    const colon = auth.startsWith('[') ? auth.indexOf(':', auth.indexOf(']')) : auth.lastIndexOf(':');
    let host = colon === -1 ? auth : auth.slice(0, colon);
    let port = colon === -1 ? '' : auth.slice(colon + 1);
    if (a.hostRedirect !== null) {
      host = a.hostRedirect;
      if (a.portRedirect === null) port = '';
    }
    if (a.portRedirect !== null) port = String(a.portRedirect);
    else if (scheme !== cb.scheme) port = '';
    if ((scheme === 'http' && port === '80') || (scheme === 'https' && port === '443')) port = '';
    const full = cb.path;
    const q = full.indexOf('?');
    const pathOnly = q === -1 ? full : full.slice(0, q);
    let query = q === -1 ? '' : full.slice(q);
    let path = pathOnly;
    if (a.pathRedirect !== null) {
      const pq = a.pathRedirect.indexOf('?');
      if (pq !== -1) {
        path = a.pathRedirect.slice(0, pq);
        query = a.pathRedirect.slice(pq);
      } else path = a.pathRedirect;
    } else if (a.prefixRewrite !== null) {
      path = rewritePrefix(this.#route!, pathOnly, a.prefixRewrite);
    }
    if (a.stripQuery) query = '';
    const h = new HeaderMap();
    h.add('location', `${scheme}://${host}${port === '' ? '' : `:${port}`}${path}${query}`);
    h.add('content-length', '0');
    this.#responseMutations(h);
    this.#responseStarted = true;
    this.#responseEnded = true;
    cb.encodeHeaders(a.responseCode, h, true);
  }

}

function requestMutations(h: HeaderMap, m: HeaderMutationsConfig): void {
  const rm = m.requestHeadersToRemove;
  for (let i = 0; i < rm.length; i++) h.remove(rm[i]!);
  const add = m.requestHeadersToAdd;
  for (let i = 0; i < add.length; i++) applyHeaderOption(h, add[i]!);
}

function responseMutations(h: HeaderMap, m: HeaderMutationsConfig): void {
  const rm = m.responseHeadersToRemove;
  for (let i = 0; i < rm.length; i++) h.remove(rm[i]!);
  const add = m.responseHeadersToAdd;
  for (let i = 0; i < add.length; i++) applyHeaderOption(h, add[i]!);
}

/** Envoy HeaderValueOption.append_action. */
export function applyHeaderOption(h: HeaderMap, o: HeaderValueOptionConfig): void {
  switch (o.action) {
    case 'APPEND_IF_EXISTS_OR_ADD':
      h.add(o.key, o.value);
      break;
    case 'ADD_IF_ABSENT':
      if (!h.has(o.key)) h.add(o.key, o.value);
      break;
    case 'OVERWRITE_IF_EXISTS_OR_ADD':
      h.set(o.key, o.value);
      break;
    case 'OVERWRITE_IF_EXISTS':
      if (h.has(o.key)) h.set(o.key, o.value);
      break;
  }
}

/** prefix_rewrite: replaces the matched prefix (prefix matches) or the whole path (exact/regex matches). */
function rewritePrefix(route: RouteMatch, path: string, rewrite: string): string {
  const m = route.route.match.path;
  if (m.kind === 'prefix' || m.kind === 'path_separated_prefix') return rewrite + path.slice(m.value.length);
  return rewrite;
}

const regexCache = new WeakMap<ForwardActionConfig, { re: RegExp; sub: string }>();

/** regex_rewrite: every match in the path (query excluded) replaced; RE2 `\N` groups become `$N`. */
function rewriteRegex(a: ForwardActionConfig, path: string): string {
  let c = regexCache.get(a);
  if (c === undefined) {
    const r = a.regexRewrite!;
    c = { re: new RegExp(r.regex, 'gu'), sub: r.substitution.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1') };
    regexCache.set(a, c);
  }
  c.re.lastIndex = 0;
  return path.replace(c.re, c.sub);
}

function isIpLiteral(a: string): boolean {
  return /^[\d.]+$/.test(a) || a.includes(':');
}

const REQUIRE_TLS_REDIRECT: RedirectActionConfig = Object.freeze({
  kind: 'redirect',
  httpsRedirect: true,
  schemeRedirect: null,
  hostRedirect: null,
  portRedirect: null,
  pathRedirect: null,
  prefixRewrite: null,
  responseCode: 301,
  stripQuery: false,
});
