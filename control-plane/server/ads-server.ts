// State-of-the-world ADS (StreamAggregatedResources): one stream's subscriptions, nonces, versions and ACK/NACK.
import type * as grpc from '@grpc/grpc-js';
import type { DiscoveryRequest, DiscoveryResponse } from '../../src/xds/ads-service.js';
import type { SnapshotResource } from '../snapshot/snapshot.js';
import { type ProxyStatus, type StreamContext, type XdsStream, orderTypeUrls, sameSet } from './stream-context.js';

export type SotwCall = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

/** Per type URL watch of a SotW stream. */
class SotwWatch {
  wildcard = false;
  names = new Set<string>();
  lastSentVersion: string | null = null;
  lastSentNonce: string | null = null;
  /** Names and versions of the last response, to skip unchanged pushes. */
  lastSentContent: string | null = null;
  lastAckedVersion: string | null = null;
  nacked = false;
  lastError: string | null = null;
  /** Content the client NACKed: not sent again (even on a subscription change) while the type's version is heldVersion. */
  heldContent: string | null = null;
  heldVersion: string | null = null;

  constructor(readonly typeUrl: string) {}
}

/** Serves one SotW ADS stream from the ConfigWatcher: responds to requests and pushes snapshot changes in XDS order. */
export class SotwStream implements XdsStream {
  readonly #call: SotwCall;
  readonly #ctx: StreamContext;
  readonly #watches = new Map<string, SotwWatch>();
  readonly #connectedAt = new Date().toISOString();
  #nodeId: string | null = null;
  #unwatch: (() => void) | null = null;
  #pushScheduled: NodeJS.Immediate | null = null;
  #closed = false;
  readonly #onData = (req: DiscoveryRequest): void => this.#handle(req);
  readonly #onEnd = (): void => this.close();
  readonly #onError = (): void => this.#release();
  readonly #onChange = (): void => this.#schedulePush();
  readonly #pushAll = (): void => {
    this.#pushScheduled = null;
    for (const url of orderTypeUrls(this.#watches.keys())) this.#push(this.#watches.get(url)!, false);
  };

  constructor(readonly id: number, call: SotwCall, ctx: StreamContext) {
    this.#call = call;
    this.#ctx = ctx;
    call.on('data', this.#onData);
    call.on('end', this.#onEnd);
    call.on('error', this.#onError);
    call.on('cancelled', this.#onError);
  }

  // XdsStream
  status(): ProxyStatus {
    return {
      streamId: this.id,
      nodeId: this.#nodeId ?? '',
      mode: 'sotw',
      connectedAt: this.#connectedAt,
      types: orderTypeUrls(this.#watches.keys()).map((url) => {
        const w = this.#watches.get(url)!;
        return {
          typeUrl: url,
          wildcard: w.wildcard,
          names: [...w.names].sort(),
          lastSentVersion: w.lastSentVersion,
          lastSentNonce: w.lastSentNonce,
          lastAckedVersion: w.lastAckedVersion,
          nacked: w.nacked,
          lastError: w.lastError,
        };
      }),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#release();
    this.#call.end();
  }

  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pushScheduled) clearImmediate(this.#pushScheduled);
    this.#pushScheduled = null;
    this.#unwatch?.();
    this.#unwatch = null;
    this.#ctx.onStreamClosed(this);
  }

  #handle(req: DiscoveryRequest): void {
    if (this.#closed) return;
    if (this.#nodeId === null) {
      this.#nodeId = req.node?.id ?? '';
      this.#unwatch = this.#ctx.watcher.onChange(this.#nodeId, this.#onChange);
      this.#ctx.logger.info({ node_id: this.#nodeId, stream_id: this.id, mode: 'sotw' }, 'xDS stream opened');
    }
    const typeUrl = req.type_url;
    if (!typeUrl) {
      this.#ctx.logger.warn({ node_id: this.#nodeId, stream_id: this.id }, 'xDS request without type_url ignored');
      return;
    }
    let w = this.#watches.get(typeUrl);
    const first = w === undefined;
    if (!w) {
      w = new SotwWatch(typeUrl);
      this.#watches.set(typeUrl, w);
    } else if (req.response_nonce !== '') {
      if (req.response_nonce !== w.lastSentNonce) {
        this.#ctx.stats.staleNonceTotal.inc();
        return;
      }
      if (req.error_detail) this.#nack(w, req);
      else this.#ack(w, req);
    }
    const changed = this.#subscribe(w, req.resource_names, first);
    if (first || changed) this.#push(w, true);
  }

  #ack(w: SotwWatch, req: DiscoveryRequest): void {
    w.lastAckedVersion = req.version_info;
    w.nacked = false;
    this.#ctx.stats.ackTotal.inc();
  }

  #nack(w: SotwWatch, req: DiscoveryRequest): void {
    const reason = req.error_detail?.message ?? '';
    w.nacked = true;
    w.lastError = reason;
    w.heldContent = w.lastSentContent;
    w.heldVersion = w.lastSentVersion;
    this.#ctx.stats.nackTotal.inc();
    const version = w.lastSentVersion ?? '';
    this.#ctx.nacks.add({
      nodeId: this.#nodeId ?? '',
      typeUrl: w.typeUrl,
      version,
      nonce: req.response_nonce,
      reason,
      time: new Date().toISOString(),
    });
    this.#ctx.logger.warn(
      { node_id: this.#nodeId, stream_id: this.id, type_url: w.typeUrl, version, reason, err_code: 'TESSERA_ERR_XDS_NACK' },
      'xDS NACK',
    );
  }

  /**
   * Applies resource_names: the first request with none (or '*') is a wildcard; later, none keeps a legacy
   * wildcard but unsubscribes everything after a named subscription. Returns whether anything changed.
   */
  #subscribe(w: SotwWatch, resourceNames: readonly string[], first: boolean): boolean {
    const star = resourceNames.includes('*');
    const wildcard = first
      ? resourceNames.length === 0 || star
      : star || (resourceNames.length === 0 && w.wildcard && w.names.size === 0);
    const names = new Set(resourceNames.filter((n) => n !== '*'));
    const changed = wildcard !== w.wildcard || !sameSet(names, w.names);
    w.wildcard = wildcard;
    w.names = names;
    return changed;
  }

  #schedulePush(): void {
    if (this.#closed || this.#pushScheduled) return;
    this.#pushScheduled = setImmediate(this.#pushAll);
  }

  /** Sends `w`'s type if its content changed (or `force`), unless the client NACKed exactly that content. */
  #push(w: SotwWatch, force: boolean): void {
    if (this.#closed || this.#nodeId === null) return;
    if (!w.wildcard && w.names.size === 0) return;
    const snapshot = this.#ctx.watcher.get(this.#nodeId);
    if (!snapshot) return;
    const all = snapshot.resources(w.typeUrl);
    const version = snapshot.version(w.typeUrl);
    let selected: SnapshotResource[];
    let content: string;
    if (w.wildcard) {
      selected = [...all.values()];
      content = `*${version}`;
    } else {
      selected = [];
      const parts: string[] = [];
      for (const n of [...w.names].sort()) {
        const r = all.get(n);
        if (r) {
          selected.push(r);
          parts.push(`${n}@${r.version}`);
        }
      }
      content = parts.join(',');
    }
    if (w.heldContent !== null && version !== w.heldVersion) {
      w.heldContent = null;
      w.heldVersion = null;
    }
    if (content === w.heldContent) return;
    if (!force && content === w.lastSentContent) return;
    const nonce = this.#ctx.nextNonce();
    this.#call.write({ version_info: version, resources: selected.map((r) => r.any), type_url: w.typeUrl, nonce });
    w.lastSentVersion = version;
    w.lastSentNonce = nonce;
    w.lastSentContent = content;
    this.#ctx.stats.pushTotal.inc();
    if (this.#ctx.logger.isLevelEnabled('debug')) {
      this.#ctx.logger.debug(
        { node_id: this.#nodeId, stream_id: this.id, type_url: w.typeUrl, version, nonce, count: selected.length },
        'xDS push',
      );
    }
  }
}
