// Bootstrap tokens: how a sidecar proves to the control plane which node it is and which workload identity it
// may hold, before it has a certificate (Istio uses Kubernetes service-account tokens for this). A token is a
// JWT (HS256) signed with the control plane's token key (kept beside the CA key, mode 0600). The control plane
// checks it on every ADS stream and certificate request; the SVID it signs carries the identity the token names.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, jwtVerify } from 'jose';
import { isValidSegment } from './spiffe.js';

const ISSUER = 'tessera-control-plane';
const AUDIENCE = 'tessera-xds';
const KEY_FILE = 'token-key';

export interface TokenClaims {
  readonly nodeId: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

export class TokenError extends Error {}

/** Signs a token for `claims`; `ttlSeconds` 0 = no expiry (tokens for long-lived sidecars, revoked by rotating the key). */
export async function issueToken(key: Uint8Array, claims: TokenClaims, ttlSeconds = 0): Promise<string> {
  if (claims.nodeId === '') throw new TokenError('node id is required');
  if (!isValidSegment(claims.namespace) || !isValidSegment(claims.serviceAccount)) {
    throw new TokenError('namespace and service account must be non-empty [A-Za-z0-9._-]');
  }
  let jwt = new SignJWT({ ns: claims.namespace, sa: claims.serviceAccount })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(claims.nodeId)
    .setIssuedAt();
  if (ttlSeconds > 0) jwt = jwt.setExpirationTime(`${ttlSeconds}s`);
  return jwt.sign(key);
}

/** Verifies a token (signature, issuer, audience, expiry when set) and returns what it binds. */
export async function verifyToken(key: Uint8Array, token: string): Promise<TokenClaims> {
  if (token.length > 4096) throw new TokenError('token too long');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] }));
  } catch (e) {
    throw new TokenError(`bootstrap token rejected: ${(e as Error).message}`);
  }
  const nodeId = payload.sub;
  const ns = payload.ns;
  const sa = payload.sa;
  if (typeof nodeId !== 'string' || nodeId === '' || typeof ns !== 'string' || typeof sa !== 'string') {
    throw new TokenError('bootstrap token rejected: missing sub/ns/sa');
  }
  return { nodeId, namespace: ns, serviceAccount: sa };
}

/** The token key in `dir` (32 random bytes, 0600), created on first use. */
export async function loadOrCreateTokenKey(dir: string): Promise<Uint8Array> {
  const file = join(dir, KEY_FILE);
  try {
    const mode = (await stat(file)).mode & 0o777;
    if ((mode & 0o077) !== 0) throw new TokenError(`${file}: mode ${mode.toString(8)} lets others read the token key; chmod 600 it`);
    const b = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64url');
    if (b.length < 32) throw new TokenError(`${file}: key shorter than 32 bytes`);
    return b;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  await writeFile(file, `${key.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return key;
}

/** The bearer token in gRPC metadata (`authorization: Bearer <token>`), or null. */
export function bearerToken(values: readonly (string | Buffer)[]): string | null {
  for (const v of values) {
    const s = typeof v === 'string' ? v : v.toString('utf8');
    if (s.startsWith('Bearer ')) return s.slice(7).trim();
  }
  return null;
}
