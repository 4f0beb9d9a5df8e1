// Loads Envoy's xDS v3 protos once — from dist/proto/xds-bundle.json (pruned at build time by
// scripts/gen-proto-bundle.js) or, when that is missing (tsx, tests of the generator), from the .proto files
// shipped in @grpc/grpc-js-xds/deps — and encodes/decodes resources and Anys.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** The .proto files whose messages Tessera speaks; the bundle holds these and every type they reach. */
export const PROTO_FILES: readonly string[] = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'tessera/filters/http/api_key/v1/api_key.proto',
];

/** Where the build writes the pruned bundle: dist/proto/ next to dist/src/ (absent under tsx: src/../proto has none). */
export const PROTO_BUNDLE_PATH = fileURLToPath(new URL('../../proto/xds-bundle.json', import.meta.url));

let rootSingleton: protobuf.Root | null = null;

function includeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const xdsPkg = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  const pbPkg = path.dirname(require.resolve('protobufjs/package.json'));
  const deps = path.join(xdsPkg, 'deps');
  return [
    path.join(deps, 'envoy-api'),
    path.join(deps, 'xds'),
    path.join(deps, 'googleapis'),
    path.join(deps, 'protoc-gen-validate'),
    pbPkg, // google/protobuf/*.proto
    // Tessera's own protos, proto/ at the repository root: ../../proto from src/xds (tsx), ../../../proto from dist*/src/xds.
    fileURLToPath(new URL('../../proto', import.meta.url)),
    fileURLToPath(new URL('../../../proto', import.meta.url)),
  ];
}

/** Parses PROTO_FILES and everything they import (~130 ms, ~26 MB): the bundle generator's input and the fallback. */
export function loadProtoSources(): protobuf.Root {
  const dirs = includeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string => {
    if (path.isAbsolute(target)) return target;
    for (const d of dirs) {
      const p = path.join(d, target);
      if (existsSync(p)) return p;
    }
    return target;
  };
  root.loadSync([...PROTO_FILES], { keepCase: true });
  root.resolveAll();
  return root;
}

/** Loads a protobufjs JSON bundle written by scripts/gen-proto-bundle.js. */
export function loadProtoBundle(file: string = PROTO_BUNDLE_PATH): protobuf.Root {
  const root = protobuf.Root.fromJSON(JSON.parse(readFileSync(file, 'utf8')) as protobuf.INamespace);
  root.resolveAll();
  return root;
}

/** The protobufjs Root holding every xDS message Tessera uses (loaded on first call). */
export function xdsRoot(): protobuf.Root {
  if (rootSingleton) return rootSingleton;
  rootSingleton = existsSync(PROTO_BUNDLE_PATH) ? loadProtoBundle() : loadProtoSources();
  return rootSingleton;
}

export function lookupType(fullName: string): protobuf.Type {
  return xdsRoot().lookupType(fullName);
}

function typeForUrl(typeUrl: string): protobuf.Type {
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  return lookupType(name);
}

/** A packed google.protobuf.Any as it travels inside DiscoveryResponse. */
export interface AnyMessage {
  type_url: string;
  value: Buffer;
}

/**
 * Checks that every key of `obj` is a field of `type` (recursing into messages, maps, repeated fields and
 * Anys written as `{'@type': url, ...}`), because protobufjs' fromObject silently drops unknown keys.
 */
export function checkKeys(type: protobuf.Type, obj: unknown, where: string, errors: string[]): void {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return;
  if (type.fullName === '.google.protobuf.Any') {
    const url = (obj as Record<string, unknown>)['@type'];
    if (typeof url !== 'string') {
      if (!('type_url' in (obj as object))) errors.push(`${where}: Any without @type`);
      return;
    }
    let inner: protobuf.Type;
    try {
      inner = typeForUrl(url);
    } catch {
      errors.push(`${where}.@type: unknown type ${url}`);
      return;
    }
    const rest: Record<string, unknown> = { ...(obj as Record<string, unknown>) };
    delete rest['@type'];
    checkKeys(inner, rest, where, errors);
    return;
  }
  if (type.fullName === '.google.protobuf.Struct' || type.fullName === '.google.protobuf.Value') return;
  for (const [key, value] of Object.entries(obj as Record<string, unknown>)) {
    const field = type.fields[key];
    const p = where === '' ? key : `${where}.${key}`;
    if (!field) {
      errors.push(`${p}: unknown field of ${type.fullName.slice(1)}`);
      continue;
    }
    field.resolve();
    const rt = field.resolvedType;
    if (!(rt instanceof protobuf.Type) || value === null || value === undefined) continue;
    if (field.map) {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) checkKeys(rt, v, `${p}.${k}`, errors);
    } else if (field.repeated && Array.isArray(value)) {
      value.forEach((v, i) => checkKeys(rt, v, `${p}[${i}]`, errors));
    } else {
      checkKeys(rt, value, p, errors);
    }
  }
}

/** Encodes a plain object as the message named by `typeUrl`; throws on unknown keys or invalid values. */
export function encodeMessage(typeUrl: string, obj: object): Buffer {
  const type = typeForUrl(typeUrl);
  const errors: string[] = [];
  checkKeys(type, obj, '', errors);
  if (errors.length > 0) throw new Error(`encoding ${typeUrl}: ${errors.join('; ')}`);
  const msg = type.fromObject(obj);
  const verr = type.verify(msg);
  if (verr) throw new Error(`encoding ${typeUrl}: ${verr}`);
  return Buffer.from(type.encode(msg).finish());
}

export function packAny(typeUrl: string, obj: object): AnyMessage {
  return { type_url: typeUrl, value: encodeMessage(typeUrl, obj) };
}

const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  arrays: false,
  objects: false,
  oneofs: false,
  json: true,
};

/**
 * Decodes bytes of the message named by `typeUrl` into a plain object in proto3-JSON-like shape:
 * snake_case keys, enums as names, 64-bit ints as strings, nested Anys as `{'@type': url, ...}`,
 * fields left at their default omitted.
 */
export function decodeMessage(typeUrl: string, bytes: Uint8Array): Record<string, unknown> {
  const type = typeForUrl(typeUrl);
  const msg = type.decode(bytes);
  return type.toObject(msg, TO_OBJECT) as Record<string, unknown>;
}

export function unpackAny(any: AnyMessage): Record<string, unknown> {
  return decodeMessage(any.type_url, any.value);
}
