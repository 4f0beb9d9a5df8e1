// Mesh matchers as Envoy v3 matcher messages: string matchers and a rule's header conditions (route and fault filter).
import type { RouteMatch, StringMatch } from '../model/index.js';

/** envoy.type.matcher.v3.StringMatcher. */
export function stringMatcher(m: StringMatch): Record<string, unknown> {
  return m.kind === 'regex' ? { safe_regex: { regex: m.value } } : { [m.kind]: m.value };
}

/** The rule's header and method conditions as envoy.config.route.v3.HeaderMatcher list (methods as a `:method` regex). */
export function headerMatchers(m: RouteMatch): Record<string, unknown>[] {
  const headers: Record<string, unknown>[] = m.headers.map((h) => ({
    name: h.name,
    ...(h.match === null ? { present_match: true } : { string_match: stringMatcher(h.match) }),
    ...(h.invert ? { invert_match: true } : {}),
  }));
  if (m.methods.length > 0) headers.push({ name: ':method', string_match: { safe_regex: { regex: m.methods.join('|') } } });
  return headers;
}

/** Escapes RE2 metacharacters so `s` matches itself literally. */
export function re2Literal(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/**
 * The route's path condition as a HeaderMatcher on `:path`. Routes match the path without its query string;
 * `:path` carries the query, so exact and regex forms allow an optional `?query` suffix (a prefix needs nothing).
 */
export function pathHeaderMatcher(m: RouteMatch): Record<string, unknown> | null {
  const p = m.path;
  if (p.kind === 'prefix') return p.value === '/' ? null : { name: ':path', string_match: { prefix: p.value } };
  const regex = p.kind === 'path' ? re2Literal(p.value) : `(?:${p.value})`;
  return { name: ':path', string_match: { safe_regex: { regex: `${regex}(\\?.*)?` } } };
}
