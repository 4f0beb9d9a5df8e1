// What security-run.ts measures through: a CA and two SPIFFE leaf certificates made with openssl, the sidecar pair
// A (outbound listeners) → B (inbound listeners) with a plaintext and an mTLS hop side by side in the same two
// processes, and one sidecar running envoy.filters.http.jwt_authn (local JWKS, an ES256 and an RS256 key) in front
// of an open route and two protected ones. Static bootstraps only: no control plane.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { TypeUrl } from '../../../src/xds/type-urls.js';
import { bootstrap, httpListener, staticCluster, type Json } from '../../helpers/bootstraps.js';
import { freePort, waitForHttp200, type Proc } from './proc.js';
import { READY_MS, startSidecar } from './targets.js';

const run = promisify(execFile);

export const TRUST_DOMAIN = 'bench.local';
export const spiffeId = (sa: string): string => `spiffe://${TRUST_DOMAIN}/ns/default/sa/${sa}`;

/** PEM files: the root CA and the leaves of sidecar A (service account `a`) and B (`b`). */
export interface BenchPki {
  readonly caCert: string;
  readonly a: { readonly cert: string; readonly key: string };
  readonly b: { readonly cert: string; readonly key: string };
}

/** A P-256 root CA and two P-256 leaves (client + server auth) whose only SAN is their SPIFFE ID, valid one day. */
export async function makePki(dir: string): Promise<BenchPki> {
  const f = (name: string): string => path.join(dir, name);
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca.key')]);
  await run('openssl', [
    'req', '-x509', '-new', '-key', f('ca.key'), '-subj', '/CN=tessera-bench-root', '-days', '1', '-sha256', '-out', f('ca.pem'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const leaf = async (sa: string): Promise<{ cert: string; key: string }> => {
    const key = f(`${sa}.key`);
    const cert = f(`${sa}.pem`);
    const ext = f(`${sa}.ext`);
    await writeFile(ext, `subjectAltName=URI:${spiffeId(sa)}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth,serverAuth\n`);
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    await run('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${sa}`, '-out', f(`${sa}.csr`)]);
    await run('openssl', [
      'x509', '-req', '-in', f(`${sa}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-sha256',
      '-extfile', ext, '-out', cert,
    ]);
    return { cert, key };
  };
  return { caCert: f('ca.pem'), a: await leaf('a'), b: await leaf('b') };
}

/**
 * common_tls_context: `me`'s certificate from files, the bench CA, the peer's SPIFFE ID required, and the ALPN lists the
 * control plane compiles for an http service (inbound h2 + http/1.1, outbound http/1.1); TLS params left at their default.
 */
function commonTlsContext(pki: BenchPki, me: 'a' | 'b', peer: 'a' | 'b', alpn: readonly string[]): Json {
  return {
    alpn_protocols: alpn,
    tls_certificates: [{ certificate_chain: { filename: pki[me].cert }, private_key: { filename: pki[me].key } }],
    validation_context: {
      trusted_ca: { filename: pki.caCert },
      match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: spiffeId(peer) } }],
    },
  };
}

const tlsSocket = (type: string, context: Json): Json => ({
  name: 'envoy.transport_sockets.tls',
  typed_config: { '@type': `type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.${type}`, ...context },
});

const routeAll = (cluster: string): Json[] => [{ match: { prefix: '/' }, route: { cluster } }];

/** The two processes of the hop benchmark; `plainPort` / `mtlsPort` are A's outbound listeners (the client's targets). */
export interface MtlsPair {
  readonly a: Proc;
  readonly b: Proc;
  readonly aAdmin: number;
  readonly bAdmin: number;
  readonly plainPort: number;
  readonly mtlsPort: number;
  /** B's inbound mTLS listener (its stats scope is `listener.127.0.0.1_<port>`). */
  readonly bMtlsPort: number;
}

/** Cluster names on A: the plaintext hop and the mTLS hop to B. */
export const HOP_CLUSTERS = { plain: 'b_plain', mtls: 'b_mtls' } as const;

type SidecarCtx = Parameters<typeof startSidecar>[0];

/**
 * Starts B (inbound: `in_plain` and `in_mtls`, DownstreamTlsContext requiring a client certificate with A's SPIFFE ID,
 * both routing to the origin), then A (outbound: `out_plain` → cluster b_plain, `out_mtls` → cluster b_mtls with an
 * UpstreamTlsContext presenting A's certificate and requiring B's SPIFFE ID); resolves when both paths answer 200.
 * Each process is pushed to `started` once it listens: the caller stops them, also when this fails half-way (one that
 * never listens is killed at exit by proc.ts).
 */
export async function startMtlsPair(ctx: SidecarCtx, originPort: number, pki: BenchPki, started: Proc[]): Promise<MtlsPair> {
  const bMtlsPort = await freePort();
  let bAdmin = 0;
  let bPlainPort = 0;
  const b = await startSidecar(ctx, 'sidecar-b', (port, admin) => {
    bAdmin = admin;
    bPlainPort = port;
    const mtls = httpListener('in_mtls', bMtlsPort, routeAll('origin'));
    (mtls.filter_chains as Json[])[0]!.transport_socket = tlsSocket('DownstreamTlsContext', {
      common_tls_context: commonTlsContext(pki, 'b', 'a', ['h2', 'http/1.1']),
      require_client_certificate: true,
    });
    return JSON.stringify(bootstrap('bench-b', admin, [httpListener('in_plain', port, routeAll('origin')), mtls], [staticCluster('origin', [originPort])]));
  }, 'off');
  started.push(b.proc);
  const mtlsPort = await freePort();
  let aAdmin = 0;
  const a = await startSidecar(ctx, 'sidecar-a', (port, admin) => {
    aAdmin = admin;
    const upstreamTls = tlsSocket('UpstreamTlsContext', { common_tls_context: commonTlsContext(pki, 'a', 'b', ['http/1.1']), sni: 'b.default.svc' });
    const listeners = [httpListener('out_plain', port, routeAll(HOP_CLUSTERS.plain)), httpListener('out_mtls', mtlsPort, routeAll(HOP_CLUSTERS.mtls))];
    const clusters = [
      staticCluster(HOP_CLUSTERS.plain, [bPlainPort]),
      staticCluster(HOP_CLUSTERS.mtls, [bMtlsPort], { extra: { transport_socket: upstreamTls } }),
    ];
    return JSON.stringify(bootstrap('bench-a', admin, listeners, clusters));
  }, 'off');
  started.push(a.proc);
  await waitForHttp200(a.port, '/small', READY_MS, a.proc);
  await waitForHttp200(mtlsPort, '/small', READY_MS, a.proc);
  return { a: a.proc, b: b.proc, aAdmin, bAdmin, plainPort: a.port, mtlsPort, bMtlsPort };
}

/** Route prefixes on the JWT sidecar (each rewritten to `/` before the origin). */
export const JWT_ROUTES = { open: '/open', es256: '/es256', rs256: '/rs256' } as const;
export const JWT_ISSUER = 'https://idp.bench.local';
export const JWT_AUDIENCE = 'bench';
/** The HCM's stat prefix: jwt_authn stats are `http.<prefix>.jwt_authn.*`. */
export const JWT_STAT_PREFIX = 'jwt_bench';

export interface JwtSidecar {
  readonly proc: Proc;
  readonly port: number;
  readonly admin: number;
  /** One token per algorithm (iss, aud, sub, exp = now + ttlS), the same one sent on every request of its variant. */
  readonly tokens: { readonly es256: string; readonly rs256: string };
}

/**
 * One sidecar, one listener: jwt_authn (one provider `idp`, a local JWKS holding an ES256 and an RS256 key, kid
 * `es` / `rs`) then the router. /open/ has a rule with no requirement; /es256/ and /rs256/ require `idp`; all three
 * routes rewrite their prefix to `/`. The process is pushed to `started` once it listens (the caller stops it).
 */
export async function startJwtSidecar(ctx: SidecarCtx, originPort: number, ttlS: number, started: Proc[]): Promise<JwtSidecar> {
  const es = await generateKeyPair('ES256');
  const rs = await generateKeyPair('RS256');
  const jwks = { keys: [{ ...(await exportJWK(es.publicKey)), kid: 'es', use: 'sig' }, { ...(await exportJWK(rs.publicKey)), kid: 'rs', use: 'sig' }] };
  const now = Math.floor(Date.now() / 1000);
  const sign = (alg: 'ES256' | 'RS256', kid: string, key: Parameters<SignJWT['sign']>[0]): Promise<string> =>
    new SignJWT({ iss: JWT_ISSUER, aud: JWT_AUDIENCE, sub: 'bench-client', iat: now, exp: now + ttlS })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .sign(key);
  const tokens = { es256: await sign('ES256', 'es', es.privateKey), rs256: await sign('RS256', 'rs', rs.privateKey) };
  const filter: Json = {
    name: 'envoy.filters.http.jwt_authn',
    typed_config: {
      '@type': TypeUrl.JwtAuthn,
      providers: { idp: { issuer: JWT_ISSUER, audiences: [JWT_AUDIENCE], local_jwks: { inline_string: JSON.stringify(jwks) } } },
      rules: [
        { match: { prefix: `${JWT_ROUTES.open}/` } },
        { match: { prefix: `${JWT_ROUTES.es256}/` }, requires: { provider_name: 'idp' } },
        { match: { prefix: `${JWT_ROUTES.rs256}/` }, requires: { provider_name: 'idp' } },
      ],
    },
  };
  const routes = Object.values(JWT_ROUTES).map((p) => ({ match: { prefix: `${p}/` }, route: { cluster: 'origin', prefix_rewrite: '/' } }));
  let admin = 0;
  const s = await startSidecar(ctx, 'sidecar-jwt', (port, adminPort) => {
    admin = adminPort;
    return JSON.stringify(
      bootstrap('bench-jwt', adminPort, [httpListener(JWT_STAT_PREFIX, port, routes, {}, [filter])], [staticCluster('origin', [originPort])]),
    );
  }, 'off');
  started.push(s.proc);
  await waitForHttp200(s.port, `${JWT_ROUTES.open}/small`, READY_MS, s.proc);
  return { proc: s.proc, port: s.port, admin, tokens };
}
