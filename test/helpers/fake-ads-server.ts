// A scripted ADS server for tests: records every (delta) DiscoveryRequest and lets the test push responses.
import * as grpc from '@grpc/grpc-js';
import {
  adsServiceDefinition,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
} from '../../src/xds/ads-service.js';
import { packAny } from '../../src/xds/protos.js';

export type RecordedRequest =
  | { readonly kind: 'sotw'; readonly req: DiscoveryRequest }
  | { readonly kind: 'delta'; readonly req: DeltaDiscoveryRequest };

type Stream = grpc.ServerDuplexStream<unknown, unknown>;

/** Owns one grpc.Server on 127.0.0.1 and its open ADS streams. */
export class FakeAdsServer {
  readonly requests: RecordedRequest[] = [];
  readonly #server: grpc.Server;
  readonly #streams = new Set<{ kind: 'sotw' | 'delta'; call: Stream }>();
  readonly #waiters = new Set<() => void>();
  #nonce = 0;

  private constructor(
    server: grpc.Server,
    readonly port: number,
  ) {
    this.#server = server;
  }

  /** Starts on 127.0.0.1:`port` (0 = any free port). */
  static async start(port = 0): Promise<FakeAdsServer> {
    const server = new grpc.Server();
    let self: FakeAdsServer | null = null;
    const handler = (kind: 'sotw' | 'delta') => (call: Stream) => {
      const entry = { kind, call };
      self!.#streams.add(entry);
      call.on('data', (req: DiscoveryRequest | DeltaDiscoveryRequest) => {
        self!.requests.push(kind === 'sotw' ? { kind, req: req as DiscoveryRequest } : { kind, req: req as DeltaDiscoveryRequest });
        for (const w of [...self!.#waiters]) w();
      });
      const drop = () => self!.#streams.delete(entry);
      call.on('end', () => {
        drop();
        call.end();
      });
      call.on('error', drop);
      call.on('cancelled', drop);
    };
    server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: handler('sotw'),
      DeltaAggregatedResources: handler('delta'),
    });
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)));
    });
    self = new FakeAdsServer(server, bound);
    return self;
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  /** Resolves with the first recorded request at index ≥ `from` satisfying `pred`; rejects after `timeoutMs`. */
  waitForRequest<T extends RecordedRequest>(pred: (r: RecordedRequest) => r is T, from?: number, timeoutMs?: number): Promise<T>;
  waitForRequest(pred: (r: RecordedRequest) => boolean, from?: number, timeoutMs?: number): Promise<RecordedRequest>;
  waitForRequest(pred: (r: RecordedRequest) => boolean, from = 0, timeoutMs = 5000): Promise<RecordedRequest> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        for (let i = from; i < this.requests.length; i++) {
          if (pred(this.requests[i]!)) {
            this.#waiters.delete(waiter);
            clearTimeout(timer);
            resolve(this.requests[i]!);
            return true;
          }
        }
        return false;
      };
      const waiter = () => void check();
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`no matching xDS request within ${timeoutMs} ms; got ${JSON.stringify(this.requests.slice(from))}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
      check();
    });
  }

  /** Pushes a SotW response (resources as plain objects of `typeUrl`) on every open SotW stream; returns its nonce. */
  pushSotw(typeUrl: string, version: string, resources: readonly object[]): string {
    const nonce = `n${++this.#nonce}`;
    const res: DiscoveryResponse = { version_info: version, type_url: typeUrl, nonce, resources: resources.map((r) => packAny(typeUrl, r)) };
    for (const s of this.#streams) if (s.kind === 'sotw') s.call.write(res);
    return nonce;
  }

  /** Pushes a delta response on every open delta stream; `resources` are [name, version, object]; returns its nonce. */
  pushDelta(typeUrl: string, resources: readonly (readonly [string, string, object])[], removed: readonly string[] = [], systemVersion = ''): string {
    const nonce = `n${++this.#nonce}`;
    const res: DeltaDiscoveryResponse = {
      system_version_info: systemVersion,
      type_url: typeUrl,
      nonce,
      removed_resources: [...removed],
      resources: resources.map(([name, version, r]) => ({ name, version, resource: packAny(typeUrl, r) })),
    };
    for (const s of this.#streams) if (s.kind === 'delta') s.call.write(res);
    return nonce;
  }

  /** Kills the server and every stream at once (as a crashed control plane would). */
  async close(): Promise<void> {
    this.#server.forceShutdown();
    this.#streams.clear();
  }
}
