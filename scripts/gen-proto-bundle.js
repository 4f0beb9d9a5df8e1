#!/usr/bin/env node
// Build step (run by `npm run build` after tsc): writes dist/proto/xds-bundle.json, a protobufjs JSON root
// holding only the xDS types Tessera can meet, so the sidecar does not parse ~200 .proto files at start-up.
// Roots: every message/enum declared in src/xds/protos.ts's PROTO_FILES and their services' messages (Listener, RouteConfiguration, Cluster,
// ClusterLoadAssignment, Secret, Discovery{Request,Response}, Delta*, HttpConnectionManager, TcpProxy, Router,
// HttpProtocolOptions, ...) plus the well-known types below; then every type their fields reach. Options are
// dropped except those protobufjs encodes or Tessera reads (packed, proto3_optional, json_name, default);
// comments, services, reserved ranges and extension declarations are dropped. Field types are written fully
// qualified. Before writing, every kept type is checked against the .proto-loaded root (fields, ids, rules,
// resolved types, oneofs, enum values): any difference fails the build.
// Usage: node scripts/gen-proto-bundle.js [out.json]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { PROTO_FILES, PROTO_BUNDLE_PATH, loadProtoSources } = await import(path.join(repoRoot, 'dist/src/xds/protos.js'));
const out = process.argv[2] ? path.resolve(process.argv[2]) : PROTO_BUNDLE_PATH;

/** Types reachable only through Any or by name (google.rpc.Status is DiscoveryRequest.error_detail, already reached). */
const EXTRA_ROOTS = [
  'google.protobuf.Any',
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.Empty',
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
  'google.rpc.Status',
];
const KEEP_FIELD_OPTIONS = ['packed', 'proto3_optional', 'json_name', 'default'];

const started = Date.now();
const full = loadProtoSources();
const { Type, Enum, Service, Field, Namespace } = protobuf;

// ---- reachability -------------------------------------------------------------------------------
const keep = new Set();
function reach(t) {
  if (keep.has(t)) return;
  keep.add(t);
  if (!(t instanceof Type)) return;
  for (const f of t.fieldsArray) {
    f.resolve();
    if (f.resolvedType) reach(f.resolvedType);
  }
}
const fileSuffixes = PROTO_FILES.map((f) => `/${f}`);
function declaredInProtoFiles(o) {
  return typeof o.filename === 'string' && fileSuffixes.some((s) => o.filename.endsWith(s));
}
(function visit(ns) {
  for (const o of ns.nestedArray) {
    if ((o instanceof Type || o instanceof Enum) && o.parent instanceof Namespace && !(o.parent instanceof Type) && declaredInProtoFiles(o)) reach(o);
    if (o instanceof Service && declaredInProtoFiles(o)) {
      // ads.proto declares only the service: its methods' messages (Delta)Discovery{Request,Response} are roots.
      for (const m of o.methodsArray) {
        m.resolve();
        reach(m.resolvedRequestType);
        reach(m.resolvedResponseType);
      }
    }
    if (o instanceof Namespace && !(o instanceof Service)) visit(o);
  }
})(full);
for (const name of EXTRA_ROOTS) reach(full.lookup(name, [Type, Enum]) ?? fail(`missing root ${name}`));

function fail(msg) {
  process.stderr.write(`gen-proto-bundle: ${msg}\n`);
  process.exit(1);
}

// ---- emit -----------------------------------------------------------------------------------------
function pick(obj, keys) {
  if (!obj) return undefined;
  let o;
  for (const k of keys) if (obj[k] !== undefined) (o ??= {})[k] = obj[k];
  return o;
}

function fieldJson(f) {
  const j = { type: f.resolvedType ? f.resolvedType.fullName : f.type, id: f.id };
  if (f instanceof protobuf.MapField) j.keyType = f.keyType;
  else if (f.rule && f.rule !== 'optional') j.rule = f.rule;
  const ed = f._editionToJSON();
  if (ed) j.edition = ed;
  const opts = pick(f.options, KEEP_FIELD_OPTIONS);
  if (opts) j.options = opts;
  return j;
}

function emitNested(ns) {
  let nested;
  for (const o of ns.nestedArray) {
    const j = emit(o);
    if (j) (nested ??= {})[o.name] = j;
  }
  return nested;
}

function emit(o) {
  if (o instanceof Service || o instanceof Field) return undefined;
  if (o instanceof Enum) {
    if (!keep.has(o)) return undefined;
    const j = { values: { ...o.values } };
    const ed = o._editionToJSON();
    if (ed) j.edition = ed;
    return j;
  }
  const nested = o instanceof Namespace ? emitNested(o) : undefined;
  if (!(o instanceof Type) || !keep.has(o)) return nested ? { nested } : undefined; // a package, or a mere container
  const j = {};
  const ed = o._editionToJSON();
  if (ed) j.edition = ed;
  if (o.oneofsArray.length > 0) {
    j.oneofs = {};
    for (const one of o.oneofsArray) {
      j.oneofs[one.name] = { oneof: [...one.oneof] };
      const opts = pick(one.options, ['proto3_optional']);
      if (opts) j.oneofs[one.name].options = opts;
    }
  }
  j.fields = {};
  for (const f of o.fieldsArray) if (!f.declaringField) j.fields[f.name] = fieldJson(f);
  if (o.group) j.group = true;
  if (nested) j.nested = nested;
  return j;
}

const bundle = { nested: emitNested(full) };

// ---- check against the .proto-loaded root --------------------------------------------------------
const pruned = protobuf.Root.fromJSON(JSON.parse(JSON.stringify(bundle)));
pruned.resolveAll();
function describe(t) {
  if (t instanceof Enum) return JSON.stringify(t.values);
  return JSON.stringify({
    fields: t.fieldsArray.map((f) => [
      f.name, f.id, f.resolvedType ? '' : f.type, f.resolvedType ? f.resolvedType.fullName : '',
      f.repeated, f.map, f.keyType ?? '', f.packed, f.optional, Boolean(f.hasPresence), f.partOf ? f.partOf.name : '', (f.options ?? {}).json_name ?? '',
      String(f.typeDefault), f.long,
    ]),
    oneofs: t.oneofsArray.map((o) => [o.name, o.oneof]),
  });
}
let checked = 0;
for (const t of keep) {
  const p = pruned.lookup(t.fullName, [Type, Enum]);
  if (!p) fail(`${t.fullName} missing from the bundle`);
  for (const f of t.fieldsArray ?? []) f.resolve();
  if (describe(p) !== describe(t)) fail(`${t.fullName} differs:\n  protos ${describe(t)}\n  bundle ${describe(p)}`);
  checked++;
}

mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(bundle));
let total = 0;
(function count(ns) {
  for (const o of ns.nestedArray) {
    if (o instanceof Type || o instanceof Enum) total++;
    if (o instanceof Namespace) count(o);
  }
})(full);
process.stdout.write(`gen-proto-bundle: ${checked} of ${total} types → ${path.relative(repoRoot, out)} (${Date.now() - started} ms)\n`);
