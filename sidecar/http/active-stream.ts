// ActiveStream: the codec-independent part of one request/response exchange (header processing, routing,
// the HTTP filter chain, local replies, stats and the access log). H1Stream and H2Stream add the encoding.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { WheelTimer, type TimerTarget, type TimerWheel } from '../../src/core/timer-wheel.js';
import type { AccessLogSink } from '../../src/observability/logger.js';
import type { Counter, Gauge } from '../../src/observability/stats.js';
import type { HcmConfig, RouteConfigData } from '../../src/xds/resources/types.js';
import type { RouteMatch, RouteTable, SidecarContext } from '../contracts.js';
import { RouterFilter, type RouterShared } from '../router/router-filter.js';
import { writeAccessLog, type AccessLogEntry } from './access-log.js';
import type { DownstreamConnectionInfo } from './connection-info.js';
import { FilterStatus, type DecoderFilterCallbacks, type HttpFilter, type HttpFilterFactory, type StreamCallbacks } from './filter.js';
import { httpToGrpcStatus, isGrpcContentType, parseGrpcTimeout } from './grpc.js';
import { HeaderMap } from './header-map.js';
import { LocalReplies, routeConfigMissing, type LocalReply } from './local-reply.js';

/** Pre-resolved `http.<stat_prefix>.` handles. */
export interface HcmStats {
  readonly downstream_cx_total: Counter;
  readonly downstream_cx_active: Gauge;
  readonly downstream_rq_total: Counter;
  readonly downstream_rq_active: Gauge;
  readonly downstream_rq_rejected: Counter;
  readonly downstream_rq_1xx: Counter;
  readonly downstream_rq_2xx: Counter;
  readonly downstream_rq_3xx: Counter;
  readonly downstream_rq_4xx: Counter;
  readonly downstream_rq_5xx: Counter;
  /** Streams reset by stream_idle_timeout. */
  readonly downstream_rq_idle_timeout: Counter;
  /** Requests not fully received within request_timeout. */
  readonly downstream_rq_timeout: Counter;
  /** Streams reset by max_stream_duration. */
  readonly downstream_rq_max_duration_reached: Counter;
  /** HTTP/2 connections closed for rapid reset (Envoy's name). */
  readonly downstream_rq_too_many_premature_resets: Counter;
  /** HTTP/2 connections closed for a frame flood or an unread outbound queue. */
  readonly downstream_cx_flood: Counter;
}

/** One configured HTTP filter of a filter chain: its factory and the state shared by its per-stream filters. */
export interface HttpFilterInstance {
  readonly factory: HttpFilterFactory;
  readonly shared: unknown;
}

/** Everything one connection manager's connections share (built once per filter chain). */
export interface HcmShared {
  readonly config: HcmConfig;
  readonly ctx: SidecarContext;
  readonly stats: HcmStats;
  readonly router: RouterShared;
  /** Inline route_config compiled once; null when routes come over RDS. */
  readonly staticRoutes: RouteTable | null;
  readonly bufferLimitBytes: number;
  /** Where access-log lines go (resolved once from ctx.accessLogger); null = off. */
  readonly accessLog: AccessLogSink | null;
  /** http_filters before the router, in order; empty when none (then streams skip the filter manager). */
  readonly httpFilters: readonly HttpFilterInstance[];
  readonly wheel: TimerWheel;
}

/** The request head as a codec hands it over. */
export interface RequestHead {
  readonly method: string;
  readonly path: string;
  /** Host / :authority, lower-cased. */
  readonly authority: string;
  readonly headers: HeaderMap;
  /** 'HTTP/1.0', 'HTTP/1.1' or 'HTTP/2'. */
  readonly protocol: string;
  /** No body follows the head. */
  readonly bodyless: boolean;
  readonly expectContinue: boolean;
}

const EMPTY = Buffer.alloc(0);

export function countStatus(stats: HcmStats, status: number): void {
  if (status < 200) stats.downstream_rq_1xx.inc();
  else if (status < 300) stats.downstream_rq_2xx.inc();
  else if (status < 400) stats.downstream_rq_3xx.inc();
  else if (status < 500) stats.downstream_rq_4xx.inc();
  else stats.downstream_rq_5xx.inc();
}

/**
 * Owns one request independent of the codec: header processing, route lookup, the HTTP filter chain (with
 * buffering while a filter holds the request), the router, max_stream_duration, local replies (gRPC-aware),
 * stats and the access log. Subclasses encode the response for their codec.
 */
export abstract class ActiveStream implements StreamCallbacks, DecoderFilterCallbacks, AccessLogEntry, TimerTarget {
  protected readonly shared: HcmShared;
  readonly headers: HeaderMap;
  readonly method: string;
  path: string;
  readonly authority: string;
  readonly protocol: string;
  readonly expectContinue: boolean;
  readonly isGrpc: boolean;
  upgradeType: string;
  route: RouteMatch | null;
  routeConfig: RouteConfigData | null;
  readonly scheme: string;
  // access-log facts
  status: number;
  readonly startMs: number;
  endMs: number;
  upstreamServiceTimeMs: number;
  upstreamHost: string;
  upstreamCluster: string;
  bytesReceived: number;
  bytesSent: number;
  requestId: string;
  responseFlags: string;
  errCode: string;
  downstreamRemoteAddress: string;
  readonly userAgent: string;
  // state
  requestComplete: boolean;
  responseStarted: boolean;
  responseComplete: boolean;
  deadlineMs: number;
  attemptCount: number;
  #router: RouterFilter | null;
  #finished: boolean;
  // filter manager (null when the chain has no filters before the router)
  #filters: HttpFilter[] | null;
  /** Index of the filter holding the request (StopIteration), -1 when none. */
  #stoppedAt: number;
  #heldData: Buffer[] | null;
  #heldEnd: boolean;
  #heldTrailers: HeaderMap | null;
  #durationTimer: WheelTimer | null;
  #heldPaused: boolean;

  readonly connection: DownstreamConnectionInfo;
  #metadata: Map<string, Record<string, unknown>> | null;

  constructor(shared: HcmShared, head: RequestHead, connection: DownstreamConnectionInfo) {
    this.shared = shared;
    this.headers = head.headers;
    this.method = head.method;
    this.path = head.path;
    this.authority = head.authority;
    this.protocol = head.protocol;
    this.expectContinue = head.expectContinue;
    this.isGrpc = isGrpcContentType(head.headers.get('content-type'));
    this.upgradeType = '';
    this.route = null;
    this.routeConfig = null;
    this.connection = connection;
    this.#metadata = null;
    this.scheme = connection.secure ? 'https' : 'http';
    this.status = 0;
    this.startMs = performance.now();
    this.endMs = 0;
    this.upstreamServiceTimeMs = -1;
    this.upstreamHost = '';
    this.upstreamCluster = '';
    this.bytesReceived = 0;
    this.bytesSent = 0;
    this.requestId = '';
    this.responseFlags = '';
    this.errCode = '';
    this.downstreamRemoteAddress = connection.directRemoteAddress;
    this.userAgent = head.headers.get('user-agent') ?? '';
    this.requestComplete = head.bodyless;
    this.responseStarted = false;
    this.responseComplete = false;
    this.deadlineMs = 0;
    this.attemptCount = 0;
    this.#router = null;
    this.#finished = false;
    this.#filters = null;
    this.#stoppedAt = -1;
    this.#heldData = null;
    this.#heldEnd = false;
    this.#heldTrailers = null;
    this.#durationTimer = null;
    this.#heldPaused = false;
  }

  /** The route's idle_timeout replaces the HCM stream_idle_timeout for this stream (0 disables). */
  protected abstract setStreamIdleTimeout(ms: number): void;
  /** Writes a generated (non-gRPC) response; the response has not started. */
  protected abstract encodeLocalReply(reply: LocalReply, headers: HeaderMap | null): void;

  /** Header processing, route lookup, then the filter chain and the router. `upgradeValue` = allowed-or-not upgrade asked for ('' none). */
  protected startStream(upgradeValue: string): void {
    const sh = this.shared;
    const cfg = sh.config;
    const h = this.headers;
    if (cfg.normalizePath || cfg.mergeSlashes) {
      this.path = normalizePath(this.path, cfg.normalizePath, cfg.mergeSlashes);
    }
    this.#mutateRequestHeaders(h, cfg);
    // Route: the inline table, or the latest RDS table by name (RDS may have replaced it since the last request).
    const table = sh.staticRoutes ?? sh.ctx.routes.get(cfg.rdsRouteConfigName ?? '');
    if (table === null) {
      this.sendLocalReply(routeConfigMissing(cfg.rdsRouteConfigName ?? ''), null);
      return;
    }
    this.routeConfig = table.config;
    const route = table.match({ method: this.method, authority: this.authority, path: this.path, headers: h });
    if (route === null) {
      this.sendLocalReply(LocalReplies.routeNotFound, null);
      return;
    }
    this.route = route;
    const ra = route.route.action;
    if (ra.kind === 'route' && ra.idleTimeoutMs !== null) this.setStreamIdleTimeout(ra.idleTimeoutMs);
    let maxDuration = ra.kind === 'route' && ra.maxStreamDurationMs !== null ? ra.maxStreamDurationMs : cfg.maxStreamDurationMs;
    // max_stream_duration.grpc_timeout_header_max: the client's grpc-timeout becomes the stream's deadline (capped, less the offset).
    if (this.isGrpc && ra.kind === 'route' && ra.grpcTimeoutHeaderMaxMs !== null) {
      const t = parseGrpcTimeout(h.get('grpc-timeout'));
      if (t > 0) {
        const capped = ra.grpcTimeoutHeaderMaxMs > 0 ? Math.min(t, ra.grpcTimeoutHeaderMaxMs) : t;
        maxDuration = Math.max(1, capped - ra.grpcTimeoutHeaderOffsetMs);
      }
    }
    if (maxDuration > 0) {
      this.deadlineMs = this.startMs + maxDuration;
      this.#durationTimer = new WheelTimer(this);
      sh.wheel.schedule(this.#durationTimer, maxDuration);
    }
    if (upgradeValue !== '') {
      const allowed = (ra.kind === 'route' && ra.upgradeTypes !== null ? ra.upgradeTypes : cfg.upgradeTypes).includes(upgradeValue);
      if (allowed) {
        this.upgradeType = upgradeValue;
        h.add('upgrade', upgradeValue);
      }
    }
    this.#router = new RouterFilter(sh.router, this);
    const factories = sh.httpFilters;
    if (factories.length === 0) {
      this.#router.onRequestHeaders(h, this.requestComplete);
      return;
    }
    const filters: HttpFilter[] = [];
    for (let i = 0; i < factories.length; i++) filters.push(factories[i]!.factory.createFilter(factories[i]!.shared, this));
    this.#filters = filters;
    this.#runHeaders(0);
  }

  decodeData(chunk: Buffer, endStream: boolean): void {
    this.bytesReceived += chunk.length;
    if (endStream) this.requestComplete = true;
    if (this.responseComplete) return;
    if (this.#filters === null) {
      this.#router?.onRequestData(chunk, endStream);
      return;
    }
    if (this.#stoppedAt !== -1) {
      this.#hold(chunk, endStream);
      return;
    }
    this.#runData(0, chunk, endStream);
  }

  endRequest(trailers: HeaderMap | null): void {
    this.requestComplete = true;
    if (this.responseComplete) return;
    if (this.#filters !== null) {
      if (this.#stoppedAt !== -1) {
        if (trailers !== null) this.#heldTrailers = trailers;
        else this.#heldEnd = true;
        return;
      }
      if (trailers !== null) this.#runTrailers(0, trailers);
      else this.#runData(0, EMPTY, true);
      return;
    }
    const r = this.#router;
    if (r === null) return;
    if (trailers !== null) r.onRequestTrailers(trailers);
    else r.onRequestData(EMPTY, true);
  }

  onDownstreamDrain(): void {
    this.#router?.onDownstreamDrain();
  }

  // DecoderFilterCallbacks

  dynamicMetadata(namespace: string): Readonly<Record<string, unknown>> | undefined {
    return this.#metadata?.get(namespace);
  }

  setPath(path: string): void {
    this.path = path;
  }

  setDynamicMetadata(namespace: string, key: string, value: unknown): void {
    this.#metadata ??= new Map();
    let ns = this.#metadata.get(namespace);
    if (ns === undefined) {
      ns = {};
      this.#metadata.set(namespace, ns);
    }
    ns[key] = value;
  }

  continueDecoding(): void {
    const at = this.#stoppedAt;
    if (at === -1 || this.responseComplete) return;
    this.#stoppedAt = -1;
    if (!this.#runHeaders(at + 1)) return;
    const data = this.#heldData;
    this.#heldData = null;
    const end = this.#heldEnd;
    const trailers = this.#heldTrailers;
    this.#heldTrailers = null;
    if (data !== null) {
      for (let i = 0; i < data.length; i++) {
        const last = i === data.length - 1 && end && trailers === null;
        if (!this.#runData(0, data[i]!, last)) return;
      }
    } else if (end && trailers === null) {
      if (!this.#runData(0, EMPTY, true)) return;
    }
    if (trailers !== null) this.#runTrailers(0, trailers);
    if (this.#heldPaused && this.#stoppedAt === -1) {
      this.#heldPaused = false;
      this.readDisable(false);
    }
  }

  // StreamCallbacks (codec-specific ones are abstract)

  abstract encodeHeaders(status: number, headers: HeaderMap, endStream: boolean): void;
  abstract encodeData(chunk: Buffer, endStream: boolean): boolean;
  abstract encodeTrailers(trailers: HeaderMap): void;
  abstract continueRequest(): void;
  abstract readDisable(disable: boolean): void;
  abstract upgradeTo(status: number, headers: HeaderMap, upstream: Socket, upstreamPending: Buffer | null): void;
  abstract resetStream(flag: string): void;

  /** A generated response; gRPC requests get a trailers-only response carrying grpc-status and grpc-message. */
  sendLocalReply(reply: LocalReply, headers: HeaderMap | null): void {
    if (this.responseStarted) {
      this.resetStream(reply.flag);
      return;
    }
    this.addResponseFlag(reply.flag);
    this.errCode = reply.code;
    if (!this.isGrpc) {
      this.encodeLocalReply(reply, headers);
      return;
    }
    const h = headers ?? new HeaderMap();
    h.set('content-type', 'application/grpc');
    h.set('grpc-status', String(reply.grpcStatus ?? httpToGrpcStatus(reply.status)));
    h.set('grpc-message', encodeURIComponent(reply.body.toString('latin1')));
    this.encodeHeaders(200, h, true);
  }

  setUpstream(host: string, cluster: string): void {
    this.upstreamHost = host;
    this.upstreamCluster = cluster;
  }

  setUpstreamServiceTime(ms: number): void {
    this.upstreamServiceTimeMs = ms;
  }

  addResponseFlag(flag: string): void {
    if (flag === '') return;
    if (this.responseFlags === '') this.responseFlags = flag;
    else if (!this.responseFlags.split(',').includes(flag)) this.responseFlags += `,${flag}`;
  }

  // TimerTarget: max_stream_duration

  onTimer(_t: WheelTimer): void {
    if (this.responseComplete) return;
    this.shared.stats.downstream_rq_max_duration_reached.inc();
    this.sendLocalReply(LocalReplies.streamDurationTimeout, null);
  }

  /** Ends the stream once (response done, or connection gone): filter and router teardown, stats, access log. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (!this.responseComplete) this.addResponseFlag('DC');
    if (this.#durationTimer !== null) this.shared.wheel.cancel(this.#durationTimer);
    const f = this.#filters;
    if (f !== null) for (let i = 0; i < f.length; i++) f[i]!.onDestroy();
    const r = this.#router;
    this.#router = null;
    r?.onDestroy();
    const sh = this.shared;
    sh.stats.downstream_rq_active.dec();
    if (this.status !== 0) countStatus(sh.stats, this.status);
    this.endMs = performance.now();
    writeAccessLog(sh.accessLog, this);
  }

  /**
   * The codec-independent part of sending response headers: the response starts, hop-by-hop fields go, via
   * and server are set, and the filters see the headers (in reverse order, as Envoy's encoder filters; they
   * cannot stop the response yet).
   */
  protected startResponse(status: number, headers: HeaderMap, endStream: boolean): void {
    this.responseStarted = true;
    this.status = status;
    const cfg = this.shared.config;
    stripResponseHopByHop(headers);
    if (cfg.via !== '') appendList(headers, 'via', cfg.via);
    headers.set('server', cfg.serverName);
    const f = this.#filters;
    if (f === null) return;
    for (let i = f.length - 1; i >= 0; i--) f[i]!.onResponseHeaders(headers, endStream);
  }

  // ---- filter manager ----

  /** Runs request headers from filter `from`; false when a filter stopped (or ended) the stream. */
  #runHeaders(from: number): boolean {
    const f = this.#filters!;
    const h = this.headers;
    const end = this.requestComplete && this.#heldData === null && !this.#heldEnd && this.#heldTrailers === null;
    for (let i = from; i < f.length; i++) {
      if (f[i]!.onRequestHeaders(h, end) === FilterStatus.StopIteration) {
        if (!this.responseStarted) this.#stoppedAt = i;
        return false;
      }
      if (this.responseStarted) return false;
    }
    this.#router?.onRequestHeaders(h, end);
    return true;
  }

  #runData(from: number, chunk: Buffer, endStream: boolean): boolean {
    const f = this.#filters!;
    for (let i = from; i < f.length; i++) {
      if (f[i]!.onRequestData(chunk, endStream) === FilterStatus.StopIteration) {
        if (!this.responseStarted) {
          this.#stoppedAt = i;
          this.#hold(chunk, endStream);
        }
        return false;
      }
      if (this.responseStarted) return false;
    }
    this.#router?.onRequestData(chunk, endStream);
    return true;
  }

  #runTrailers(from: number, trailers: HeaderMap): void {
    const f = this.#filters!;
    for (let i = from; i < f.length; i++) {
      if (f[i]!.onRequestTrailers(trailers) === FilterStatus.StopIteration) {
        if (!this.responseStarted) {
          this.#stoppedAt = i;
          this.#heldTrailers = trailers;
        }
        return;
      }
      if (this.responseStarted) return;
    }
    this.#router?.onRequestTrailers(trailers);
  }

  /** Buffers request body while a filter holds the stream; reads pause past the buffer limit. */
  #hold(chunk: Buffer, endStream: boolean): void {
    if (chunk.length > 0) {
      const held = (this.#heldData ??= []);
      held.push(chunk);
      let n = 0;
      for (let i = 0; i < held.length; i++) n += held[i]!.length;
      if (n > this.shared.bufferLimitBytes && !this.#heldPaused) {
        this.#heldPaused = true;
        this.readDisable(true);
      }
    }
    if (endStream) this.#heldEnd = true;
  }

  // ---- request header processing ----

  #mutateRequestHeaders(h: HeaderMap, cfg: HcmConfig): void {
    const peer = this.downstreamRemoteAddress;
    const xff = h.getJoined('x-forwarded-for');
    // Trusted client address per Envoy's XFF rules (use_remote_address + xff_num_trusted_hops).
    const n = cfg.xffNumTrustedHops;
    if (xff !== undefined && (n > 0 || !cfg.useRemoteAddress)) {
      const list = xff.split(',');
      const idx = cfg.useRemoteAddress ? list.length - n : list.length - 1 - n;
      const a = idx >= 0 && idx < list.length ? list[idx]!.trim() : '';
      if (a !== '') this.downstreamRemoteAddress = a;
    }
    if (cfg.useRemoteAddress) h.set('x-forwarded-for', xff === undefined ? peer : `${xff}, ${peer}`);
    if (cfg.useRemoteAddress || !h.has('x-forwarded-proto')) h.set('x-forwarded-proto', this.scheme);
    let rid = h.get('x-request-id');
    if (cfg.generateRequestId && (rid === undefined || (cfg.useRemoteAddress && !cfg.preserveExternalRequestId))) {
      rid = randomUUID();
      h.set('x-request-id', rid);
    }
    this.requestId = rid ?? '';
    if (cfg.via !== '') appendList(h, 'via', cfg.via);
    this.#forwardClientCert(h, cfg);
  }

  /** forward_client_cert_details: x-forwarded-client-cert is the proxy's to set; a client's own copy is dropped. */
  #forwardClientCert(h: HeaderMap, cfg: HcmConfig): void {
    const mode = cfg.forwardClientCertDetails;
    if (mode === 'ALWAYS_FORWARD_ONLY') return;
    const c = this.connection;
    const mtls = c.secure && c.peerCertificateValidated;
    if (!mtls || mode === 'SANITIZE') {
      h.remove(XFCC);
      return;
    }
    if (mode === 'FORWARD_ONLY') return;
    const cur = xfccElement(c, this.shared.ctx.secrets.localSpiffeId, cfg.setCurrentClientCertDetails);
    if (mode === 'SANITIZE_SET') h.set(XFCC, cur);
    else appendList(h, XFCC, cur);
  }
}

const XFCC = 'x-forwarded-client-cert';

/** One XFCC element in Envoy's key order: By, Hash, Subject, URI, DNS (values with , ; = or " quoted). */
function xfccElement(c: DownstreamConnectionInfo, by: string, d: HcmConfig['setCurrentClientCertDetails']): string {
  const parts: string[] = [];
  if (by !== '') parts.push(`By=${xfccValue(by)}`);
  parts.push(`Hash=${c.peerCertSha256}`);
  if (d.subject) parts.push(`Subject=${xfccValue(c.peerSubject, true)}`);
  if (d.uri) for (const u of c.peerUriSans) parts.push(`URI=${xfccValue(u)}`);
  if (d.dns) for (const n of c.peerDnsSans) parts.push(`DNS=${xfccValue(n)}`);
  return parts.join(';');
}

function xfccValue(v: string, alwaysQuote = false): string {
  return alwaysQuote || /[,;="]/.test(v) ? `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : v;
}

/** Appends `value` to a comma-list header (one field). */
export function appendList(h: HeaderMap, name: string, value: string): void {
  const cur = h.getJoined(name);
  h.set(name, cur === undefined ? value : `${cur}, ${value}`);
}

/** Removes headers named by Connection, then the fixed hop-by-hop set. */
function removeConnectionNominated(h: HeaderMap): void {
  const conn = h.getJoined('connection');
  if (conn === undefined) return;
  const tokens = conn.toLowerCase().split(',');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!.trim();
    // Never let a client strip routing/framing essentials by naming them.
    if (t !== '' && t !== 'close' && t !== 'keep-alive' && t !== 'host' && t !== 'content-length') h.remove(t);
  }
  h.remove('connection');
}

export function stripRequestHopByHop(h: HeaderMap): void {
  removeConnectionNominated(h);
  h.remove('keep-alive');
  h.remove('proxy-connection');
  h.remove('transfer-encoding');
  h.remove('upgrade');
  const te = h.getJoined('te');
  if (te !== undefined && te.trim().toLowerCase() !== 'trailers') h.remove('te');
}

export function stripResponseHopByHop(h: HeaderMap): void {
  removeConnectionNominated(h);
  h.remove('keep-alive');
  h.remove('proxy-connection');
  h.remove('transfer-encoding');
  h.remove('upgrade');
  h.remove('te');
}

/** merge_slashes / normalize_path (RFC 3986 §5.2.4 dot segments, `..` clamped at the root) on the path part. */
export function normalizePath(full: string, normalize: boolean, merge: boolean): string {
  if (full === '*') return full;
  const q = full.indexOf('?');
  let p = q === -1 ? full : full.slice(0, q);
  if (merge && p.includes('//')) p = p.replace(/\/{2,}/g, '/');
  if (normalize && p.includes('.')) {
    const segs = p.split('/');
    const out: string[] = [];
    for (let i = 1; i < segs.length; i++) {
      const s = segs[i]!;
      if (s === '.') {
        if (i === segs.length - 1) out.push('');
      } else if (s === '..') {
        out.pop();
        if (i === segs.length - 1) out.push('');
      } else out.push(s);
    }
    p = `/${out.join('/')}`;
  }
  return q === -1 ? p : p + full.slice(q);
}
