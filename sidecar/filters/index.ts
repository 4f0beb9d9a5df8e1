// The HTTP filter registry: every filter extension the sidecar has, by typed_config type URL (STYLE §2).
import type { HttpFilterFactory } from '../http/filter.js';
import { apiKeyFilterFactory } from './http/api-key/config.js';
import { faultFilterFactory } from './http/fault/config.js';
import { jwtAuthnFilterFactory } from './http/jwt-authn/config.js';
import { rbacFilterFactory } from './http/rbac/config.js';

/** Builds a registry from `factories`; a name or type URL listed twice is a programmer error and throws. */
export function buildRegistry(factories: readonly HttpFilterFactory[]): ReadonlyMap<string, HttpFilterFactory> {
  const byType = new Map<string, HttpFilterFactory>();
  const names = new Set<string>();
  for (const f of factories) {
    if (names.has(f.name)) throw new Error(`HTTP filter ${f.name} registered twice`);
    if (byType.has(f.typeUrl)) throw new Error(`HTTP filter type ${f.typeUrl} registered twice (${f.name})`);
    names.add(f.name);
    byType.set(f.typeUrl, f);
  }
  return byType;
}

/** Registers every HTTP filter extension, listed explicitly (no import side effects). */
export function registerAll(): ReadonlyMap<string, HttpFilterFactory> {
  return buildRegistry([faultFilterFactory, rbacFilterFactory, jwtAuthnFilterFactory, apiKeyFilterFactory]);
}

let registry: ReadonlyMap<string, HttpFilterFactory> | null = null;

/** The HTTP filter factories by type URL (built on first call). */
export function httpFilterFactories(): ReadonlyMap<string, HttpFilterFactory> {
  registry ??= registerAll();
  return registry;
}
