// Lifecycle shared by SotW and delta ADS streams: call events, node identification, watches, push scheduling, status, ACK/NACK records.
import * as grpc from '@grpc/grpc-js';
import type { NodeMessage, RpcStatus } from '../../src/xds/ads-service.js';
import { type ProxyStatus, type StreamContext, type XdsMode, type XdsStream, orderTypeUrls } from './stream-context.js';

/** The request fields both ADS protocols carry. */
export interface XdsRequest {
  readonly node: NodeMessage | null;
  readonly type_url: string;
  readonly response_nonce: string;
  readonly error_detail: RpcStatus | null;
}

/** Per type URL state both protocols keep and report in status(). */
export class XdsWatch {
  wildcard = false;
  names = new Set<string>();
  lastSentVersion: string | null = null;
  lastSentNonce: string | null = null;
  lastAckedVersion: string | null = null;
  nacked = false;
  lastError: string | null = null;

  constructor(readonly typeUrl: string) {}
}

const NO_TYPE_URL: Record<XdsMode, string> = {
  sotw: 'xDS request without type_url ignored',
  delta: 'xDS delta request without type_url ignored',
};

/**
 * Owns one ADS stream's call and node watch: identifies the node from the first request, keeps one watch per
 * type URL, merges change notifications into one push of every type in XDS order, and releases everything once.
 */
export abstract class XdsStreamBase<Req extends XdsRequest, Res, W extends XdsWatch> implements XdsStream {
  protected readonly call: grpc.ServerDuplexStream<Req, Res>;
  protected readonly ctx: StreamContext;
  protected readonly watches = new Map<string, W>();
  readonly #mode: XdsMode;
  readonly #connectedAt = new Date().toISOString();
  #nodeId: string | null = null;
  /** The node id the stream's bootstrap token names; null when the server does not authenticate. */
  #expectedNodeId: string | null = null;
  #unwatch: (() => void) | null = null;
  #pushScheduled: NodeJS.Immediate | null = null;
  #closed = false;
  readonly #onData = (req: Req): void => this.#receive(req);
  readonly #onEnd = (): void => this.close();
  readonly #onError = (): void => this.#release();
  readonly #onChange = (): void => this.#schedulePush();
  readonly #pushAll = (): void => {
    this.#pushScheduled = null;
    for (const url of orderTypeUrls(this.watches.keys())) this.push(this.watches.get(url)!, false);
  };

  constructor(readonly id: number, call: grpc.ServerDuplexStream<Req, Res>, ctx: StreamContext, mode: XdsMode) {
    this.call = call;
    this.ctx = ctx;
    this.#mode = mode;
    call.on('data', this.#onData);
    call.on('end', this.#onEnd);
    call.on('error', this.#onError);
    call.on('cancelled', this.#onError);
  }

  /** A new watch for `typeUrl`, created by the first request of that type. */
  protected abstract newWatch(typeUrl: string, req: Req): W;

  /** Applies a request of `w`'s type; `first` when it created `w`. */
  protected abstract handle(req: Req, w: W, first: boolean): void;

  /** Sends `w`'s type if the client's view of it is out of date (or, where the protocol allows, `force`). */
  protected abstract push(w: W, force: boolean): void;

  protected get closed(): boolean {
    return this.#closed;
  }

  /** null until the first request; '' when the client sent no node. */
  protected get nodeId(): string | null {
    return this.#nodeId;
  }

  // XdsStream
  status(): ProxyStatus {
    return {
      streamId: this.id,
      nodeId: this.#nodeId ?? '',
      mode: this.#mode,
      connectedAt: this.#connectedAt,
      types: orderTypeUrls(this.watches.keys()).map((url) => {
        const w = this.watches.get(url)!;
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

  /** Only `nodeId` may use this stream (set before the first request when the server authenticates tokens). */
  expectNode(nodeId: string): void {
    this.#expectedNodeId = nodeId;
  }

  close(): void {
    if (this.#closed) return;
    this.#release();
    this.call.end();
  }

  /** Records an ACK of `w` at `version`. */
  protected recordAck(w: W, version: string | null): void {
    w.lastAckedVersion = version;
    w.nacked = false;
    this.ctx.stats.ackTotal.inc();
  }

  /** Records a NACK of `w`'s last response: watch status, stat, the NACK log and a warning. */
  protected recordNack(w: W, req: Req): void {
    const reason = req.error_detail?.message ?? '';
    w.nacked = true;
    w.lastError = reason;
    this.ctx.stats.nackTotal.inc();
    const version = w.lastSentVersion ?? '';
    this.ctx.nacks.add({
      nodeId: this.#nodeId ?? '',
      typeUrl: w.typeUrl,
      version,
      nonce: req.response_nonce,
      reason,
      time: new Date().toISOString(),
    });
    this.ctx.logger.warn(
      { node_id: this.#nodeId, stream_id: this.id, type_url: w.typeUrl, version, reason, err_code: 'TESSERA_ERR_XDS_NACK' },
      'xDS NACK',
    );
  }

  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pushScheduled) clearImmediate(this.#pushScheduled);
    this.#pushScheduled = null;
    this.#unwatch?.();
    this.#unwatch = null;
    this.ctx.onStreamClosed(this);
  }

  #receive(req: Req): void {
    if (this.#closed) return;
    if (this.#nodeId === null) {
      const claimed = req.node?.id ?? '';
      if (this.#expectedNodeId !== null && claimed !== this.#expectedNodeId) {
        this.ctx.logger.warn(
          { err_code: 'TESSERA_ERR_XDS_PERMISSION_DENIED', node_id: claimed, token_node_id: this.#expectedNodeId, stream_id: this.id },
          'xDS stream refused: the node id is not the one its bootstrap token names',
        );
        this.#release();
        this.call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: `node "${claimed}" is not the node the bootstrap token names` });
        return;
      }
      this.#nodeId = claimed;
      this.#unwatch = this.ctx.watcher.onChange(this.#nodeId, this.#onChange);
      this.ctx.logger.info({ node_id: this.#nodeId, stream_id: this.id, mode: this.#mode }, 'xDS stream opened');
    }
    const typeUrl = req.type_url;
    if (!typeUrl) {
      this.ctx.logger.warn({ node_id: this.#nodeId, stream_id: this.id }, NO_TYPE_URL[this.#mode]);
      return;
    }
    let w = this.watches.get(typeUrl);
    const first = w === undefined;
    if (!w) {
      w = this.newWatch(typeUrl, req);
      this.watches.set(typeUrl, w);
    }
    this.handle(req, w, first);
  }

  #schedulePush(): void {
    if (this.#closed || this.#pushScheduled) return;
    this.#pushScheduled = setImmediate(this.#pushAll);
  }
}
