// envoy.filters.http.rbac registry entry: compiled policies and stats per filter chain, one RbacFilter per stream.
import type { StatsStore } from '../../../../src/observability/stats.js';
import type { HttpRbacConfig } from '../../../../src/xds/resources/filters/rbac.js';
import { TypeUrl } from '../../../../src/xds/type-urls.js';
import type { DecoderFilterCallbacks, HttpFilter, HttpFilterFactory } from '../../../http/filter.js';
import { RbacFilter, RbacShared } from './filter.js';

export const rbacFilterFactory: HttpFilterFactory<HttpRbacConfig> = Object.freeze({
  name: 'envoy.filters.http.rbac',
  typeUrl: TypeUrl.HttpRbac,
  createShared(config: HttpRbacConfig, stats: StatsStore, statPrefix: string): RbacShared {
    return new RbacShared(config, stats, statPrefix);
  },
  createFilter(shared: unknown, cb: DecoderFilterCallbacks): HttpFilter {
    return new RbacFilter(shared as RbacShared, cb);
  },
});
