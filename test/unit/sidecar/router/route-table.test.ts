import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeaderMap } from '../../../../sidecar/http/header-map.js';
import { RdsRouteProvider, buildRouteTable } from '../../../../sidecar/router/route-table.js';
import { parseQuery } from '../../../../sidecar/router/string-matcher.js';
import type {
  HeaderMatcherConfig,
  QueryParameterMatcherConfig,
  RouteConfigData,
  RouteEntryConfig,
  RouteMatchConfig,
  VirtualHostConfig,
  WeightedClusterConfig,
} from '../../../../src/xds/resources/types.js';

const noMutations = {
  requestHeadersToAdd: [],
  requestHeadersToRemove: [],
  responseHeadersToAdd: [],
  responseHeadersToRemove: [],
};

function route(name: string, match: Partial<RouteMatchConfig>, cluster: string | WeightedClusterConfig[] = name): RouteEntryConfig {
  return {
    ...noMutations,
    name,
    match: { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [], queryParameters: [], ...match },
    action: {
      kind: 'route',
      cluster: typeof cluster === 'string' ? cluster : null,
      weightedClusters: typeof cluster === 'string' ? null : cluster,
      prefixRewrite: null,
      regexRewrite: null,
      hostRewriteLiteral: null,
      autoHostRewrite: false,
      timeoutMs: 15000,
      idleTimeoutMs: null,
      upgradeTypes: null,
      retryPolicy: null,
      hashPolicy: [],
      maxStreamDurationMs: null,
      grpcTimeoutHeaderMaxMs: null,
      grpcTimeoutHeaderOffsetMs: 0,
      priority: 'DEFAULT',
      perRequestBufferLimitBytes: null,
    },
  };
}

function vhost(name: string, domains: string[], routes: RouteEntryConfig[] = [route(name, {})]): VirtualHostConfig {
  return { ...noMutations, name, domains, routes, requireTls: false };
}

function config(virtualHosts: VirtualHostConfig[]): RouteConfigData {
  return { ...noMutations, name: 'rc', virtualHosts, raw: {} };
}

function req(path: string, authority = 'svc', headers: [string, string][] = [], method = 'GET') {
  const h = new HeaderMap();
  for (const [n, v] of headers) h.add(n, v);
  return { method, authority, path, headers: h };
}

/** The route name matched for `path` against a single vhost with `routes`. */
function routeFor(routes: RouteEntryConfig[], r: ReturnType<typeof req>): string | null {
  const t = buildRouteTable(config([vhost('v', ['*'], routes)]));
  return t.match(r)?.route.name ?? null;
}

function hm(name: string, match: HeaderMatcherConfig['match'], invert = false): HeaderMatcherConfig {
  return { name, invert, match };
}

function sm(kind: 'exact' | 'prefix' | 'suffix' | 'contains', value: string, ignoreCase = false): HeaderMatcherConfig['match'] {
  return { kind: 'string', string: { kind, value, ignoreCase } };
}

describe('virtual host selection', () => {
  const t = buildRouteTable(
    config([
      vhost('default', ['*']),
      vhost('prefix-short', ['api.*']),
      vhost('prefix-long', ['api.foo.*']),
      vhost('suffix-short', ['*.com']),
      vhost('suffix-long', ['*.foo.com']),
      vhost('exact', ['api.foo.com']),
      vhost('with-port', ['api.foo.com:8443']),
    ]),
  );
  const vh = (authority: string) => t.match(req('/', authority))?.virtualHost.name;

  it('prefers exact, then longest suffix wildcard, then longest prefix wildcard, then *', () => {
    assert.equal(vh('api.foo.com'), 'exact');
    assert.equal(vh('x.foo.com'), 'suffix-long');
    assert.equal(vh('x.bar.com'), 'suffix-short');
    assert.equal(vh('api.foo.org'), 'prefix-long');
    assert.equal(vh('api.bar.org'), 'prefix-short');
    assert.equal(vh('other.org'), 'default');
    assert.equal(vh(''), 'default');
  });

  it('a wildcard must cover at least one character', () => {
    const t2 = buildRouteTable(config([vhost('suffix', ['*.foo.com']), vhost('d', ['*'])]));
    assert.equal(t2.match(req('/', '.foo.com'))?.virtualHost.name, 'd');
    assert.equal(t2.match(req('/', 'a.foo.com'))?.virtualHost.name, 'suffix');
  });

  it('matches the authority with its port first, then without it', () => {
    assert.equal(vh('api.foo.com:8443'), 'with-port');
    // With its port the authority still matches the prefix wildcard, before the port is stripped.
    assert.equal(vh('api.foo.com:80'), 'prefix-long');
    const t2 = buildRouteTable(config([vhost('exact', ['api.foo.com']), vhost('suffix', ['*:80']), vhost('d', ['*'])]));
    assert.equal(t2.match(req('/', 'api.foo.com:80'))?.virtualHost.name, 'suffix');
    assert.equal(t2.match(req('/', 'api.foo.com:81'))?.virtualHost.name, 'exact');
    assert.equal(vh('x.foo.com:80'), 'suffix-long');
    assert.equal(vh('other.org:80'), 'default');
  });

  it('strips the port of a bracketed IPv6 authority only', () => {
    const t2 = buildRouteTable(config([vhost('v6', ['[::1]']), vhost('other', ['other'])]));
    assert.equal(t2.match(req('/', '[::1]:8080'))?.virtualHost.name, 'v6');
    assert.equal(t2.match(req('/', '[::1]'))?.virtualHost.name, 'v6');
    assert.equal(t2.match(req('/', 'nomatch')), null);
  });
});

describe('path matching', () => {
  it('prefix, exact path and first-match order', () => {
    const routes = [route('exact', { path: { kind: 'path', value: '/a' } }), route('prefix', { path: { kind: 'prefix', value: '/a' } }), route('all', {})];
    assert.equal(routeFor(routes, req('/a')), 'exact');
    assert.equal(routeFor(routes, req('/a?x=1')), 'exact');
    assert.equal(routeFor(routes, req('/ab')), 'prefix');
    assert.equal(routeFor(routes, req('/b')), 'all');
    const reversed = [route('all', {}), ...routes];
    assert.equal(routeFor(reversed, req('/a')), 'all');
  });

  it('matches on the path without the query', () => {
    const routes = [route('exact', { path: { kind: 'path', value: '/a' } })];
    assert.equal(routeFor(routes, req('/a?b=/c')), 'exact');
    assert.equal(routeFor([route('p', { path: { kind: 'prefix', value: '/a?' } })], req('/a?b')), null);
  });

  it('safe_regex matches the whole path', () => {
    const routes = [route('re', { path: { kind: 'safe_regex', regex: '/users/[0-9]+' } })];
    assert.equal(routeFor(routes, req('/users/42')), 're');
    assert.equal(routeFor(routes, req('/users/42?x=1')), 're');
    assert.equal(routeFor(routes, req('/users/42/x')), null);
    assert.equal(routeFor(routes, req('/x/users/42')), null);
  });

  it('safe_regex is compiled exactly as the validator checked it (unicode classes work)', () => {
    const routes = [route('letters', { path: { kind: 'safe_regex', regex: '/\\p{L}+' } })];
    assert.equal(routeFor(routes, req('/abc')), 'letters');
    assert.equal(routeFor(routes, req('/p{L}')), null);
  });

  it('path_separated_prefix matches the prefix exactly or followed by /', () => {
    const routes = [route('sep', { path: { kind: 'path_separated_prefix', value: '/api' } })];
    assert.equal(routeFor(routes, req('/api')), 'sep');
    assert.equal(routeFor(routes, req('/api/v1')), 'sep');
    assert.equal(routeFor(routes, req('/api?x')), 'sep');
    assert.equal(routeFor(routes, req('/apix')), null);
  });

  it('case_sensitive false lower-cases both sides', () => {
    const ci = [route('ci', { path: { kind: 'prefix', value: '/API' }, caseSensitive: false })];
    assert.equal(routeFor(ci, req('/api/x')), 'ci');
    assert.equal(routeFor(ci, req('/Api/x')), 'ci');
    const cs = [route('cs', { path: { kind: 'path', value: '/API' } })];
    assert.equal(routeFor(cs, req('/api')), null);
    assert.equal(routeFor(cs, req('/API')), 'cs');
    const sep = [route('sep', { path: { kind: 'path_separated_prefix', value: '/Api' }, caseSensitive: false })];
    assert.equal(routeFor(sep, req('/API/x')), 'sep');
  });
});

describe('header matching', () => {
  const one = (m: HeaderMatcherConfig, headers: [string, string][], extra?: Partial<ReturnType<typeof req>>) =>
    routeFor([route('h', { headers: [m] })], { ...req('/', 'svc', headers), ...extra }) === 'h';

  it('exact / prefix / suffix / contains, with ignore_case', () => {
    assert.equal(one(hm('x', sm('exact', 'abc')), [['x', 'abc']]), true);
    assert.equal(one(hm('x', sm('exact', 'abc')), [['x', 'ABC']]), false);
    assert.equal(one(hm('x', sm('exact', 'abc', true)), [['x', 'ABC']]), true);
    assert.equal(one(hm('x', sm('prefix', 'ab')), [['x', 'abc']]), true);
    assert.equal(one(hm('x', sm('prefix', 'bc')), [['x', 'abc']]), false);
    assert.equal(one(hm('x', sm('suffix', 'bc')), [['x', 'abc']]), true);
    assert.equal(one(hm('x', sm('suffix', 'BC', true)), [['x', 'abc']]), true);
    assert.equal(one(hm('x', sm('contains', 'b')), [['x', 'abc']]), true);
    assert.equal(one(hm('x', sm('contains', 'z')), [['x', 'abc']]), false);
  });

  it('regex is anchored to the whole value', () => {
    const m = hm('x', { kind: 'string', string: { kind: 'regex', regex: 'v[0-9]' } });
    assert.equal(one(m, [['x', 'v1']]), true);
    assert.equal(one(m, [['x', 'v12']]), false);
    assert.equal(one(m, [['x', 'av1']]), false);
  });

  it('present, absent and invert follow Envoy for missing headers', () => {
    const present = hm('x', { kind: 'present', present: true });
    const absent = hm('x', { kind: 'present', present: false });
    assert.equal(one(present, [['x', '']]), true);
    assert.equal(one(present, []), false);
    assert.equal(one(absent, []), true);
    assert.equal(one(absent, [['x', '1']]), false);
    assert.equal(one(hm('x', { kind: 'present', present: true }, true), []), true);
    assert.equal(one(hm('x', sm('exact', 'a'), true), [['x', 'b']]), true);
    assert.equal(one(hm('x', sm('exact', 'a'), true), [['x', 'a']]), false);
    // A missing header never satisfies an inverted string matcher (Envoy).
    assert.equal(one(hm('x', sm('exact', 'a'), true), []), false);
  });

  it('range matches integers in [start, end)', () => {
    const m = hm('x', { kind: 'range', start: -10, end: 10 });
    assert.equal(one(m, [['x', '-10']]), true);
    assert.equal(one(m, [['x', '9']]), true);
    assert.equal(one(m, [['x', '10']]), false);
    assert.equal(one(m, [['x', '1.5']]), false);
    assert.equal(one(m, [['x', 'abc']]), false);
  });

  it('joins repeated headers with "," before matching', () => {
    assert.equal(one(hm('x', sm('exact', 'a,b')), [['x', 'a'], ['x', 'b']]), true);
    assert.equal(one(hm('x', sm('exact', 'a')), [['x', 'a'], ['x', 'b']]), false);
  });

  it('reads :method, :authority, :path and :scheme', () => {
    assert.equal(one(hm(':method', sm('exact', 'POST')), [], { method: 'POST' }), true);
    assert.equal(one(hm(':method', sm('exact', 'POST')), []), false);
    assert.equal(one(hm(':authority', sm('prefix', 'sv')), []), true);
    assert.equal(one(hm(':path', sm('exact', '/?q=1')), [], { path: '/?q=1' }), true);
    assert.equal(one(hm(':scheme', sm('exact', 'http')), []), true);
    assert.equal(one(hm(':scheme', sm('exact', 'https')), [[':scheme', 'https']]), true);
  });

  it('requires every header matcher', () => {
    const r = [route('h', { headers: [hm('a', sm('exact', '1')), hm('b', sm('exact', '2'))] })];
    assert.equal(routeFor(r, req('/', 'svc', [['a', '1'], ['b', '2']])), 'h');
    assert.equal(routeFor(r, req('/', 'svc', [['a', '1']])), null);
  });
});

describe('query parameter matching', () => {
  const q = (name: string, string: QueryParameterMatcherConfig['string']): QueryParameterMatcherConfig => ({ name, string });

  it('matches present, exact and regex on decoded first values', () => {
    const routes = [
      route('debug', { queryParameters: [q('debug', null)] }),
      route('v2', { queryParameters: [q('v', { kind: 'exact', value: 'two words', ignoreCase: false })] }),
      route('re', { queryParameters: [q('id', { kind: 'regex', regex: '[0-9]+' })] }),
      route('fallback', {}),
    ];
    assert.equal(routeFor(routes, req('/?debug')), 'debug');
    assert.equal(routeFor(routes, req('/?a=1&debug=')), 'debug');
    assert.equal(routeFor(routes, req('/?v=two+words')), 'v2');
    assert.equal(routeFor(routes, req('/?v=two%20words&v=x')), 'v2');
    assert.equal(routeFor(routes, req('/?v=x&v=two%20words')), 'fallback');
    assert.equal(routeFor(routes, req('/?id=123')), 're');
    assert.equal(routeFor(routes, req('/?id=12a')), 'fallback');
    assert.equal(routeFor(routes, req('/')), 'fallback');
  });

  it('parseQuery keeps the first value and tolerates bad escapes', () => {
    const m = parseQuery('a=1&a=2&b&&c=%zz&d=%41');
    assert.deepEqual([...m], [['a', '1'], ['b', ''], ['c', '%zz'], ['d', 'A']]);
  });
});

describe('actions', () => {
  it('draws weighted clusters proportionally with the injected random', () => {
    const wc = (name: string, weight: number): WeightedClusterConfig => ({ ...noMutations, name, weight });
    let next = 0;
    const t = buildRouteTable(config([vhost('v', ['*'], [route('w', {}, [wc('a', 10), wc('zero', 0), wc('b', 30)])])]), () => next);
    const pick = (r: number) => {
      next = r;
      return t.match(req('/'))!;
    };
    assert.equal(pick(0).clusterName, 'a');
    assert.equal(pick(0.249).clusterName, 'a');
    assert.equal(pick(0.25).clusterName, 'b');
    assert.equal(pick(0.999).clusterName, 'b');
    assert.equal(pick(0.5).weightedCluster?.name, 'b');
    // The returned match objects are prebuilt: no allocation per request.
    assert.equal(pick(0.1), pick(0.2));

    const counts = new Map<string, number>();
    let seed = 1;
    const lcg = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const t2 = buildRouteTable(config([vhost('v', ['*'], [route('w', {}, [wc('a', 1), wc('b', 3)])])]), lcg);
    for (let i = 0; i < 4000; i++) {
      const c = t2.match(req('/'))!.clusterName!;
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    assert.ok(Math.abs(counts.get('a')! - 1000) < 150, `a=${counts.get('a')}`);
  });

  it('single cluster, redirect and direct response', () => {
    const redirect: RouteEntryConfig = {
      ...route('r', { path: { kind: 'path', value: '/old' } }),
      action: { kind: 'redirect', httpsRedirect: true, schemeRedirect: null, hostRedirect: null, portRedirect: null, pathRedirect: null, prefixRewrite: null, responseCode: 301, stripQuery: false },
    };
    const t = buildRouteTable(config([vhost('v', ['*'], [redirect, route('c', {}, 'backend')])]));
    const r = t.match(req('/old'))!;
    assert.equal(r.route.action.kind, 'redirect');
    assert.equal(r.clusterName, null);
    assert.equal(t.match(req('/new'))!.clusterName, 'backend');
  });
});

describe('RdsRouteProvider', () => {
  it('applies upserts and removals', () => {
    const p = new RdsRouteProvider();
    p.apply(new Map([['a', config([vhost('v', ['*'])])], ['b', config([vhost('w', ['*'])])]]), []);
    assert.deepEqual(p.names(), ['a', 'b']);
    assert.equal(p.get('a')!.match(req('/'))!.virtualHost.name, 'v');
    p.apply(new Map([['a', config([vhost('v2', ['*'])])]]), ['b']);
    assert.equal(p.get('a')!.match(req('/'))!.virtualHost.name, 'v2');
    assert.equal(p.get('b'), null);
  });

  it('leaves the provider unchanged when an upsert does not compile', () => {
    const p = new RdsRouteProvider();
    p.apply(new Map([['a', config([vhost('v', ['*'])])]]), []);
    const bad = config([vhost('bad', ['*'], [route('r', { path: { kind: 'safe_regex', regex: '(' } })])]);
    assert.throws(() => p.apply(new Map([['a', bad]]), []));
    assert.equal(p.get('a')!.match(req('/'))!.virtualHost.name, 'v');
  });
});
