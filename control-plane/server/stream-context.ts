// What SotW and delta ADS streams share: status shapes, the NACK ring, stat handles and subscription rules.
import type { Logger } from '../../src/observability/logger.js';
import type { Counter, Gauge, StatsStore } from '../../src/observability/stats.js';
import { XDS_ORDER } from '../../src/xds/type-urls.js';
import type { ConfigWatcher } from '../snapshot/config-watcher.js';

export type XdsMode = 'sotw' | 'delta';

export interface TypeStatus {
  readonly typeUrl: string;
  readonly wildcard: boolean;
  /** Explicitly subscribed names, sorted. */
  readonly names: readonly string[];
  readonly lastSentVersion: string | null;
  readonly lastSentNonce: string | null;
  readonly lastAckedVersion: string | null;
  /** True from a NACK until the next ACK of this type. */
  readonly nacked: boolean;
  readonly lastError: string | null;
}

export interface ProxyStatus {
  readonly streamId: number;
  /** '' when the client sent no node. */
  readonly nodeId: string;
  readonly mode: XdsMode;
  readonly connectedAt: string;
  readonly types: readonly TypeStatus[];
}

export interface NackRecord {
  readonly nodeId: string;
  readonly typeUrl: string;
  /** The version the client rejected. */
  readonly version: string;
  readonly nonce: string;
  readonly reason: string;
  readonly time: string;
}

/** Keeps the most recent NACKs in a fixed-size ring. */
export class NackLog {
  readonly #ring: (NackRecord | null)[];
  #next = 0;
  #size = 0;

  constructor(readonly capacity = 128) {
    this.#ring = new Array<NackRecord | null>(capacity).fill(null);
  }

  add(r: NackRecord): void {
    this.#ring[this.#next] = r;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size++;
  }

  /** Oldest first. */
  list(): NackRecord[] {
    const out: NackRecord[] = [];
    const start = (this.#next - this.#size + this.capacity) % this.capacity;
    for (let i = 0; i < this.#size; i++) out.push(this.#ring[(start + i) % this.capacity]!);
    return out;
  }
}

/** Stat handles of the ADS server, resolved once. */
export interface XdsStats {
  readonly connectedProxies: Gauge;
  readonly pushTotal: Counter;
  readonly ackTotal: Counter;
  readonly nackTotal: Counter;
  readonly staleNonceTotal: Counter;
  /** Streams refused for a missing or invalid bootstrap token. */
  readonly rejectedStreams: Counter;
}

export function resolveXdsStats(stats: StatsStore): XdsStats {
  return {
    connectedProxies: stats.gauge('xds.connected_proxies'),
    pushTotal: stats.counter('xds.push_total'),
    ackTotal: stats.counter('xds.ack_total'),
    nackTotal: stats.counter('xds.nack_total'),
    staleNonceTotal: stats.counter('xds.stale_nonce_total'),
    rejectedStreams: stats.counter('xds.unauthenticated_stream_total'),
  };
}

/** Everything a stream needs from its server. */
export interface StreamContext {
  readonly watcher: ConfigWatcher;
  readonly logger: Logger;
  readonly stats: XdsStats;
  readonly nacks: NackLog;
  nextNonce(): string;
  /** Called once when the stream is gone (client ended or cancelled, or server closed it). */
  onStreamClosed(stream: XdsStream): void;
}

/** One open ADS stream as the server sees it. */
export interface XdsStream {
  readonly id: number;
  status(): ProxyStatus;
  /** Ends the stream with status OK and releases its watch. */
  close(): void;
}

/** Type URLs in push order: XDS_ORDER first (CDS, EDS, LDS, RDS, SDS), then any other, sorted. */
export function orderTypeUrls(urls: Iterable<string>): string[] {
  const set = new Set(urls);
  const known = XDS_ORDER.filter((u) => set.has(u));
  const rest = [...set].filter((u) => !(XDS_ORDER as readonly string[]).includes(u)).sort();
  return [...known, ...rest];
}

export function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
