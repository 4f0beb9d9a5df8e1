// Type URLs of the xDS v3 resources and typed configs Tessera speaks.
const P = 'type.googleapis.com/';
export const TypeUrl = {
  Listener: `${P}envoy.config.listener.v3.Listener`,
  RouteConfiguration: `${P}envoy.config.route.v3.RouteConfiguration`,
  Cluster: `${P}envoy.config.cluster.v3.Cluster`,
  ClusterLoadAssignment: `${P}envoy.config.endpoint.v3.ClusterLoadAssignment`,
  Secret: `${P}envoy.extensions.transport_sockets.tls.v3.Secret`,
  HttpConnectionManager: `${P}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
  TcpProxy: `${P}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`,
  Router: `${P}envoy.extensions.filters.http.router.v3.Router`,
  HttpFault: `${P}envoy.extensions.filters.http.fault.v3.HTTPFault`,
  HttpProtocolOptions: `${P}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
  PreviousHostsPredicate: `${P}envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate`,
  DownstreamTlsContext: `${P}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
  UpstreamTlsContext: `${P}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
  TlsInspector: `${P}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector`,
  HttpRbac: `${P}envoy.extensions.filters.http.rbac.v3.RBAC`,
  HttpRbacPerRoute: `${P}envoy.extensions.filters.http.rbac.v3.RBACPerRoute`,
  NetworkRbac: `${P}envoy.extensions.filters.network.rbac.v3.RBAC`,
  JwtAuthn: `${P}envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`,
  JwtAuthnPerRoute: `${P}envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig`,
  ApiKeyAuth: `${P}tessera.filters.http.api_key.v1.ApiKeyAuth`,
} as const;
export type ResourceTypeUrl =
  | typeof TypeUrl.Listener
  | typeof TypeUrl.RouteConfiguration
  | typeof TypeUrl.Cluster
  | typeof TypeUrl.ClusterLoadAssignment
  | typeof TypeUrl.Secret;

/** The order a control plane sends and a client applies: CDS before EDS, LDS before RDS. */
export const XDS_ORDER: readonly ResourceTypeUrl[] = [
  TypeUrl.Cluster,
  TypeUrl.ClusterLoadAssignment,
  TypeUrl.Listener,
  TypeUrl.RouteConfiguration,
  TypeUrl.Secret,
];

export const ShortName: Readonly<Record<string, string>> = {
  [TypeUrl.Listener]: 'LDS',
  [TypeUrl.RouteConfiguration]: 'RDS',
  [TypeUrl.Cluster]: 'CDS',
  [TypeUrl.ClusterLoadAssignment]: 'EDS',
  [TypeUrl.Secret]: 'SDS',
};

export function messageName(typeUrl: string): string {
  const i = typeUrl.lastIndexOf('/');
  return i < 0 ? typeUrl : typeUrl.slice(i + 1);
}
