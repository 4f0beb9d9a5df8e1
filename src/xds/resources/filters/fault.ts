// envoy.filters.http.fault: validates a decoded envoy.extensions.filters.http.fault.v3.HTTPFault into a frozen FaultConfig.
import { deepFreeze } from '../../../core/result.js';
import {
  type Issues,
  durationMs,
  isObj,
  join,
  list,
  num,
  obj,
  onlyKnown,
  regexMatcher,
  str,
  stringMatcher,
  type Obj,
} from '../common.js';
import { TypeUrl } from '../../type-urls.js';
import type { FaultConfig, HeaderMatcherConfig, PerMillion } from '../types.js';
import { headerMatcher } from '../route.js';
import { registerHttpFilterConfig } from './index.js';

/**
 * What a FractionalPercent numerator step is worth in parts per million (HUNDRED 10000, TEN_THOUSAND 100,
 * MILLION 1). The x-envoy-fault-*-percentage headers give a numerator in the configured denominator, so the
 * filter needs it; carried next to FaultConfig's fields until FaultConfig has it.
 */
export interface FaultPercentUnit {
  readonly percentageUnit: number;
}
export type FaultDelaySettings = NonNullable<FaultConfig['delay']> & FaultPercentUnit;
export type FaultAbortSettings = NonNullable<FaultConfig['abort']> & FaultPercentUnit;
/** The validator's output: a FaultConfig whose delay/abort also carry their percentage unit. */
export interface ValidatedFaultConfig extends FaultConfig {
  readonly delay: FaultDelaySettings | null;
  readonly abort: FaultAbortSettings | null;
}

const UNIT_BY_DENOMINATOR: Readonly<Record<string, number>> = { HUNDRED: 10_000, TEN_THOUSAND: 100, MILLION: 1 };
const MILLION = 1_000_000;
const U32_MAX = 0xffff_ffff;

/**
 * Runtime key overrides: Tessera has no runtime layer, so the configured values always apply — exactly what
 * Envoy does when the runtime holds none of these keys. disable_downstream_cluster_stats: Tessera keeps no
 * per-downstream-cluster fault stats. filter_metadata: metadata for other consumers, no effect here.
 */
const INFORMATIONAL = [
  'delay_percent_runtime',
  'abort_percent_runtime',
  'delay_duration_runtime',
  'abort_http_status_runtime',
  'max_active_faults_runtime',
  'response_rate_limit_percent_runtime',
  'abort_grpc_status_runtime',
  'disable_downstream_cluster_stats',
  'filter_metadata',
];

/** envoy.type.v3.FractionalPercent → parts per million (clamped to 100 %: Envoy injects always above it) and unit. */
export function fractionalPercent(p: Obj | null, path: string, issues: Issues): { readonly ppm: PerMillion; readonly unit: number } {
  // Unset = the proto default 0/HUNDRED: Envoy never injects that fault.
  if (!p) return { ppm: 0, unit: UNIT_BY_DENOMINATOR.HUNDRED! };
  onlyKnown(p, path, ['numerator', 'denominator'], [], issues);
  const denominator = p.denominator === undefined ? 'HUNDRED' : String(p.denominator);
  let unit = UNIT_BY_DENOMINATOR[denominator];
  if (unit === undefined) {
    issues.add(join(path, 'denominator'), `unknown denominator ${denominator}`);
    unit = UNIT_BY_DENOMINATOR.HUNDRED!;
  }
  const numerator = num(p, 'numerator');
  if (!Number.isInteger(numerator) || numerator < 0 || numerator > U32_MAX) {
    issues.add(join(path, 'numerator'), `out of range: ${numerator}`);
    return { ppm: 0, unit };
  }
  return { ppm: Math.min(numerator * unit, MILLION), unit };
}

/** envoy.extensions.filters.common.fault.v3.FaultDelay. */
function faultDelay(d: Obj, path: string, issues: Issues): FaultDelaySettings {
  onlyKnown(d, path, ['fixed_delay', 'header_delay', 'percentage'], [], issues);
  const { ppm, unit } = fractionalPercent(obj(d, 'percentage'), join(path, 'percentage'), issues);
  const headerDelay = isObj(d.header_delay);
  let fixedDelayMs = 0;
  if (d.fixed_delay !== undefined) {
    if (headerDelay) issues.add(join(path, 'header_delay'), 'cannot be combined with fixed_delay');
    const f = obj(d, 'fixed_delay') ?? {};
    const before = issues.list.length;
    // Whole milliseconds as Envoy reads it: a sub-millisecond delay becomes 0 and is never injected.
    fixedDelayMs = durationMs(d, 'fixed_delay', 0, path, issues);
    // PGV `gt: {}` (a negative one was reported by durationMs).
    if (issues.list.length === before && num(f, 'seconds') === 0 && num(f, 'nanos') === 0) {
      issues.add(join(path, 'fixed_delay'), 'must be greater than 0');
    }
  } else if (!headerDelay) {
    issues.add(path, 'one of fixed_delay, header_delay is required');
  }
  return { fixedDelayMs, percentage: ppm, headerDelay, percentageUnit: unit };
}

/** envoy.extensions.filters.http.fault.v3.FaultAbort. */
function faultAbort(a: Obj, path: string, issues: Issues): FaultAbortSettings {
  onlyKnown(a, path, ['http_status', 'grpc_status', 'header_abort', 'percentage'], [], issues);
  const { ppm, unit } = fractionalPercent(obj(a, 'percentage'), join(path, 'percentage'), issues);
  const set = ['http_status', 'grpc_status', 'header_abort'].filter((k) => a[k] !== undefined && a[k] !== null);
  if (set.length === 0) issues.add(path, 'one of http_status, grpc_status, header_abort is required');
  if (set.length > 1) issues.add(join(path, set[1]!), `cannot be combined with ${set[0]}`);
  let httpStatus: number | null = null;
  let grpcStatus: number | null = null;
  if (a.http_status !== undefined) {
    httpStatus = num(a, 'http_status');
    if (!Number.isInteger(httpStatus) || httpStatus < 200 || httpStatus > 599) {
      issues.add(join(path, 'http_status'), `must be in [200, 600), got ${httpStatus}`);
    }
  } else if (a.grpc_status !== undefined) {
    grpcStatus = num(a, 'grpc_status');
    if (!Number.isInteger(grpcStatus) || grpcStatus < 0 || grpcStatus > U32_MAX) {
      issues.add(join(path, 'grpc_status'), `out of range: ${grpcStatus}`);
    }
  }
  return { httpStatus, grpcStatus, percentage: ppm, headerAbort: httpStatus === null && grpcStatus === null && isObj(a.header_abort), percentageUnit: unit };
}

/** Validates the typed_config body of envoy.filters.http.fault (the decoded Any without `@type`). */
export function validateFaultConfig(body: Obj, path: string, issues: Issues): ValidatedFaultConfig {
  // downstream_nodes and response_rate_limit are reported as not supported here.
  onlyKnown(body, path, ['delay', 'abort', 'headers', 'upstream_cluster', 'max_active_faults'], INFORMATIONAL, issues);
  const delayObj = obj(body, 'delay');
  const abortObj = obj(body, 'abort');
  const delay = delayObj ? faultDelay(delayObj, join(path, 'delay'), issues) : null;
  const abort = abortObj ? faultAbort(abortObj, join(path, 'abort'), issues) : null;
  const headers = list(body, 'headers').map((h, i) => headerMatcher(h, join(join(path, 'headers'), i), issues));
  const upstreamCluster = str(body, 'upstream_cluster');
  let maxActiveFaults: number | null = null;
  const maf = obj(body, 'max_active_faults');
  if (maf) {
    maxActiveFaults = num(maf, 'value');
    if (!Number.isInteger(maxActiveFaults) || maxActiveFaults < 0 || maxActiveFaults > U32_MAX) {
      issues.add(join(path, 'max_active_faults'), `out of range: ${maxActiveFaults}`);
    }
  }
  return deepFreeze({ delay, abort, headers, upstreamCluster: upstreamCluster === '' ? null : upstreamCluster, maxActiveFaults });
}

registerHttpFilterConfig(TypeUrl.HttpFault, validateFaultConfig);
