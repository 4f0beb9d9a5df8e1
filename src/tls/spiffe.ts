// SPIFFE IDs (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md): parsing and the mesh's path scheme.
import { err, ok, type Result } from '../core/result.js';

export interface SpiffeId {
  readonly trustDomain: string;
  /** Path with its leading slash ('' for the trust domain itself). */
  readonly path: string;
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
/** The spec's limit on a whole SPIFFE ID in an X.509 SVID. */
const MAX_ID_BYTES = 2048;

/** Parses `spiffe://<trust-domain>/<path>` strictly (lower-case scheme and domain, no query, fragment, port, userinfo, dot segments). */
export function parseSpiffeId(uri: string): Result<SpiffeId> {
  if (uri.length > MAX_ID_BYTES) return err(`SPIFFE ID longer than ${MAX_ID_BYTES} bytes`);
  if (!uri.startsWith('spiffe://')) return err(`"${uri}" is not a SPIFFE ID (scheme must be spiffe://)`);
  const rest = uri.slice(9);
  const slash = rest.indexOf('/');
  const td = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  if (td === '' || !TRUST_DOMAIN.test(td)) return err(`"${uri}": trust domain must be non-empty [a-z0-9._-]`);
  if (path !== '') {
    const segs = path.slice(1).split('/');
    for (const s of segs) {
      if (s === '' || s === '.' || s === '..' || !SEGMENT.test(s)) return err(`"${uri}": path segment "${s}" is not allowed`);
    }
  }
  return ok({ trustDomain: td, path });
}

export function formatSpiffeId(id: SpiffeId): string {
  return `spiffe://${id.trustDomain}${id.path}`;
}

/** The mesh's workload identity scheme (Istio's): spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>. */
export function workloadSpiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

export function isValidTrustDomain(td: string): boolean {
  return td.length > 0 && td.length <= 255 && TRUST_DOMAIN.test(td);
}

export function isValidSegment(s: string): boolean {
  return s !== '.' && s !== '..' && SEGMENT.test(s);
}

/** URI entries of node's subjectAltName string ("URI:spiffe://…, DNS:…"); quoted entries are unquoted. */
/** The SAN kinds Node prints in `subjectaltname`, named as Envoy's SanType. */
export type SubjectAltNameType = 'URI' | 'DNS' | 'EMAIL' | 'IP_ADDRESS';
const SAN_PREFIX: Readonly<Record<string, SubjectAltNameType>> = { URI: 'URI', DNS: 'DNS', email: 'EMAIL', 'IP Address': 'IP_ADDRESS' };

/** Node's `subjectaltname` ("DNS:a, URI:spiffe://x, IP Address:1.2.3.4", quoted when a value has a comma) as pairs. */
export function parseSubjectAltName(s: string | undefined): [SubjectAltNameType, string][] {
  const out: [SubjectAltNameType, string][] = [];
  if (!s) return out;
  for (const m of s.matchAll(/(DNS|URI|IP Address|email):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g)) {
    const v = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    out.push([SAN_PREFIX[m[1]!]!, v]);
  }
  return out;
}

export function uriSans(subjectAltName: string | undefined): string[] {
  return parseSubjectAltName(subjectAltName).flatMap(([t, v]) => (t === 'URI' ? [v] : []));
}
