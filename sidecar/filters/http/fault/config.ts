// envoy.filters.http.fault registry entry: shared state per filter chain, one FaultFilter per stream.
import type { StatsStore } from '../../../../src/observability/stats.js';
import type { FaultConfig } from '../../../../src/xds/resources/types.js';
import { TypeUrl } from '../../../../src/xds/type-urls.js';
import type { DecoderFilterCallbacks, HttpFilter, HttpFilterFactory } from '../../../http/filter.js';
import { FaultFilter, FaultShared } from './filter.js';

export const faultFilterFactory: HttpFilterFactory<FaultConfig> = Object.freeze({
  name: 'envoy.filters.http.fault',
  typeUrl: TypeUrl.HttpFault,
  createShared(config: FaultConfig, stats: StatsStore, statPrefix: string): FaultShared {
    return new FaultShared(config, stats, statPrefix);
  },
  createFilter(shared: unknown, cb: DecoderFilterCallbacks): HttpFilter {
    return new FaultFilter(shared as FaultShared, cb);
  },
});
