// HeaderMap ↔ node:http2 header forms, shared by the downstream HTTP/2 codec and the upstream HTTP/2 pool.
import { HeaderMap } from '../header-map.js';

/** Connection-specific fields that must not appear in HTTP/2 (RFC 9113 §8.2.2), plus `host` (sent as :authority). */
const CONNECTION_HEADERS: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host',
]);

/**
 * Copies regular fields into node's outgoing header object, repeating names as arrays; skips pseudo and
 * connection-specific fields, and `te` unless it is "trailers" (always in trailers).
 */
export function copyToH2Headers(headers: HeaderMap, out: Record<string, string | string[]>, trailers: boolean): void {
  const names = headers.names;
  const values = headers.values;
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    if (n.charCodeAt(0) === 58 /* ':' */ || CONNECTION_HEADERS.has(n)) continue;
    const v = values[i]!;
    if (n === 'te' && (trailers || v.trim().toLowerCase() !== 'trailers')) continue;
    const prev = out[n];
    if (prev === undefined) out[n] = v;
    else if (typeof prev === 'string') out[n] = [prev, v];
    else prev.push(v);
  }
}

/** A HeaderMap from node's flat raw header list ([name, value, ...]), pseudo headers left out. */
export function headerMapFromRaw(raw: readonly string[]): HeaderMap {
  const h = new HeaderMap();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.charCodeAt(0) !== 58 /* ':' */) h.add(n, raw[i + 1]!);
  }
  return h;
}
