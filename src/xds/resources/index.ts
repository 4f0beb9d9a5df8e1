// Entry point of the resource validators: decodes a packed Any and dispatches to its type's validator.
import { err, ok, type Result } from '../../core/result.js';
import { decodeMessage, type AnyMessage } from '../protos.js';
import { TypeUrl, messageName } from '../type-urls.js';
import { validateCluster } from './cluster.js';
import { validateClusterLoadAssignment } from './endpoint.js';
import { validateListener } from './listener.js';
import { validateRouteConfiguration } from './route.js';
import { validateSecret } from './tls.js';
import type { Obj } from './common.js';

export { validateCluster } from './cluster.js';
export { validateClusterLoadAssignment } from './endpoint.js';
export { validateListener } from './listener.js';
export { validateRouteConfiguration } from './route.js';
export { validateSecret } from './tls.js';
export { compileRegex, jsonToStruct, structToJson, NOT_SUPPORTED } from './common.js';

type Validator = (raw: Obj) => Result<{ readonly raw: unknown }>;

const VALIDATORS: Readonly<Record<string, Validator>> = {
  [TypeUrl.Listener]: validateListener,
  [TypeUrl.RouteConfiguration]: validateRouteConfiguration,
  [TypeUrl.Cluster]: validateCluster,
  [TypeUrl.ClusterLoadAssignment]: validateClusterLoadAssignment,
  [TypeUrl.Secret]: validateSecret,
};

/** The name of a decoded resource (`cluster_name` for a ClusterLoadAssignment), '' when absent. */
export function resourceName(typeUrl: string, raw: Obj): string {
  const v = typeUrl === TypeUrl.ClusterLoadAssignment ? raw.cluster_name : raw.name;
  return typeof v === 'string' ? v : '';
}

/** A decoded but not yet validated resource: its name and decoded object, or why it could not be decoded. */
export type DecodedResource = { readonly name: string; readonly raw: Obj } | { readonly name: null; readonly error: string };

export function decodeRaw(typeUrl: string, any: AnyMessage): DecodedResource {
  if (any.type_url !== typeUrl) return { name: null, error: `resource type ${any.type_url} in a ${messageName(typeUrl)} response` };
  try {
    const raw = decodeMessage(typeUrl, any.value);
    return { name: resourceName(typeUrl, raw), raw };
  } catch (e) {
    return { name: null, error: `cannot decode ${messageName(typeUrl)}: ${(e as Error).message}` };
  }
}

/** Validates a decoded resource of `typeUrl`; errors carry field paths relative to the resource. */
export function validateResource(typeUrl: string, raw: Obj): Result<unknown> {
  const v = VALIDATORS[typeUrl];
  if (!v) return err(`resource type ${typeUrl} is not supported by Tessera`);
  return v(raw);
}

/**
 * Decodes and validates one packed resource. Errors name the resource: `Cluster "api": connect_timeout: ...`.
 */
export function decodeResource(typeUrl: string, any: AnyMessage): Result<{ name: string; config: unknown }> {
  const d = decodeRaw(typeUrl, any);
  if (d.name === null) return err(d.error);
  const kind = messageName(typeUrl).split('.').pop()!;
  if (d.name === '') return err(`${kind} without a name`);
  const r = validateResource(typeUrl, d.raw);
  if (!r.ok) return err(r.errors.map((e) => `${kind} "${d.name}": ${e}`));
  return ok({ name: d.name, config: r.value });
}
