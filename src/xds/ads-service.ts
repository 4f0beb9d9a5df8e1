// gRPC service definition of envoy.service.discovery.v3.AggregatedDiscoveryService, (de)serialized by the
// same protobufjs Root as the resources (one proto load per process).
import type * as grpc from '@grpc/grpc-js';
import type { AnyMessage } from './protos.js';
import { lookupType } from './protos.js';

export interface NodeMessage {
  id?: string;
  cluster?: string;
  metadata?: unknown;
  locality?: { region?: string; zone?: string; sub_zone?: string };
  user_agent_name?: string;
  user_agent_version?: string;
  client_features?: string[];
}

export interface RpcStatus {
  code?: number;
  message?: string;
}

export interface DiscoveryRequest {
  version_info: string;
  node: NodeMessage | null;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail: RpcStatus | null;
}

export interface DiscoveryResponse {
  version_info: string;
  resources: AnyMessage[];
  type_url: string;
  nonce: string;
}

export interface DeltaDiscoveryRequest {
  node: NodeMessage | null;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail: RpcStatus | null;
}

export interface DeltaResource {
  name: string;
  version: string;
  resource: AnyMessage;
}

export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: DeltaResource[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

const DECODE_OPTS = { longs: String, enums: String, defaults: true, arrays: true, objects: true, oneofs: false } as const;

function codec<T>(fullName: string): { serialize: (v: T) => Buffer; deserialize: (b: Buffer) => T } {
  let type: ReturnType<typeof lookupType> | null = null;
  const t = () => (type ??= lookupType(fullName));
  return {
    serialize: (v: T) => Buffer.from(t().encode(t().fromObject(v as object)).finish()),
    deserialize: (b: Buffer) => {
      const o = t().toObject(t().decode(b), DECODE_OPTS) as Record<string, unknown>;
      // proto3 message fields absent on the wire decode to undefined even with defaults: normalise to null.
      if (o.node === undefined) o.node = null;
      if (o.error_detail === undefined) o.error_detail = null;
      return o as T;
    },
  };
}

const PKG = 'envoy.service.discovery.v3';
const SVC = `/${PKG}.AggregatedDiscoveryService`;

function method<Req, Res>(name: string, reqType: string, resType: string) {
  const req = codec<Req>(`${PKG}.${reqType}`);
  const res = codec<Res>(`${PKG}.${resType}`);
  return {
    path: `${SVC}/${name}`,
    requestStream: true,
    responseStream: true,
    requestSerialize: req.serialize,
    requestDeserialize: req.deserialize,
    responseSerialize: res.serialize,
    responseDeserialize: res.deserialize,
    originalName: name,
  };
}

/** Usable with `server.addService(adsServiceDefinition(), impl)` and `grpc.makeGenericClientConstructor`. */
export function adsServiceDefinition(): grpc.ServiceDefinition {
  return {
    StreamAggregatedResources: method<DiscoveryRequest, DiscoveryResponse>(
      'StreamAggregatedResources',
      'DiscoveryRequest',
      'DiscoveryResponse',
    ),
    DeltaAggregatedResources: method<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(
      'DeltaAggregatedResources',
      'DeltaDiscoveryRequest',
      'DeltaDiscoveryResponse',
    ),
  } as unknown as grpc.ServiceDefinition;
}
