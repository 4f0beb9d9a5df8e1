// LDS translation: a sidecar's inbound (with its mTLS mode and authorization) and outbound listeners, a gateway's
// listener (HTTPS per host group, the redirect listener, end-user authentication), a proxyless client's api_listeners.
import { TypeUrl } from '../../src/xds/type-urls.js';
import { httpServices, type NodeView } from './node-view.js';
import { isHttpProtocol, type GatewayConfig, type RouteRule, type ServiceConfig, type World } from '../model/index.js';
import { httpRbacFilter, networkRbacFilter } from './authz.js';
import { edgeAuthFilters, hasEdgeAuth } from './edge-auth.js';
import { faultFilters, hasFault, proxylessFaultFilter } from './faults.js';
import {
  ADS_SOURCE,
  byName,
  gatewayListenerName,
  gatewayRedirectRouteName,
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
import { gatewayTlsSocket, inboundMode, inboundTlsSocket, tlsInspector, trustDomainOf, type CaView } from './tls.js';

type Obj = Record<string, unknown>;

/** Stat prefixes are the listener name with '|' (not stat-safe) turned into '_'. */
function statPrefix(listenerName: string): string {
  return listenerName.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/**
 * codec_type AUTO serves HTTP/1.1 and HTTP/2 (h2c prior knowledge) alike, so http2/grpc need nothing here.
 * `extra`: more HCM fields (client certificate details, path normalization).
 */
function hcm(stat: string, routeConfigName: string, useRemoteAddress: boolean, filters: Obj[], extra: Obj = {}): Obj {
  return {
    '@type': TypeUrl.HttpConnectionManager,
    stat_prefix: stat,
    codec_type: 'AUTO',
    rds: { route_config_name: routeConfigName, config_source: ADS_SOURCE },
    http_filters: [...filters, { name: ROUTER_FILTER, typed_config: { '@type': TypeUrl.Router } }],
    ...(useRemoteAddress ? { use_remote_address: { value: true } } : {}),
    ...extra,
  };
}

function tcpProxy(stat: string, cluster: string): Obj {
  return { '@type': TypeUrl.TcpProxy, stat_prefix: stat, cluster };
}

function networkFilter(name: string, config: Obj): Obj {
  return { name, typed_config: config };
}

/** A listener with these filter chains; `listenerFilters` (tls_inspector) only when a chain matches on TLS. */
function listener(name: string, address: string, port: number, direction: 'INBOUND' | 'OUTBOUND' | null, chains: Obj[], listenerFilters: Obj[] = []): NamedResource {
  return {
    name,
    resource: {
      name,
      address: socketAddress(address, port),
      filter_chains: chains,
      ...(listenerFilters.length > 0 ? { listener_filters: listenerFilters } : {}),
      ...(direction !== null ? { traffic_direction: direction } : {}),
    },
  };
}

function rulesOf(world: World, service: string): readonly RouteRule[] {
  return world.routes.get(service)?.rules ?? [];
}

/** XFCC on an mTLS chain: replace what the caller sent with the verified peer's subject, URI and DNS SANs. */
const XFCC_SET = { forward_client_cert_details: 'SANITIZE_SET', set_current_client_cert_details: { subject: { value: true }, uri: true, dns: true } };
/** XFCC on the plaintext chain of a PERMISSIVE listener: whatever the caller sent is dropped. */
const XFCC_SANITIZE = { forward_client_cert_details: 'SANITIZE' };
/** Paths are normalized before RBAC and JWT rules match them (`/a/../b` cannot slip past a rule for `/b`). */
const NORMALIZE = { normalize_path: { value: true }, merge_slashes: true };

/**
 * The sidecar's inbound listener: plaintext (DISABLE, or no CA), TLS only (STRICT), or both told apart by the
 * tls_inspector (PERMISSIVE). The service's authorization runs on every chain (RBAC before the router; network RBAC
 * before tcp_proxy).
 */
function inboundListener(world: World, svc: ServiceConfig, inst: ServiceConfig['instances'][number], ca: CaView | null): NamedResource {
  const name = inboundListenerName(inst.sidecarPort!);
  const stat = statPrefix(name);
  const td = trustDomainOf(world, ca);
  const mode = inboundMode(world, svc, ca);
  const chain = (tls: boolean, xfcc: Obj): Obj => {
    let filters: Obj[];
    if (isHttpProtocol(svc.protocol)) {
      const rbac = httpRbacFilter(world, td, svc);
      const extra = { ...(rbac !== null ? NORMALIZE : {}), ...xfcc };
      filters = [networkFilter(HCM_FILTER, hcm(stat, inboundName(svc.name), false, rbac !== null ? [rbac] : [], extra))];
    } else {
      const rbac = networkRbacFilter(world, td, svc, stat);
      filters = [...(rbac !== null ? [rbac] : []), networkFilter(TCP_PROXY_FILTER, tcpProxy(stat, inboundName(svc.name)))];
    }
    return { ...(tls ? { transport_socket: inboundTlsSocket(td, svc.protocol) } : {}), filters };
  };
  if (mode === 'DISABLE') return listener(name, inst.address, inst.sidecarPort!, 'INBOUND', [chain(false, {})]);
  if (mode === 'STRICT') return listener(name, inst.address, inst.sidecarPort!, 'INBOUND', [chain(true, XFCC_SET)]);
  return listener(
    name,
    inst.address,
    inst.sidecarPort!,
    'INBOUND',
    [
      { filter_chain_match: { transport_protocol: 'tls' }, ...chain(true, XFCC_SET) },
      { filter_chain_match: { transport_protocol: 'raw_buffer' }, ...chain(false, XFCC_SANITIZE) },
    ],
    [tlsInspector()],
  );
}

/**
 * A gateway's listeners. Plain: one chain as before. With `tls`: one HTTPS chain per host group (by SNI) and a
 * last chain for clients without (or with an unknown) SNI serving the first group's certificate; plus the plain
 * redirect listener when configured. Filters: jwt_authn, API key, faults, router.
 */
function gatewayListeners(gw: GatewayConfig): NamedResource[] {
  const name = gatewayListenerName(gw.name, gw.listen.port);
  const filters = [...edgeAuthFilters(gw), ...faultFilters(gw.routes)];
  const config = hcm(statPrefix(name), gatewayRouteName(gw.name), true, filters, hasEdgeAuth(gw) ? NORMALIZE : {});
  const hcmFilter = networkFilter(HCM_FILTER, config);
  const tls = gw.tls;
  if (tls === null) return [listener(name, gw.listen.address, gw.listen.port, null, [{ filters: [hcmFilter] }])];
  const chains: Obj[] = tls.hosts.map((g) => ({
    filter_chain_match: { server_names: [...g.hosts] },
    transport_socket: gatewayTlsSocket(gw.name, g.credential),
    filters: [hcmFilter],
  }));
  chains.push({ transport_socket: gatewayTlsSocket(gw.name, tls.hosts[0]!.credential), filters: [hcmFilter] });
  const out = [listener(name, gw.listen.address, gw.listen.port, null, chains, [tlsInspector()])];
  const redirect = tls.httpRedirectListen;
  if (redirect !== null) {
    const rname = gatewayListenerName(gw.name, redirect.port);
    const rconfig = hcm(statPrefix(rname), gatewayRedirectRouteName(gw.name), true, []);
    out.push(listener(rname, redirect.address, redirect.port, null, [{ filters: [networkFilter(HCM_FILTER, rconfig)] }]));
  }
  return out;
}

export function compileListeners(world: World, view: NodeView): NamedResource[] {
  const out: NamedResource[] = [];
  if (view.kind === 'sidecar') {
    const { service: svc, instance: inst } = view;
    if (inst.sidecarPort !== null) out.push(inboundListener(world, svc, inst, view.ca));
    for (const d of svc.dependencies) {
      const name = outboundListenerName(d.port, d.service);
      const stat = statPrefix(name);
      const filter =
        world.services.get(d.service)?.protocol === 'tcp'
          ? networkFilter(TCP_PROXY_FILTER, tcpProxy(stat, d.service))
          : networkFilter(HCM_FILTER, hcm(stat, outboundRouteName(d.service), false, faultFilters(rulesOf(world, d.service))));
      out.push(listener(name, '127.0.0.1', d.port, 'OUTBOUND', [{ filters: [filter] }]));
    }
  } else if (view.kind === 'gateway') {
    out.push(...gatewayListeners(view.gateway));
  } else {
    for (const s of httpServices(world, view.ca)) {
      const filters = hasFault(rulesOf(world, s.name)) ? [proxylessFaultFilter()] : [];
      out.push({ name: s.name, resource: { name: s.name, api_listener: { api_listener: hcm(s.name, s.name, false, filters) } } });
    }
  }
  return out.sort(byName);
}
