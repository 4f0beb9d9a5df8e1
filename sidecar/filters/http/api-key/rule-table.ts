// The filter's rules as a route table: each rule becomes a route of one `*` virtual host, so a rule matches exactly
// when the router would match a route with the same RouteMatch (the router's compiled matchers, no second copy).
import type { ApiKeyRuleConfig } from '../../../../src/xds/resources/filters/api-key.js';
import type { RouteEntryConfig } from '../../../../src/xds/resources/types.js';
import type { RouteRequest, RouteTable } from '../../../contracts.js';
import type { HeaderMap } from '../../../http/header-map.js';
import { buildRouteTable } from '../../../router/route-table.js';

const NO_MUTATIONS = Object.freeze({ requestHeadersToAdd: [], requestHeadersToRemove: [], responseHeadersToAdd: [], responseHeadersToRemove: [] });
/** Rules never answer: the action is a placeholder the table needs. */
const PLACEHOLDER = Object.freeze({ kind: 'direct_response', status: 200, body: null } as const);

/** One rule's decision, compiled. */
export class ApiKeyRule {
  readonly skip: boolean;
  readonly allowMissing: boolean;
  /** null = every valid consumer. */
  readonly allowedConsumers: ReadonlySet<string> | null;

  constructor(skip: boolean, allowMissing: boolean, allowedConsumers: readonly string[]) {
    this.skip = skip;
    this.allowMissing = allowMissing;
    this.allowedConsumers = allowedConsumers.length > 0 ? new Set(allowedConsumers) : null;
  }
}

/** A request no rule matches — and every request when there are no rules — needs a valid key of any consumer. */
export const KEY_REQUIRED: ApiKeyRule = Object.freeze(new ApiKeyRule(false, false, []));

/** First matching rule of a request. */
export class ApiKeyRuleTable {
  readonly #table: RouteTable | null;
  readonly #byRoute: ReadonlyMap<RouteEntryConfig, ApiKeyRule>;

  constructor(rules: readonly ApiKeyRuleConfig[]) {
    const byRoute = new Map<RouteEntryConfig, ApiKeyRule>();
    const routes = rules.map((r, i): RouteEntryConfig => {
      const route: RouteEntryConfig = { ...NO_MUTATIONS, name: `rules[${i}]`, match: r.match, action: PLACEHOLDER };
      byRoute.set(route, new ApiKeyRule(r.skip, r.allowMissing, r.allowedConsumers));
      return route;
    });
    this.#byRoute = byRoute;
    this.#table =
      routes.length === 0
        ? null
        : buildRouteTable({ ...NO_MUTATIONS, name: 'api_key.rules', raw: null, virtualHosts: [{ ...NO_MUTATIONS, name: 'rules', domains: ['*'], routes, requireTls: false }] });
  }

  /** The first rule whose match fits the request, else KEY_REQUIRED. */
  ruleFor(method: string, authority: string, path: string, headers: HeaderMap): ApiKeyRule {
    if (this.#table === null) return KEY_REQUIRED;
    const req: RouteRequest = { method, authority, path, headers };
    const m = this.#table.match(req);
    return m === null ? KEY_REQUIRED : this.#byRoute.get(m.route)!;
  }
}
