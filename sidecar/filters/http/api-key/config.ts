// tessera.filters.http.api_key registry entry: key index, rules and stats per filter chain, one ApiKeyFilter per stream.
import type { StatsStore } from '../../../../src/observability/stats.js';
import { API_KEY_FILTER_NAME, type ApiKeyAuthConfig } from '../../../../src/xds/resources/filters/api-key.js';
import { TypeUrl } from '../../../../src/xds/type-urls.js';
import type { DecoderFilterCallbacks, HttpFilter, HttpFilterFactory } from '../../../http/filter.js';
import { ApiKeyFilter, ApiKeyShared } from './filter.js';

/** An LDS update that rebuilds the filter chain builds a new index: a removed key stops working on the new chain. */
export const apiKeyFilterFactory: HttpFilterFactory<ApiKeyAuthConfig> = Object.freeze({
  name: API_KEY_FILTER_NAME,
  typeUrl: TypeUrl.ApiKeyAuth,
  createShared(config: ApiKeyAuthConfig, stats: StatsStore, statPrefix: string): ApiKeyShared {
    return new ApiKeyShared(config, stats, statPrefix);
  },
  createFilter(shared: unknown, cb: DecoderFilterCallbacks): HttpFilter {
    return new ApiKeyFilter(shared as ApiKeyShared, cb);
  },
});
