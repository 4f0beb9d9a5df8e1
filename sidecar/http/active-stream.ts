// ActiveStream: one request/response exchange on a downstream HTTP/1.1 connection (headers mutation, routing, encoding).
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { AccessLogSink } from '../../src/observability/logger.js';
import type { Counter, Gauge } from '../../src/observability/stats.js';
import type { HcmConfig, RouteConfigData } from '../../src/xds/resources/types.js';
import type { RouteMatch, RouteTable, SidecarContext } from '../contracts.js';
import { RouterFilter, type RouterShared } from '../router/router-filter.js';
import { writeAccessLog, type AccessLogEntry } from './access-log.js';
import type { StreamCallbacks } from './filter.js';
import type { H1Message } from './h1/parser.js';
import {
  chunkHeader, CHUNKED_LINE, CLOSE_LINE, CONTINUE_100, CRLF, frameChunk, KEEP_ALIVE_LINE, LAST_CHUNK,
  lastChunkWithTrailers, serializeResponseHead, SMALL_CHUNK,
} from './h1/serializer.js';
import { HeaderMap } from './header-map.js';
import { LocalReplies, routeConfigMissing, serializeLocalReply, type LocalReply } from './local-reply.js';

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
}

/** The connection side of a stream (implemented by HttpConnection). */
export interface StreamOwner {
  readonly shared: HcmShared;
  readonly draining: boolean;
  readonly peerAddress: string;
  readonly scheme: string;
  write(data: Buffer | string, cork: boolean): boolean;
  readDisable(disable: boolean): void;
  onStreamDone(stream: ActiveStream): void;
  /** Stream activity (a response head or body chunk went out): pushes the stream idle timeout back. */
  touch(): void;
  /** The route's idle_timeout replaces the HCM stream_idle_timeout for this stream (0 disables). */
  setStreamIdleTimeout(ms: number): void;
  enterTunnel(stream: ActiveStream, upstream: Socket, upstreamPending: Buffer | null): void;
  /** Closes the connection now (stream reset after the response started). */
  abort(): void;
}

const EMPTY = Buffer.alloc(0);

export function countStatus(stats: HcmStats, status: number): void {
  if (status < 200) stats.downstream_rq_1xx.inc();
  else if (status < 300) stats.downstream_rq_2xx.inc();
  else if (status < 400) stats.downstream_rq_3xx.inc();
  else if (status < 500) stats.downstream_rq_4xx.inc();
  else stats.downstream_rq_5xx.inc();
}

/** Owns one request: header processing, route lookup, the router filter, and response encoding with framing. */
export class ActiveStream implements StreamCallbacks, AccessLogEntry {
  readonly #owner: StreamOwner;
  readonly headers: HeaderMap;
  readonly method: string;
  path: string;
  readonly authority: string;
  readonly protocol: string;
  readonly versionMinor: number;
  readonly requestChunked: boolean;
  readonly requestContentLength: number;
  readonly expectContinue: boolean;
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
  /** Close the connection after this response. */
  closeAfter: boolean;
  tunnel: boolean;
  #chunkedResponse: boolean;
  #suppressBody: boolean;
  #sent100: boolean;
  #router: RouterFilter | null;
  #finished: boolean;

  constructor(owner: StreamOwner, msg: H1Message) {
    this.#owner = owner;
    this.headers = msg.headers;
    this.method = msg.method;
    this.path = msg.path;
    this.authority = msg.host;
    this.versionMinor = msg.versionMinor;
    this.protocol = msg.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0';
    this.requestChunked = msg.chunked;
    this.requestContentLength = msg.contentLength;
    this.expectContinue = msg.expectContinue;
    this.upgradeType = '';
    this.route = null;
    this.routeConfig = null;
    this.scheme = owner.scheme;
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
    this.downstreamRemoteAddress = owner.peerAddress;
    this.userAgent = msg.headers.get('user-agent') ?? '';
    this.requestComplete = msg.bodyless;
    this.responseStarted = false;
    this.responseComplete = false;
    this.closeAfter = !msg.keepAlive || owner.draining;
    this.tunnel = false;
    this.#chunkedResponse = false;
    this.#suppressBody = false;
    this.#sent100 = false;
    this.#router = null;
    this.#finished = false;
  }

  /** Runs the request head through the HCM's header processing, route lookup and the router. */
  start(msg: H1Message): void {
    const sh = this.#owner.shared;
    const cfg = sh.config;
    if (this.versionMinor === 0 && !cfg.acceptHttp10) {
      this.sendLocalReply(LocalReplies.http10NotAccepted, null);
      return;
    }
    const h = this.headers;
    const upgradeValue = msg.upgrade ? (h.get('upgrade') ?? '').toLowerCase() : '';
    stripRequestHopByHop(h);
    if (this.expectContinue) h.remove('expect');
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
    if (ra.kind === 'route' && ra.idleTimeoutMs !== null) this.#owner.setStreamIdleTimeout(ra.idleTimeoutMs);
    if (upgradeValue !== '') {
      const a = ra;
      const allowed = (a.kind === 'route' && a.upgradeTypes !== null ? a.upgradeTypes : cfg.upgradeTypes).includes(upgradeValue);
      if (allowed) {
        this.upgradeType = upgradeValue;
        h.add('upgrade', upgradeValue);
      }
    }
    const r = new RouterFilter(sh.router, this);
    this.#router = r;
    r.onRequestHeaders(h, this.requestComplete);
  }

  decodeData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    if (this.#router !== null && !this.responseComplete) this.#router.onRequestData(chunk, false);
  }

  endRequest(trailers: HeaderMap | null): void {
    this.requestComplete = true;
    const r = this.#router;
    if (r !== null && !this.responseComplete) {
      if (trailers !== null) r.onRequestTrailers(trailers);
      else r.onRequestData(EMPTY, true);
    }
  }

  onDownstreamDrain(): void {
    this.#router?.onDownstreamDrain();
  }

  // StreamCallbacks

  encodeHeaders(status: number, headers: HeaderMap, endStream: boolean): void {
    this.responseStarted = true;
    this.status = status;
    const cfg = this.#owner.shared.config;
    stripResponseHopByHop(headers);
    if (cfg.via !== '') appendList(headers, 'via', cfg.via);
    headers.set('server', cfg.serverName);
    if (this.#owner.draining) this.closeAfter = true;
    let extra = '';
    const noBody = endStream || this.method === 'HEAD';
    if (!noBody && !headers.has('content-length')) {
      if (this.versionMinor === 1) {
        this.#chunkedResponse = true;
        extra = CHUNKED_LINE;
      } else {
        this.closeAfter = true; // close-delimited body for an HTTP/1.0 client
      }
    }
    this.#suppressBody = noBody;
    if (this.closeAfter) extra += CLOSE_LINE;
    else if (this.versionMinor === 0) extra += KEEP_ALIVE_LINE;
    const head = serializeResponseHead(status, headers, extra);
    const o = this.#owner;
    o.touch();
    o.write(head, !endStream);
    if (endStream) this.#responseDone();
  }

  encodeData(chunk: Buffer, endStream: boolean): boolean {
    let ok = true;
    if (!this.#suppressBody) {
      const n = chunk.length;
      this.bytesSent += n;
      const o = this.#owner;
      o.touch();
      if (this.#chunkedResponse) {
        if (n > 0) {
          if (n <= SMALL_CHUNK) ok = o.write(frameChunk(chunk), false);
          else {
            o.write(chunkHeader(n), true);
            o.write(chunk, true);
            ok = o.write(CRLF, true);
          }
        }
        if (endStream) ok = o.write(LAST_CHUNK, false);
      } else if (n > 0) {
        ok = o.write(chunk, false);
      }
    }
    if (endStream) this.#responseDone();
    return ok;
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (this.#chunkedResponse && !this.#suppressBody) this.#owner.write(lastChunkWithTrailers(trailers), false);
    this.#responseDone();
  }

  sendLocalReply(reply: LocalReply, headers: HeaderMap | null): void {
    if (this.responseStarted) {
      this.resetStream(reply.flag);
      return;
    }
    this.addResponseFlag(reply.flag);
    this.errCode = reply.code;
    if (!this.requestComplete) this.closeAfter = true; // the rest of the request body will not be read
    const head = this.method === 'HEAD';
    if (this.#owner.draining) this.closeAfter = true;
    this.responseStarted = true;
    this.status = reply.status;
    this.bytesSent += head ? 0 : reply.body.length;
    const extra = this.closeAfter ? CLOSE_LINE : this.versionMinor === 0 ? KEEP_ALIVE_LINE : '';
    this.#owner.write(serializeLocalReply(reply, this.#owner.shared.config.serverName, headers, extra, head), false);
    this.#responseDone();
  }

  continueRequest(): void {
    if (!this.expectContinue || this.#sent100 || this.requestComplete || this.responseStarted) return;
    this.#sent100 = true;
    this.#owner.write(CONTINUE_100, false);
  }

  readDisable(disable: boolean): void {
    this.#owner.readDisable(disable);
  }

  upgradeTo(status: number, headers: HeaderMap, upstream: Socket, upstreamPending: Buffer | null): void {
    this.responseStarted = true;
    this.responseComplete = true;
    this.status = status;
    const upgrade = headers.get('upgrade') ?? this.upgradeType;
    stripResponseHopByHop(headers);
    const cfg = this.#owner.shared.config;
    if (cfg.via !== '') appendList(headers, 'via', cfg.via);
    headers.add('upgrade', upgrade);
    headers.add('connection', 'upgrade');
    this.tunnel = true;
    this.#owner.write(serializeResponseHead(status, headers, ''), false);
    this.#owner.enterTunnel(this, upstream, upstreamPending);
  }

  resetStream(flag: string): void {
    this.addResponseFlag(flag);
    this.responseComplete = true;
    this.#owner.abort();
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

  /** Ends the stream once (response done, or connection gone): router teardown, stats, access log. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (!this.responseComplete) this.addResponseFlag('DC');
    const r = this.#router;
    this.#router = null;
    r?.onDestroy();
    const sh = this.#owner.shared;
    sh.stats.downstream_rq_active.dec();
    if (this.status !== 0) countStatus(sh.stats, this.status);
    this.endMs = performance.now();
    writeAccessLog(sh.accessLog, this);
  }

  #responseDone(): void {
    if (this.responseComplete) return;
    this.responseComplete = true;
    // Response before the request was fully read: the connection cannot carry another request.
    if (!this.requestComplete) this.closeAfter = true;
    this.#owner.onStreamDone(this);
  }

  #mutateRequestHeaders(h: HeaderMap, cfg: HcmConfig): void {
    const peer = this.#owner.peerAddress;
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
  }
}

/** Appends `value` to a comma-list header (one field). */
function appendList(h: HeaderMap, name: string, value: string): void {
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
