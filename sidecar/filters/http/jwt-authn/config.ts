// envoy.filters.http.jwt_authn registry entry: shared state per filter chain, one JwtAuthnFilter per stream.
import type { StatsStore } from '../../../../src/observability/stats.js';
import type { JwtAuthnConfig } from '../../../../src/xds/resources/filters/jwt-authn.js';
import { TypeUrl } from '../../../../src/xds/type-urls.js';
import type { DecoderFilterCallbacks, HttpFilter, HttpFilterFactory } from '../../../http/filter.js';
import { JwtAuthnFilter, JwtAuthnShared } from './filter.js';

/**
 * createShared runs when a listener's filter chain is built: providers with remote_jwks + async_fetch start their
 * first fetch there. An LDS update that rebuilds the chain starts with empty key and token caches.
 */
export const jwtAuthnFilterFactory: HttpFilterFactory<JwtAuthnConfig> = Object.freeze({
  name: 'envoy.filters.http.jwt_authn',
  typeUrl: TypeUrl.JwtAuthn,
  createShared(config: JwtAuthnConfig, stats: StatsStore, statPrefix: string): JwtAuthnShared {
    return new JwtAuthnShared(config, stats, statPrefix);
  },
  createFilter(shared: unknown, cb: DecoderFilterCallbacks): HttpFilter {
    return new JwtAuthnFilter(shared as JwtAuthnShared, cb);
  },
});
