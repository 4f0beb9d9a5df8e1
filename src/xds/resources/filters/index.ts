// HTTP filter config validators by typed_config type URL: the HCM validator asks here for every non-router filter.
import type { Issues, Obj } from '../common.js';

/** Validates one HTTP filter's typed_config body (the decoded Any without `@type`) into its frozen config. */
export type HttpFilterConfigValidator = (body: Obj, path: string, issues: Issues) => unknown;

const validators = new Map<string, HttpFilterConfigValidator>();

/** Registers a validator; a type URL registered twice is a programmer error. */
export function registerHttpFilterConfig(typeUrl: string, v: HttpFilterConfigValidator): void {
  if (validators.has(typeUrl)) throw new Error(`HTTP filter config ${typeUrl} registered twice`);
  validators.set(typeUrl, v);
}

/** The validator for a type URL, or undefined when Tessera has no such HTTP filter (the HCM NACKs it). */
export function httpFilterConfigValidator(typeUrl: string): HttpFilterConfigValidator | undefined {
  return validators.get(typeUrl);
}
