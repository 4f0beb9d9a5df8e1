// Test ADS client (raw grpc-js over adsServiceDefinition) with promise-based responses, plus hand-built xDS resources.
import * as grpc from '@grpc/grpc-js';
import {
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
  adsServiceDefinition,
} from '../../src/xds/ads-service.js';
import { TypeUrl } from '../../src/xds/type-urls.js';

type Duplex<Req, Res> = grpc.ClientDuplexStream<Req, Res>;

/** One client-side ADS stream; queues responses so `next()` never misses one. */
export class AdsTestStream<Req, Res> {
  readonly #call: Duplex<Req, Res>;
  readonly #queue: Res[] = [];
  readonly #waiters: Array<{ resolve: (r: Res) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  #ended: Error | null = null;
  readonly done: Promise<grpc.StatusObject | Error>;

  constructor(call: Duplex<Req, Res>, readonly node: { id: string }) {
    this.#call = call;
    call.on('data', (r: Res) => {
      const w = this.#waiters.shift();
      if (w) {
        clearTimeout(w.timer);
        w.resolve(r);
      } else this.#queue.push(r);
    });
    this.done = new Promise((resolve) => {
      call.on('status', (s: grpc.StatusObject) => {
        this.#fail(new Error(`stream ended: ${s.code} ${s.details}`));
        resolve(s);
      });
      call.on('error', (e: Error) => {
        this.#fail(e);
        resolve(e);
      });
    });
  }

  /** The next response, waiting up to `timeoutMs`. */
  next(timeoutMs = 2000): Promise<Res> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#ended) return Promise.reject(this.#ended);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.findIndex((w) => w.timer === timer);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push({ resolve, reject, timer });
    });
  }

  /** Resolves when no response arrives within `ms`; rejects with the response otherwise. */
  async expectNone(ms = 150): Promise<void> {
    let got: Res;
    try {
      got = await this.next(ms);
    } catch {
      return;
    }
    throw new Error(`unexpected response: ${JSON.stringify(summarize(got))}`);
  }

  /** Number of responses received and not yet taken. */
  pending(): number {
    return this.#queue.length;
  }

  write(req: Req): void {
    this.#call.write(req);
  }

  /** Half-closes the stream. */
  end(): void {
    this.#call.end();
  }

  cancel(): void {
    this.#call.cancel();
  }

  #fail(e: Error): void {
    this.#ended ??= e;
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(e);
    }
  }
}

function summarize(r: unknown): unknown {
  const o = r as Record<string, unknown>;
  return { type_url: o.type_url, nonce: o.nonce, count: Array.isArray(o.resources) ? o.resources.length : undefined };
}

/** A SotW stream with request builders filling every field. */
export class SotwTestStream extends AdsTestStream<DiscoveryRequest, DiscoveryResponse> {
  request(typeUrl: string, names: string[] = [], opts: { version?: string; nonce?: string; error?: string } = {}): void {
    this.write({
      version_info: opts.version ?? '',
      node: { id: this.node.id, locality: {} },
      resource_names: names,
      type_url: typeUrl,
      response_nonce: opts.nonce ?? '',
      error_detail: opts.error === undefined ? null : { code: 3, message: opts.error },
    });
  }

  ack(res: DiscoveryResponse, names: string[] = []): void {
    this.request(res.type_url, names, { version: res.version_info, nonce: res.nonce });
  }

  nack(res: DiscoveryResponse, error: string, names: string[] = [], acceptedVersion = ''): void {
    this.request(res.type_url, names, { version: acceptedVersion, nonce: res.nonce, error });
  }
}

/** A delta stream with request builders filling every field. */
export class DeltaTestStream extends AdsTestStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  request(
    typeUrl: string,
    opts: { subscribe?: string[]; unsubscribe?: string[]; initial?: Record<string, string>; nonce?: string; error?: string } = {},
  ): void {
    this.write({
      node: { id: this.node.id, locality: {} },
      type_url: typeUrl,
      resource_names_subscribe: opts.subscribe ?? [],
      resource_names_unsubscribe: opts.unsubscribe ?? [],
      initial_resource_versions: opts.initial ?? {},
      response_nonce: opts.nonce ?? '',
      error_detail: opts.error === undefined ? null : { code: 3, message: opts.error },
    });
  }

  ack(res: DeltaDiscoveryResponse): void {
    this.request(res.type_url, { nonce: res.nonce });
  }

  nack(res: DeltaDiscoveryResponse, error: string): void {
    this.request(res.type_url, { nonce: res.nonce, error });
  }
}

type AdsClient = grpc.Client & {
  StreamAggregatedResources(): Duplex<DiscoveryRequest, DiscoveryResponse>;
  DeltaAggregatedResources(): Duplex<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
};

/** A raw gRPC client of envoy.service.discovery.v3.AggregatedDiscoveryService on 127.0.0.1. */
export class AdsTestClient {
  readonly #client: AdsClient;

  constructor(port: number, host = '127.0.0.1') {
    const Ctor = grpc.makeGenericClientConstructor(adsServiceDefinition(), 'AggregatedDiscoveryService');
    this.#client = new Ctor(`${host}:${port}`, grpc.credentials.createInsecure()) as unknown as AdsClient;
  }

  sotw(nodeId: string): SotwTestStream {
    return new SotwTestStream(this.#client.StreamAggregatedResources(), { id: nodeId });
  }

  delta(nodeId: string): DeltaTestStream {
    return new DeltaTestStream(this.#client.DeltaAggregatedResources(), { id: nodeId });
  }

  close(): void {
    this.#client.close();
  }
}

// ---------- hand-built Envoy resources (plain objects for packAny) ----------

export function edsCluster(name: string, serviceName?: string): Record<string, unknown> {
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} }, ...(serviceName ? { service_name: serviceName } : {}) },
    lb_policy: 'ROUND_ROBIN',
    connect_timeout: { seconds: 1 },
  };
}

export function loadAssignment(clusterName: string, endpoints: Array<[string, number]>): Record<string, unknown> {
  return {
    cluster_name: clusterName,
    endpoints: [
      {
        locality: { region: 'local' },
        load_balancing_weight: { value: 1 },
        lb_endpoints: endpoints.map(([address, port]) => ({
          endpoint: { address: { socket_address: { address, port_value: port } } },
          load_balancing_weight: { value: 1 },
        })),
      },
    ],
  };
}

/** A Listener with an api_listener (proxyless gRPC) whose HttpConnectionManager uses RDS `routeName`. */
export function apiListener(name: string, routeName: string): Record<string, unknown> {
  return {
    name,
    api_listener: {
      api_listener: {
        '@type': TypeUrl.HttpConnectionManager,
        stat_prefix: name,
        rds: { route_config_name: routeName, config_source: { ads: {} } },
        http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TypeUrl.Router } }],
      },
    },
  };
}

/** A Listener bound to 127.0.0.1:`port` with one HCM filter chain using RDS `routeName`. */
export function socketListener(name: string, port: number, routeName: string): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': TypeUrl.HttpConnectionManager,
              stat_prefix: name,
              rds: { route_config_name: routeName, config_source: { ads: {} } },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TypeUrl.Router } }],
            },
          },
        ],
      },
    ],
  };
}

export function routeConfig(name: string, cluster: string, domains: string[] = ['*']): Record<string, unknown> {
  return {
    name,
    virtual_hosts: [{ name: `${name}-vh`, domains, routes: [{ match: { prefix: '' }, route: { cluster } }] }],
  };
}
