// Route tables compiled from RouteConfiguration: Envoy's virtual host lookup, then the first matching route.
import { targetPath, targetQuery } from '../http/request-target.js';
import type { RouteMatch, RouteProvider, RouteRequest, RouteTable } from '../contracts.js';
import type {
  RouteConfigData,
  RouteEntryConfig,
  VirtualHostConfig,
  WeightedClusterConfig,
} from '../../src/xds/resources/types.js';
import { HeaderMatcher, QueryMatcher, compileAnchoredRegex, parseQuery } from './string-matcher.js';
import { WeightedPick } from '../upstream/weighted-pick.js';

const PATH_PREFIX = 0;
const PATH_EXACT = 1;
const PATH_REGEX = 2;
const PATH_SEPARATED_PREFIX = 3;

const EMPTY_QUERY: ReadonlyMap<string, string> = new Map();

/** One route with its path/header/query matchers and the RouteMatch results it can return, all prebuilt. */
class CompiledRoute {
  readonly pathKind: number;
  /** Path value, lower-cased when !caseSensitive. */
  readonly value: string;
  readonly caseSensitive: boolean;
  readonly regex: RegExp | null;
  readonly headers: readonly HeaderMatcher[] | null;
  readonly query: readonly QueryMatcher[] | null;
  /** The match for single-cluster, redirect and direct-response routes. */
  readonly fixed: RouteMatch | null;
  /** One match per weighted cluster, drawn by weight. */
  readonly weighted: WeightedPick<RouteMatch> | null;

  constructor(vh: VirtualHostConfig, route: RouteEntryConfig) {
    const m = route.match;
    const p = m.path;
    this.caseSensitive = m.caseSensitive;
    this.regex = null;
    if (p.kind === 'safe_regex') {
      this.pathKind = PATH_REGEX;
      this.value = '';
      this.regex = compileAnchoredRegex(p.regex);
    } else {
      this.pathKind = p.kind === 'prefix' ? PATH_PREFIX : p.kind === 'path' ? PATH_EXACT : PATH_SEPARATED_PREFIX;
      this.value = m.caseSensitive ? p.value : p.value.toLowerCase();
    }
    this.headers = m.headers.length > 0 ? m.headers.map((h) => new HeaderMatcher(h)) : null;
    this.query = m.queryParameters.length > 0 ? m.queryParameters.map((q) => new QueryMatcher(q)) : null;

    const a = route.action;
    this.fixed = null;
    this.weighted = null;
    if (a.kind === 'route' && a.weightedClusters !== null && a.weightedClusters.length > 0) {
      const wcs = a.weightedClusters;
      this.weighted = new WeightedPick(
        wcs.map((wc) => matchOf(vh, route, wc.name, wc)),
        wcs.map((wc) => wc.weight),
      );
    } else {
      this.fixed = matchOf(vh, route, a.kind === 'route' ? a.cluster : null, null);
    }
  }

  pick(random: () => number): RouteMatch {
    if (this.fixed !== null) return this.fixed;
    return this.weighted!.pick(random);
  }
}

function matchOf(
  vh: VirtualHostConfig,
  route: RouteEntryConfig,
  clusterName: string | null,
  weightedCluster: WeightedClusterConfig | null,
): RouteMatch {
  return Object.freeze({ virtualHost: vh, route, clusterName, weightedCluster });
}

/** A virtual host with its compiled routes. */
class CompiledVirtualHost {
  readonly routes: readonly CompiledRoute[];
  /** True when some route needs the lower-cased path. */
  readonly needsLowerPath: boolean;

  constructor(readonly config: VirtualHostConfig) {
    this.routes = config.routes.map((r) => new CompiledRoute(config, r));
    this.needsLowerPath = this.routes.some((r) => !r.caseSensitive && r.pathKind !== PATH_REGEX);
  }
}

/** Wildcard domains of one form, grouped by the length of their fixed part (longest first). */
class WildcardIndex {
  readonly #lengths: number[] = [];
  readonly #byLength = new Map<number, Map<string, CompiledVirtualHost>>();

  add(fixedPart: string, vh: CompiledVirtualHost): void {
    let m = this.#byLength.get(fixedPart.length);
    if (!m) {
      m = new Map();
      this.#byLength.set(fixedPart.length, m);
      this.#lengths.push(fixedPart.length);
      this.#lengths.sort((a, b) => b - a);
    }
    if (!m.has(fixedPart)) m.set(fixedPart, vh);
  }

  get empty(): boolean {
    return this.#lengths.length === 0;
  }

  /** Longest fixed part that is a suffix (or prefix) of `host`; the wildcard must cover at least one character. */
  find(host: string, suffix: boolean): CompiledVirtualHost | null {
    const lengths = this.#lengths;
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i]!;
      if (host.length <= len) continue;
      const key = suffix ? host.slice(host.length - len) : host.slice(0, len);
      const vh = this.#byLength.get(len)!.get(key);
      if (vh !== undefined) return vh;
    }
    return null;
  }
}

/** Index of the port separator in `host:port` / `[v6]:port`, or -1. */
function portIndex(host: string): number {
  const colon = host.lastIndexOf(':');
  if (colon === -1 || colon === host.length - 1) return -1;
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    return host.charCodeAt(colon - 1) === 0x5d /* ] */ ? colon : -1;
  }
  return host.indexOf(':') === colon ? colon : -1;
}

/** A compiled RouteConfiguration. */
export class CompiledRouteTable implements RouteTable {
  readonly config: RouteConfigData;
  readonly #exact = new Map<string, CompiledVirtualHost>();
  readonly #suffix = new WildcardIndex();
  readonly #prefix = new WildcardIndex();
  readonly #default: CompiledVirtualHost | null;
  readonly #random: () => number;

  constructor(config: RouteConfigData, random: () => number) {
    this.config = config;
    this.#random = random;
    let def: CompiledVirtualHost | null = null;
    for (const vhc of config.virtualHosts) {
      const vh = new CompiledVirtualHost(vhc);
      for (const raw of vhc.domains) {
        const d = raw.toLowerCase();
        if (d === '*') def ??= vh;
        else if (d.startsWith('*')) this.#suffix.add(d.slice(1), vh);
        else if (d.endsWith('*')) this.#prefix.add(d.slice(0, -1), vh);
        else if (!this.#exact.has(d)) this.#exact.set(d, vh);
      }
    }
    this.#default = def;
  }

  /** Virtual host for a (lower-cased) authority: with its port first, then without, then '*'. */
  findVirtualHost(authority: string): CompiledVirtualHost | null {
    const vh = this.#findNonDefault(authority);
    if (vh !== null) return vh;
    const p = portIndex(authority);
    if (p !== -1) {
      const stripped = this.#findNonDefault(authority.slice(0, p));
      if (stripped !== null) return stripped;
    }
    return this.#default;
  }

  #findNonDefault(host: string): CompiledVirtualHost | null {
    const e = this.#exact.get(host);
    if (e !== undefined) return e;
    if (!this.#suffix.empty) {
      const s = this.#suffix.find(host, true);
      if (s !== null) return s;
    }
    if (!this.#prefix.empty) return this.#prefix.find(host, false);
    return null;
  }

  // RouteTable
  match(req: RouteRequest): RouteMatch | null {
    const vh = this.findVirtualHost(req.authority);
    if (vh === null) return null;
    const target = req.path;
    const path = targetPath(target);
    const lowerPath = vh.needsLowerPath ? path.toLowerCase() : path;
    let params: ReadonlyMap<string, string> | null = null;

    const routes = vh.routes;
    outer: for (let i = 0; i < routes.length; i++) {
      const r = routes[i]!;
      const p = r.caseSensitive ? path : lowerPath;
      switch (r.pathKind) {
        case PATH_PREFIX:
          if (!p.startsWith(r.value)) continue outer;
          break;
        case PATH_EXACT:
          if (p !== r.value) continue outer;
          break;
        case PATH_REGEX:
          if (!r.regex!.test(path)) continue outer;
          break;
        default:
          if (!p.startsWith(r.value) || (p.length !== r.value.length && p.charCodeAt(r.value.length) !== 0x2f)) {
            continue outer;
          }
      }
      const hs = r.headers;
      if (hs !== null) {
        for (let j = 0; j < hs.length; j++) if (!hs[j]!.match(req.headers, req)) continue outer;
      }
      const qs = r.query;
      if (qs !== null) {
        if (params === null) {
          const qs = targetQuery(target);
          params = qs === null ? EMPTY_QUERY : parseQuery(qs);
        }
        for (let j = 0; j < qs.length; j++) if (!qs[j]!.match(params)) continue outer;
      }
      return r.pick(this.#random);
    }
    return null;
  }
}

/** Compiles a RouteConfiguration; throws SyntaxError only for a regex the validator should have rejected. */
export function buildRouteTable(config: RouteConfigData, random: () => number = Math.random): RouteTable {
  return new CompiledRouteTable(config, random);
}

/** RDS: owns the latest compiled table per RouteConfiguration name. */
export class RdsRouteProvider implements RouteProvider {
  readonly #tables = new Map<string, RouteTable>();
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** Compiles every upsert first, then swaps them in; a throwing upsert leaves the provider unchanged. */
  apply(upserts: ReadonlyMap<string, RouteConfigData>, removals: readonly string[]): void {
    const built: [string, RouteTable][] = [];
    for (const [name, cfg] of upserts) built.push([name, new CompiledRouteTable(cfg, this.#random)]);
    for (const name of removals) this.#tables.delete(name);
    for (const [name, t] of built) this.#tables.set(name, t);
  }

  names(): string[] {
    return [...this.#tables.keys()].sort();
  }

  // RouteProvider
  get(routeConfigName: string): RouteTable | null {
    return this.#tables.get(routeConfigName) ?? null;
  }
}
