// LDS translation: a sidecar's inbound and outbound listeners, a gateway's listener, a proxyless client's api_listeners.
import { TypeUrl } from '../../src/xds/type-urls.js';
import { httpServices, type NodeView } from './node-view.js';
import { isHttpProtocol, type RouteRule, type World } from '../model/index.js';
import { faultFilters, hasFault, proxylessFaultFilter } from './faults.js';
import {
  ADS_SOURCE,
  byName,
  gatewayListenerName,
  gatewayRouteName,
  HCM_FILTER,
  inboundListenerName,
  inboundName,
  outboundListenerName,
  outboundRouteName,
  ROUTER_FILTER,
  socketAddress,
  TCP_PROXY_FILTER,
  type NamedResource,
} from './names.js';

/** Stat prefixes are the listener name with '|' (not stat-safe) turned into '_'. */
function statPrefix(listenerName: string): string {
  return listenerName.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** codec_type AUTO serves HTTP/1.1 and HTTP/2 (h2c prior knowledge) alike, so http2/grpc need nothing here. */
function hcm(stat: string, routeConfigName: string, useRemoteAddress: boolean, filters: Record<string, unknown>[]): Record<string, unknown> {
  return {
    '@type': TypeUrl.HttpConnectionManager,
    stat_prefix: stat,
    codec_type: 'AUTO',
    rds: { route_config_name: routeConfigName, config_source: ADS_SOURCE },
    http_filters: [...filters, { name: ROUTER_FILTER, typed_config: { '@type': TypeUrl.Router } }],
    ...(useRemoteAddress ? { use_remote_address: { value: true } } : {}),
  };
}

function tcpProxy(stat: string, cluster: string): Record<string, unknown> {
  return { '@type': TypeUrl.TcpProxy, stat_prefix: stat, cluster };
}

function listener(
  name: string,
  address: string,
  port: number,
  direction: 'INBOUND' | 'OUTBOUND' | null,
  filter: { name: string; config: Record<string, unknown> },
): NamedResource {
  return {
    name,
    resource: {
      name,
      address: socketAddress(address, port),
      filter_chains: [{ filters: [{ name: filter.name, typed_config: filter.config }] }],
      ...(direction !== null ? { traffic_direction: direction } : {}),
    },
  };
}

function rulesOf(world: World, service: string): readonly RouteRule[] {
  return world.routes.get(service)?.rules ?? [];
}

export function compileListeners(world: World, view: NodeView): NamedResource[] {
  const out: NamedResource[] = [];
  if (view.kind === 'sidecar') {
    const { service: svc, instance: inst } = view;
    if (inst.sidecarPort !== null) {
      const name = inboundListenerName(inst.sidecarPort);
      const stat = statPrefix(name);
      const filter =
        isHttpProtocol(svc.protocol)
          ? { name: HCM_FILTER, config: hcm(stat, inboundName(svc.name), false, []) }
          : { name: TCP_PROXY_FILTER, config: tcpProxy(stat, inboundName(svc.name)) };
      out.push(listener(name, inst.address, inst.sidecarPort, 'INBOUND', filter));
    }
    for (const d of svc.dependencies) {
      const name = outboundListenerName(d.port, d.service);
      const stat = statPrefix(name);
      const filter =
        world.services.get(d.service)?.protocol === 'tcp'
          ? { name: TCP_PROXY_FILTER, config: tcpProxy(stat, d.service) }
          : { name: HCM_FILTER, config: hcm(stat, outboundRouteName(d.service), false, faultFilters(rulesOf(world, d.service))) };
      out.push(listener(name, '127.0.0.1', d.port, 'OUTBOUND', filter));
    }
  } else if (view.kind === 'gateway') {
    const gw = view.gateway;
    const name = gatewayListenerName(gw.name, gw.listen.port);
    const config = hcm(statPrefix(name), gatewayRouteName(gw.name), true, faultFilters(gw.routes));
    out.push(listener(name, gw.listen.address, gw.listen.port, null, { name: HCM_FILTER, config }));
  } else {
    for (const s of httpServices(world)) {
      const filters = hasFault(rulesOf(world, s.name)) ? [proxylessFaultFilter()] : [];
      out.push({ name: s.name, resource: { name: s.name, api_listener: { api_listener: hcm(s.name, s.name, false, filters) } } });
    }
  }
  return out.sort(byName);
}
