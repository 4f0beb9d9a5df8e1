// envoy.filters.http.fault per stream: Envoy's order — match (upstream cluster, headers), delay, then abort
// (also after the delay) — with header overrides, max_active_faults and Envoy's fault stats.
import type { Counter, Gauge, StatsStore } from '../../../../src/observability/stats.js';
import type { FaultPercentUnit } from '../../../../src/xds/resources/filters/fault.js';
import type { FaultConfig } from '../../../../src/xds/resources/types.js';
import { FilterStatus, type DecoderFilterCallbacks, type HttpFilter } from '../../../http/filter.js';
import type { HeaderMap } from '../../../http/header-map.js';
import { configuredReply, type LocalReply } from '../../../http/local-reply.js';
import { HeaderMatcher } from '../../../router/string-matcher.js';

/** Request headers a client may use to drive header_abort / header_delay faults (Envoy's names). */
export const FaultHeaders = Object.freeze({
  abortRequest: 'x-envoy-fault-abort-request',
  abortGrpcRequest: 'x-envoy-fault-abort-grpc-request',
  abortRequestPercentage: 'x-envoy-fault-abort-request-percentage',
  delayRequest: 'x-envoy-fault-delay-request',
  delayRequestPercentage: 'x-envoy-fault-delay-request-percentage',
});

/**
 * A fault abort reply. grpcStatus (grpc_status aborts, status 200 as in Envoy) is for the stream's gRPC
 * local-reply conversion; null = derive it from the HTTP status. Extends LocalReply until LocalReply has it.
 */
export interface FaultLocalReply extends LocalReply {
  readonly grpcStatus: number | null;
}

/** Envoy's fault filter stats, `http.<stat_prefix>.fault.<name>`. */
export interface FaultStats {
  readonly delays_injected: Counter;
  readonly aborts_injected: Counter;
  readonly faults_overflow: Counter;
  /** Streams with a fault in progress; shared by every fault filter with the same stat prefix (as Envoy). */
  readonly active_faults: Gauge;
}

const MILLION = 1_000_000;
const U32_MAX = 0xffff_ffff;
/** setTimeout's largest delay; beyond it Node fires after 1 ms. */
const MAX_TIMER_MS = 0x7fff_ffff;
const DEFAULT_UNIT = 10_000; // FractionalPercent HUNDRED
const ABORT_BODY = 'fault filter abort';
const ABORT_FLAG = 'FI';
const DELAY_FLAG = 'DI';
/** gRPC status codes 0..16 get cached replies; a larger header value (non-standard) is built when asked. */
const GRPC_CACHED = 17;

/**
 * Parses a header value as Envoy's SimpleAtoi into an unsigned integer: optional surrounding whitespace and
 * '+', decimal digits only, at most `max`; -1 when absent or invalid.
 */
export function parseUnsigned(s: string | undefined, max: number): number {
  if (s === undefined) return -1;
  let i = 0;
  let end = s.length;
  while (i < end && (s.charCodeAt(i) === 32 || s.charCodeAt(i) === 9)) i++;
  while (end > i && (s.charCodeAt(end - 1) === 32 || s.charCodeAt(end - 1) === 9)) end--;
  if (i < end && s.charCodeAt(i) === 43) i++; // '+'
  if (i === end || end - i > 20) return -1;
  let n = 0;
  for (; i < end; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n <= max ? n : -1;
}

function unitOf(p: object): number {
  const u = (p as Partial<FaultPercentUnit>).percentageUnit;
  return typeof u === 'number' && u > 0 ? u : DEFAULT_UNIT;
}

function faultReply(status: number, grpcStatus: number | null): FaultLocalReply {
  return Object.freeze({ ...configuredReply('TESSERA_ERR_FAULT_INJECTED', status, ABORT_BODY, ABORT_FLAG), grpcStatus });
}

/** Per-filter-chain fault state built once from the validated config: matchers, stat handles, replies, random source. */
export class FaultShared {
  readonly stats: FaultStats;
  /** upstream_cluster; null = any. */
  readonly upstreamCluster: string | null;
  /** headers (all must match); null = none configured. */
  readonly matchers: readonly HeaderMatcher[] | null;
  /** max_active_faults; -1 = unlimited. */
  readonly maxActiveFaults: number;
  readonly #random: () => number;
  // delay (delayPpm -1 = no delay configured)
  readonly #delayPpm: number;
  readonly #delayUnit: number;
  readonly #headerDelay: boolean;
  readonly #fixedDelayMs: number;
  // abort (abortPpm -1 = no abort configured)
  readonly #abortPpm: number;
  readonly #abortUnit: number;
  readonly #headerAbort: boolean;
  readonly #fixedReply: FaultLocalReply | null;
  readonly #httpReplies: (FaultLocalReply | undefined)[];
  readonly #grpcReplies: (FaultLocalReply | undefined)[];

  /** `random` returns [0, 1) like Math.random (tests inject their own). */
  constructor(config: FaultConfig, stats: StatsStore, statPrefix: string, random: () => number = Math.random) {
    const scope = `http.${statPrefix}.fault.`;
    this.stats = Object.freeze({
      delays_injected: stats.counter(`${scope}delays_injected`),
      aborts_injected: stats.counter(`${scope}aborts_injected`),
      faults_overflow: stats.counter(`${scope}faults_overflow`),
      active_faults: stats.gauge(`${scope}active_faults`),
    });
    this.upstreamCluster = config.upstreamCluster;
    this.matchers = config.headers.length > 0 ? config.headers.map((h) => new HeaderMatcher(h)) : null;
    this.maxActiveFaults = config.maxActiveFaults ?? -1;
    this.#random = random;
    const d = config.delay;
    this.#delayPpm = d === null ? -1 : d.percentage;
    this.#delayUnit = d === null ? DEFAULT_UNIT : unitOf(d);
    this.#headerDelay = d !== null && d.headerDelay;
    this.#fixedDelayMs = d === null ? 0 : Math.min(d.fixedDelayMs, MAX_TIMER_MS);
    const a = config.abort;
    this.#abortPpm = a === null ? -1 : a.percentage;
    this.#abortUnit = a === null ? DEFAULT_UNIT : unitOf(a);
    this.#headerAbort = a !== null && a.headerAbort;
    this.#httpReplies = [];
    this.#grpcReplies = [];
    this.#fixedReply =
      a === null || a.headerAbort ? null
      : a.httpStatus !== null ? this.#httpReply(a.httpStatus)
      : a.grpcStatus !== null ? this.#grpcReply(a.grpcStatus)
      : null;
  }

  /** The delay to inject for this request in ms, 0 = none (Envoy's delayDuration: percentage first, then duration). */
  delayFor(headers: HeaderMap): number {
    if (this.#delayPpm < 0) return 0;
    if (!this.#headerDelay) return this.#roll(this.#delayPpm) ? this.#fixedDelayMs : 0;
    const ppm = this.#capped(this.#delayPpm, this.#delayUnit, headers.get(FaultHeaders.delayRequestPercentage));
    if (!this.#roll(ppm)) return 0;
    const ms = parseUnsigned(headers.get(FaultHeaders.delayRequest), Number.MAX_SAFE_INTEGER);
    return ms > 0 ? Math.min(ms, MAX_TIMER_MS) : 0;
  }

  /** The abort reply for this request, or null (Envoy's abortStatus: an HTTP status wins over a gRPC one). */
  abortFor(headers: HeaderMap): FaultLocalReply | null {
    if (this.#abortPpm < 0) return null;
    if (!this.#headerAbort) return this.#roll(this.#abortPpm) ? this.#fixedReply : null;
    const ppm = this.#capped(this.#abortPpm, this.#abortUnit, headers.get(FaultHeaders.abortRequestPercentage));
    if (!this.#roll(ppm)) return null;
    const http = parseUnsigned(headers.get(FaultHeaders.abortRequest), U32_MAX);
    if (http >= 200 && http < 600) return this.#httpReply(http);
    const grpc = parseUnsigned(headers.get(FaultHeaders.abortGrpcRequest), U32_MAX);
    return grpc >= 0 ? this.#grpcReply(grpc) : null;
  }

  /** Charges one active fault unless max_active_faults is reached (then faults_overflow; Envoy's fuzzy limit). */
  tryStartFault(): boolean {
    const g = this.stats.active_faults;
    if (this.maxActiveFaults >= 0 && g.value >= this.maxActiveFaults) {
      this.stats.faults_overflow.inc();
      return false;
    }
    g.inc();
    return true;
  }

  #roll(ppm: number): boolean {
    return ppm >= MILLION || (ppm > 0 && Math.floor(this.#random() * MILLION) < ppm);
  }

  /** A percentage header's numerator, in the configured denominator, capped at the configured percentage. */
  #capped(ppm: number, unit: number, header: string | undefined): number {
    const n = parseUnsigned(header, U32_MAX);
    return n < 0 ? ppm : Math.min(n * unit, ppm);
  }

  #httpReply(status: number): FaultLocalReply {
    let r = this.#httpReplies[status];
    if (r === undefined) {
      r = faultReply(status, null);
      this.#httpReplies[status] = r;
    }
    return r;
  }

  #grpcReply(grpcStatus: number): FaultLocalReply {
    if (grpcStatus >= GRPC_CACHED) return faultReply(200, grpcStatus);
    let r = this.#grpcReplies[grpcStatus];
    if (r === undefined) {
      r = faultReply(200, grpcStatus);
      this.#grpcReplies[grpcStatus] = r;
    }
    return r;
  }
}

/** One stream's fault decision: owns its delay timer and its share of active_faults. */
export class FaultFilter implements HttpFilter {
  readonly #shared: FaultShared;
  readonly #cb: DecoderFilterCallbacks;
  /** The request headers, kept only while delaying (a header abort is decided when the delay ends). */
  #headers: HeaderMap | null;
  #timer: NodeJS.Timeout | null;
  /** This stream counts in active_faults (at most once, as Envoy). */
  #faultActive: boolean;

  constructor(shared: FaultShared, cb: DecoderFilterCallbacks) {
    this.#shared = shared;
    this.#cb = cb;
    this.#headers = null;
    this.#timer = null;
    this.#faultActive = false;
  }

  /** The timer callback: a static function with the filter as argument, so no closure is made per stream. */
  static #onDelayElapsed(filter: FaultFilter): void {
    filter.#afterDelay();
  }

  // HttpFilter

  onRequestHeaders(headers: HeaderMap, _endStream: boolean): FilterStatus {
    const s = this.#shared;
    if (s.upstreamCluster !== null && this.#cb.route?.clusterName !== s.upstreamCluster) return FilterStatus.Continue;
    const matchers = s.matchers;
    if (matchers !== null) {
      // DecoderFilterCallbacks carries method/authority/path for the pseudo-header matchers.
      for (let i = 0; i < matchers.length; i++) if (!matchers[i]!.match(headers, this.#cb)) return FilterStatus.Continue;
    }
    const delayMs = s.delayFor(headers);
    if (delayMs > 0 && this.#tryStartFault()) {
      this.#headers = headers;
      // A delay must fire at ms resolution and is rare, so a setTimeout rather than the coarse shared wheel.
      this.#timer = setTimeout(FaultFilter.#onDelayElapsed, delayMs, this);
      s.stats.delays_injected.inc();
      this.#cb.addResponseFlag(DELAY_FLAG);
      return FilterStatus.StopIteration;
    }
    const reply = s.abortFor(headers);
    if (reply !== null && this.#tryStartFault()) {
      this.#abort(reply);
      return FilterStatus.StopIteration;
    }
    return FilterStatus.Continue;
  }

  onRequestData(_chunk: Buffer, _endStream: boolean): FilterStatus {
    return this.#timer === null ? FilterStatus.Continue : FilterStatus.StopIteration;
  }

  onRequestTrailers(_trailers: HeaderMap): FilterStatus {
    return this.#timer === null ? FilterStatus.Continue : FilterStatus.StopIteration;
  }

  onResponseHeaders(_headers: HeaderMap, _endStream: boolean): FilterStatus {
    return FilterStatus.Continue;
  }

  onDownstreamDrain(): void {}

  onDestroy(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#headers = null;
    this.#endFault();
  }

  // internals

  #tryStartFault(): boolean {
    if (this.#faultActive) return true;
    if (!this.#shared.tryStartFault()) return false;
    this.#faultActive = true;
    return true;
  }

  #endFault(): void {
    if (!this.#faultActive) return;
    this.#faultActive = false;
    this.#shared.stats.active_faults.dec();
  }

  #abort(reply: FaultLocalReply): void {
    this.#shared.stats.aborts_injected.inc();
    // The reply carries flag FI; the stream records it (and answers gRPC requests with a gRPC status).
    this.#cb.sendLocalReply(reply, null);
  }

  #afterDelay(): void {
    this.#timer = null;
    const headers = this.#headers!;
    this.#headers = null;
    // Delays can be followed by aborts (the stream is still charged as one active fault).
    const reply = this.#shared.abortFor(headers);
    if (reply !== null) {
      this.#abort(reply);
      return;
    }
    // The delay is over and nothing else is injected: it no longer counts as active (Envoy).
    this.#endFault();
    this.#cb.continueDecoding();
  }
}
