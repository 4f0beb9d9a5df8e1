// Terminal router filter: direct responses, redirects, and forwarding one stream to an upstream endpoint over H1.
import type { Socket } from 'node:net';
import { sharedTimerWheel, WheelTimer, type TimerTarget, type TimerWheel } from '../../src/core/timer-wheel.js';
import type {
  DirectResponseActionConfig, ForwardActionConfig, HeaderMutationsConfig, HeaderValueOptionConfig, RedirectActionConfig,
} from '../../src/xds/resources/types.js';
import type { ClusterManager, RouteMatch, UpstreamCluster, UpstreamEndpoint } from '../contracts.js';
import { FilterStatus, type HttpFilter, type StreamCallbacks } from '../http/filter.js';
import type { H1Message } from '../http/h1/parser.js';
import { CHUNKED_LINE } from '../http/h1/serializer.js';
import { HeaderMap } from '../http/header-map.js';
import { LocalReplies } from '../http/local-reply.js';
import {
  H1ConnPools, PoolFailure, UpstreamReset, type H1UpstreamConnection, type UpstreamCallbacks,
} from '../upstream/conn-pool/h1.js';

/** What every router instance of one connection manager shares. */
export interface RouterShared {
  readonly clusters: ClusterManager;
  readonly pools: H1ConnPools;
  readonly wheel: TimerWheel;
  /** Request body bytes held while the upstream connection is being set up before reads pause. */
  readonly bufferLimitBytes: number;
}

export function createRouterShared(clusters: ClusterManager, bufferLimitBytes: number, wheel: TimerWheel = sharedTimerWheel): RouterShared {
  return Object.freeze({ clusters, pools: H1ConnPools.for(clusters), wheel, bufferLimitBytes });
}

const EMPTY = Buffer.alloc(0);
const UPGRADE_LINE = 'connection: upgrade\r\n';

/** One stream's terminal filter: owns its upstream connection, endpoint accounting and the route timeout. */
export class RouterFilter implements HttpFilter, UpstreamCallbacks, TimerTarget {
  readonly #shared: RouterShared;
  readonly #cb: StreamCallbacks;
  readonly #timer: WheelTimer;
  #route: RouteMatch | null;
  #action: ForwardActionConfig | null;
  #cluster: UpstreamCluster | null;
  #endpoint: UpstreamEndpoint | null;
  #conn: H1UpstreamConnection | null;
  #headers: HeaderMap | null;
  #path: string;
  #chunked: boolean;
  #requestEnded: boolean;
  #headSent: boolean;
  #buffered: Buffer[] | null;
  #bufferedBytes: number;
  #trailers: HeaderMap | null;
  #responseStarted: boolean;
  #responseEnded: boolean;
  #upstreamPaused: boolean;
  #downstreamPaused: boolean;
  #active: boolean;
  /** The upstream answered 5xx: the endpoint's error count goes up once, when the upstream part ends. */
  #upstream5xx: boolean;
  #upstreamStart: number;
  #upgradeHeaders: HeaderMap | null;
  #upgradeStatus: number;

  constructor(shared: RouterShared, cb: StreamCallbacks) {
    this.#shared = shared;
    this.#cb = cb;
    this.#timer = new WheelTimer(this);
    this.#route = null;
    this.#action = null;
    this.#cluster = null;
    this.#endpoint = null;
    this.#conn = null;
    this.#headers = null;
    this.#path = '';
    this.#chunked = false;
    this.#requestEnded = false;
    this.#headSent = false;
    this.#buffered = null;
    this.#bufferedBytes = 0;
    this.#trailers = null;
    this.#responseStarted = false;
    this.#responseEnded = false;
    this.#upstreamPaused = false;
    this.#downstreamPaused = false;
    this.#active = false;
    this.#upstream5xx = false;
    this.#upstreamStart = 0;
    this.#upgradeHeaders = null;
    this.#upgradeStatus = 0;
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
    if (action.kind === 'direct_response') this.#directResponse(action);
    else if (action.kind === 'redirect') this.#redirect(action);
    else this.#forward(action, headers, endStream);
    return FilterStatus.StopIteration;
  }

  onRequestData(chunk: Buffer, endStream: boolean): FilterStatus {
    if (this.#action === null || this.#responseEnded) return FilterStatus.StopIteration;
    if (endStream) this.#endRequest();
    const conn = this.#conn;
    if (conn !== null && this.#headSent) {
      if (chunk.length > 0 && !conn.writeBody(chunk, this.#chunked)) this.#pauseDownstream();
      if (endStream) conn.endRequest(this.#chunked, null);
    } else if (chunk.length > 0) {
      (this.#buffered ??= []).push(chunk);
      this.#bufferedBytes += chunk.length;
      if (this.#bufferedBytes > this.#shared.bufferLimitBytes) this.#pauseDownstream();
    }
    return FilterStatus.StopIteration;
  }

  onRequestTrailers(trailers: HeaderMap): FilterStatus {
    if (this.#action === null || this.#responseEnded) return FilterStatus.StopIteration;
    this.#endRequest();
    const conn = this.#conn;
    if (conn !== null && this.#headSent) conn.endRequest(this.#chunked, this.#chunked ? trailers : null);
    else this.#trailers = trailers;
    return FilterStatus.StopIteration;
  }

  onResponseHeaders(_headers: HeaderMap, _endStream: boolean): FilterStatus {
    return FilterStatus.Continue;
  }

  onDownstreamDrain(): void {
    if (this.#upstreamPaused && this.#conn !== null) {
      this.#upstreamPaused = false;
      this.#conn.readDisable(false);
    }
  }

  onDestroy(): void {
    const conn = this.#conn;
    if (conn !== null) {
      this.#conn = null;
      conn.abort();
    }
    this.#finishUpstream(!this.#responseEnded);
  }

  // UpstreamCallbacks

  onPoolReady(conn: H1UpstreamConnection): void {
    this.#conn = conn;
    this.#upstreamStart = performance.now();
    const bodyFollows = !this.#requestEnded || this.#buffered !== null || this.#trailers !== null || this.#chunked;
    let extra = this.#chunked ? CHUNKED_LINE : '';
    if (this.#cb.upgradeType !== '') extra += UPGRADE_LINE;
    let ok = conn.writeHead(this.#cb.method, this.#path, this.#headers!, extra, !bodyFollows);
    this.#headSent = true;
    this.#headers = null;
    const buf = this.#buffered;
    if (buf !== null) {
      this.#buffered = null;
      this.#bufferedBytes = 0;
      for (let i = 0; i < buf.length; i++) ok = conn.writeBody(buf[i]!, this.#chunked);
    }
    if (this.#requestEnded && bodyFollows) conn.endRequest(this.#chunked, this.#chunked ? this.#trailers : null);
    this.#trailers = null;
    if (!ok) this.#pauseDownstream();
    else if (this.#downstreamPaused) {
      this.#downstreamPaused = false;
      this.#cb.readDisable(false);
    }
    if (!this.#requestEnded) this.#cb.continueRequest();
  }

  onPoolFailure(reason: PoolFailure): void {
    this.#conn = null;
    this.#finishUpstream(true);
    this.#cluster!.stats.upstream_rq_5xx.inc();
    this.#cb.sendLocalReply(reason === PoolFailure.ConnectTimeout ? LocalReplies.connectTimeout : LocalReplies.connectFailure, null);
  }

  onUpstreamHeaders(msg: H1Message): void {
    const status = msg.status;
    if (status < 200) {
      if (status === 101) {
        this.#upgradeStatus = status;
        this.#upgradeHeaders = msg.headers;
      }
      return;
    }
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
    const headers = msg.headers;
    this.#responseMutations(headers);
    this.#responseStarted = true;
    if (msg.bodyless) this.#responseEnded = true;
    cb.encodeHeaders(status, headers, msg.bodyless);
  }

  onUpstreamData(chunk: Buffer): void {
    if (!this.#cb.encodeData(chunk, false) && this.#conn !== null && !this.#upstreamPaused) {
      this.#upstreamPaused = true;
      this.#conn.readDisable(true);
    }
  }

  onUpstreamComplete(trailers: HeaderMap | null): void {
    this.#conn = null;
    this.#finishUpstream(false);
    if (this.#responseEnded) return;
    this.#responseEnded = true;
    if (trailers !== null) this.#cb.encodeTrailers(trailers);
    else this.#cb.encodeData(EMPTY, true);
  }

  onUpstreamReset(reason: UpstreamReset): void {
    this.#conn = null;
    const counted = this.#active;
    this.#finishUpstream(true);
    if (this.#responseEnded) return;
    if (counted && !this.#responseStarted) this.#cluster!.stats.upstream_rq_5xx.inc();
    const protocol = reason === UpstreamReset.ProtocolError;
    if (!this.#responseStarted) {
      this.#responseEnded = true;
      this.#cb.sendLocalReply(protocol ? LocalReplies.upstreamProtocolError : LocalReplies.upstreamReset, null);
    } else {
      this.#responseEnded = true;
      this.#cb.resetStream(protocol ? 'UPE' : 'UC');
    }
  }

  onUpstreamDrain(): void {
    if (this.#downstreamPaused) {
      this.#downstreamPaused = false;
      this.#cb.readDisable(false);
    }
  }

  onUpstreamUpgraded(socket: Socket, pending: Buffer | null): void {
    this.#conn = null;
    const headers = this.#upgradeHeaders;
    if (this.#cb.upgradeType === '' || headers === null) {
      socket.destroy();
      this.onUpstreamReset(UpstreamReset.ProtocolError);
      return;
    }
    this.#finishUpstream(false);
    this.#responseStarted = true;
    this.#responseEnded = true;
    this.#cb.upgradeTo(this.#upgradeStatus, headers, socket, pending);
  }

  // TimerTarget: the route timeout

  onTimer(_t: WheelTimer): void {
    if (this.#responseEnded) return;
    this.#cluster!.stats.upstream_rq_timeout.inc();
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) conn.abort();
    this.#finishUpstream(true);
    this.#responseEnded = true;
    if (!this.#responseStarted) {
      this.#cluster!.stats.upstream_rq_5xx.inc();
      this.#cb.sendLocalReply(LocalReplies.upstreamTimeout, null);
    } else {
      this.#cb.resetStream('UT');
    }
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

  #forward(a: ForwardActionConfig, headers: HeaderMap, endStream: boolean): void {
    const cb = this.#cb;
    const route = this.#route!;
    const name = route.clusterName ?? a.cluster;
    const cluster = name === null ? null : this.#shared.clusters.get(name);
    if (cluster === null) {
      cb.sendLocalReply(LocalReplies.clusterNotFound, null);
      return;
    }
    const ep = cluster.pick();
    if (ep === null) {
      // pick() counted upstream_cx_none_healthy.
      cb.setUpstream('', cluster.name);
      cb.sendLocalReply(LocalReplies.noHealthyUpstream, null);
      return;
    }
    this.#action = a;
    this.#cluster = cluster;
    this.#endpoint = ep;
    this.#chunked = cb.requestChunked;
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
    else if (a.autoHostRewrite && !isIpLiteral(ep.address.address)) headers.set('host', `${ep.address.address}:${ep.address.port}`);
    // Envoy's order: weighted cluster, route, virtual host, route configuration (each: remove, then add).
    const wc = route.weightedCluster;
    if (wc !== null) requestMutations(headers, wc);
    requestMutations(headers, route.route);
    requestMutations(headers, route.virtualHost);
    if (cb.routeConfig !== null) requestMutations(headers, cb.routeConfig);
    // HTTP/1.0 clients may omit Host; the upstream request is HTTP/1.1 and needs one.
    if (!headers.has('host')) headers.add('host', cb.authority !== '' ? cb.authority : ep.key);
    this.#headers = headers;
    // Accounting: the stream holds its endpoint until it ends, whatever EDS does meanwhile.
    this.#active = true;
    ep.activeRequests++;
    ep.rqTotal++;
    cluster.stats.upstream_rq_total.inc();
    cluster.stats.upstream_rq_active.inc();
    cb.setUpstream(ep.key, cluster.name);
    if (endStream) this.#endRequest();
    const conn = this.#shared.pools.newStream(cluster, ep, this);
    this.#conn = conn;
    if (conn.connected) this.onPoolReady(conn);
  }

  #endRequest(): void {
    if (this.#requestEnded) return;
    this.#requestEnded = true;
    const ms = this.#action!.timeoutMs;
    if (ms > 0 && this.#cb.upgradeType === '') this.#shared.wheel.schedule(this.#timer, ms);
  }

  #pauseDownstream(): void {
    if (this.#downstreamPaused) return;
    this.#downstreamPaused = true;
    this.#cb.readDisable(true);
  }

  #finishUpstream(error: boolean): void {
    this.#shared.wheel.cancel(this.#timer);
    if (!this.#active) return;
    this.#active = false;
    const ep = this.#endpoint!;
    ep.activeRequests--;
    if (error || this.#upstream5xx) ep.rqError++;
    this.#cluster!.stats.upstream_rq_active.dec();
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
