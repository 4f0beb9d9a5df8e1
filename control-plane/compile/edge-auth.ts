// End-user authentication on a gateway: envoy.filters.http.jwt_authn and tessera.filters.http.api_key, each with
// one rule per gateway route in route order (first match wins, as for routes), so an open route stays open.
import { TypeUrl } from '../../src/xds/type-urls.js';
import type { ApiKeyConfig, GatewayConfig, JwtProvider, RouteAuth, RouteRule } from '../model/index.js';
import { duration } from './names.js';
import { routeMatch } from './routes.js';

export const JWT_AUTHN_FILTER = 'envoy.filters.http.jwt_authn';
export const API_KEY_FILTER = 'tessera.filters.http.api_key';

type Obj = Record<string, unknown>;

/** The cluster name a remote JWKS names (Envoy requires one; Tessera's proxy fetches the URI directly). */
export const jwksClusterName = (provider: string): string => `jwks|${provider}`;

function provider(p: JwtProvider): Obj {
  const out: Obj = {};
  if (p.issuer !== null) out.issuer = p.issuer;
  if (p.audiences.length > 0) out.audiences = [...p.audiences];
  if (p.jwks.kind === 'inline') out.local_jwks = { inline_string: p.jwks.json };
  else {
    out.remote_jwks = {
      http_uri: { uri: p.jwks.uri, cluster: jwksClusterName(p.name), timeout: duration(p.jwks.timeoutMs) },
      ...(p.jwks.cacheDurationMs !== null ? { cache_duration: duration(p.jwks.cacheDurationMs) } : {}),
    };
  }
  if (p.forward) out.forward = true;
  if (p.fromHeaders.length > 0) out.from_headers = p.fromHeaders.map((h) => ({ name: h.name, ...(h.valuePrefix !== '' ? { value_prefix: h.valuePrefix } : {}) }));
  if (p.fromParams.length > 0) out.from_params = [...p.fromParams];
  if (p.forwardPayloadHeader !== null) out.forward_payload_header = p.forwardPayloadHeader;
  if (p.claimToHeaders.length > 0) out.claim_to_headers = p.claimToHeaders.map((c) => ({ header_name: c.header, claim_name: c.claim }));
  return out;
}

/** Any of the route's providers; with allow_missing, a request without a token passes too. */
function requirement(auth: RouteAuth): Obj | null {
  if (auth.jwt.length === 0) return null;
  const reqs: Obj[] = auth.jwt.map((name) => ({ provider_name: name }));
  if (auth.allowMissing) reqs.push({ allow_missing: {} });
  return reqs.length === 1 ? reqs[0]! : { requires_any: { requirements: reqs } };
}

const usesJwt = (r: RouteRule): boolean => (r.auth?.jwt.length ?? 0) > 0;
const usesApiKey = (r: RouteRule): boolean => r.auth?.apiKey != null;

export function hasEdgeAuth(gw: GatewayConfig): boolean {
  return gw.routes.some((r) => usesJwt(r) || usesApiKey(r));
}

/** jwt_authn when a route needs a JWT: every provider, one rule per route (no requirement = open). */
function jwtAuthnFilter(gw: GatewayConfig): Obj | null {
  if (!gw.routes.some(usesJwt)) return null;
  const providers: Record<string, Obj> = {};
  for (const p of gw.jwtProviders) providers[p.name] = provider(p);
  const rules = gw.routes.map((r) => {
    const req = r.auth === null ? null : requirement(r.auth);
    return { match: routeMatch(r.match), ...(req !== null ? { requires: req } : {}) };
  });
  return { name: JWT_AUTHN_FILTER, typed_config: { '@type': TypeUrl.JwtAuthn, providers, rules } };
}

/** The API-key filter when a route needs a key: consumers, where keys are read, one rule per route. */
function apiKeyFilter(gw: GatewayConfig, keys: ApiKeyConfig): Obj | null {
  if (!gw.routes.some(usesApiKey)) return null;
  const sources: Obj[] = [];
  if (keys.header !== null) sources.push({ header: keys.header });
  if (keys.query !== null) sources.push({ query: keys.query });
  return {
    name: API_KEY_FILTER,
    typed_config: {
      '@type': TypeUrl.ApiKeyAuth,
      // Keys keep the filter's default label (sha256:<first 8 hex digits>): it tells the two keys of a rotation apart.
      consumers: keys.consumers.map((c) => ({ id: c.id, keys: c.keysSha256.map((sha256) => ({ sha256 })), metadata: { ...c.metadata } })),
      sources,
      rules: gw.routes.map((r) => {
        const k = r.auth?.apiKey ?? null;
        return {
          match: routeMatch(r.match),
          allow_missing: k !== null && r.auth!.allowMissing,
          skip: k === null,
          allowed_consumers: k === null ? [] : [...k.allowedConsumers],
        };
      }),
      keep_credential: keys.keepCredential,
      consumer_header: keys.consumerHeader ?? '',
      forward_metadata: [...keys.forwardMetadata],
    },
  };
}

/** The gateway HCM's authentication filters, in order: jwt_authn, then the API key. */
export function edgeAuthFilters(gw: GatewayConfig): Obj[] {
  const out: Obj[] = [];
  const jwt = jwtAuthnFilter(gw);
  if (jwt) out.push(jwt);
  const key = gw.apiKeys ? apiKeyFilter(gw, gw.apiKeys) : null;
  if (key) out.push(key);
  return out;
}
