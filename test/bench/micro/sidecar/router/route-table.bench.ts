// Route match: one catch-all vhost, a 50-route prefix table, and a table of 200 exact domains.
import { buildRouteTable } from '../../../../../sidecar/router/route-table.js';
import { HeaderMap } from '../../../../../sidecar/http/header-map.js';
import { forward, prefixRoute, routeConfig, vhost } from '../../../../helpers/http-fakes.js';
import { bench } from '../../bench.js';

export function run(): void {
  const headers = HeaderMap.from([['host', 'a'], ['user-agent', 'wrk']]);
  const one = buildRouteTable(routeConfig([vhost(['*'], [prefixRoute('/', forward('origin'))])]));
  bench('route table: catch-all, one route', 1_000_000, () =>
    one.match({ method: 'GET', authority: '127.0.0.1:8080', path: '/small', headers }),
  );
  const routes = [];
  for (let i = 0; i < 50; i++) routes.push(prefixRoute(`/svc${i}/`, forward(`c${i}`)));
  const many = buildRouteTable(routeConfig([vhost(['*'], routes)]));
  bench('route table: 50 prefix routes, match the last', 500_000, () =>
    many.match({ method: 'GET', authority: 'x', path: '/svc49/items?id=3', headers }),
  );
  const vhosts = [];
  for (let i = 0; i < 200; i++) vhosts.push(vhost([`svc${i}.mesh.local`, `svc${i}.mesh.local:80`], [prefixRoute('/', forward(`c${i}`))]));
  const domains = buildRouteTable(routeConfig(vhosts));
  bench('route table: 200 vhosts, exact domain with port', 1_000_000, (i) =>
    domains.match({ method: 'GET', authority: `svc${i % 200}.mesh.local:80`, path: '/', headers }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) run();
