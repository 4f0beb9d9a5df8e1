// The validated, frozen mesh config (what mesh.yaml means) and the World built from it. Producer: parse-mesh.ts.
// Durations are milliseconds. Header names are lower-cased. Label maps keep the file's key order.

export type Protocol = 'http' | 'tcp';
export type LbPolicyName = 'round_robin' | 'least_request';
export type Labels = Readonly<Record<string, string>>;

export interface InstanceConfig {
  /** Node id of this instance's sidecar; unique across services and gateways. */
  readonly id: string;
  readonly address: string; // IP literal
  readonly port: number; // the app's port
  /** The sidecar's inbound port; null when the instance has no inbound sidecar listener. */
  readonly sidecarPort: number | null;
  readonly labels: Labels;
}

export interface DependencyConfig {
  readonly service: string;
  /** The outbound listener 127.0.0.1:port on each sidecar of the depending service. */
  readonly port: number;
}

export interface ServiceConfig {
  readonly name: string;
  readonly protocol: Protocol;
  readonly lb: LbPolicyName;
  readonly connectTimeoutMs: number;
  readonly instances: readonly InstanceConfig[];
  readonly dependencies: readonly DependencyConfig[];
}

export type StringMatchKind = 'exact' | 'prefix' | 'suffix' | 'regex';

export interface StringMatch {
  readonly kind: StringMatchKind;
  readonly value: string;
}

export interface HeaderMatch {
  readonly name: string;
  /** null: the header must be present. */
  readonly match: StringMatch | null;
  readonly invert: boolean;
}

export interface QueryMatch {
  readonly name: string;
  /** null: the parameter must be present. */
  readonly match: StringMatch | null;
}

export interface RouteMatch {
  readonly path: { readonly kind: 'prefix' | 'path' | 'regex'; readonly value: string };
  readonly headers: readonly HeaderMatch[];
  readonly query: readonly QueryMatch[];
  /** Upper-case HTTP methods; empty matches any method. */
  readonly methods: readonly string[];
}

export interface Destination {
  readonly service: string;
  /** Labels an instance must carry; null targets the whole service. */
  readonly subset: Labels | null;
  /** null only when the rule has a single destination. */
  readonly weight: number | null;
}

export interface HeaderOps {
  /** Appended (APPEND_IF_EXISTS_OR_ADD). */
  readonly add: Readonly<Record<string, string>>;
  /** Replacing (OVERWRITE_IF_EXISTS_OR_ADD). */
  readonly set: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
}

export interface ForwardAction {
  readonly kind: 'forward';
  readonly destinations: readonly Destination[];
  readonly rewritePrefix: string | null;
  readonly rewriteHost: string | null;
  /** 0 disables the route timeout. */
  readonly timeoutMs: number;
}

export type RedirectCode = 301 | 302 | 303 | 307 | 308;

export interface RedirectAction {
  readonly kind: 'redirect';
  readonly path: string | null;
  readonly prefix: string | null;
  readonly host: string | null;
  readonly scheme: string | null;
  readonly port: number | null;
  readonly https: boolean;
  readonly code: RedirectCode;
}

export interface DirectResponseAction {
  readonly kind: 'direct_response';
  readonly status: number;
  readonly body: string | null;
}

export type RuleAction = ForwardAction | RedirectAction | DirectResponseAction;

export interface RouteRule {
  readonly name: string | null;
  readonly match: RouteMatch;
  readonly action: RuleAction;
  readonly requestHeaders: HeaderOps;
  readonly responseHeaders: HeaderOps;
}

export interface RouteSet {
  /** The destination service these rules apply to (sidecar outbound and proxyless clients). */
  readonly service: string;
  readonly rules: readonly RouteRule[];
}

export interface GatewayConfig {
  /** Node id of the gateway proxy. */
  readonly name: string;
  readonly listen: { readonly address: string; readonly port: number };
  readonly routes: readonly RouteRule[];
}

export interface MeshConfig {
  readonly name: string;
  readonly services: readonly ServiceConfig[];
  readonly routes: readonly RouteSet[];
  readonly gateways: readonly GatewayConfig[];
}

export type NodeRole =
  | { readonly role: 'sidecar'; readonly service: ServiceConfig; readonly instance: InstanceConfig }
  | { readonly role: 'gateway'; readonly gateway: GatewayConfig };

/** One validated mesh config plus lookup indexes; immutable (the maps are read-only views by contract). */
export interface World {
  /** The file the config came from, as given to the parser. */
  readonly source: string;
  readonly mesh: MeshConfig;
  readonly services: ReadonlyMap<string, ServiceConfig>;
  /** Route rules by destination service (absent: only the implied default route). */
  readonly routes: ReadonlyMap<string, RouteSet>;
  readonly nodes: ReadonlyMap<string, NodeRole>;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_ROUTE_TIMEOUT_MS = 15000;
export const DEFAULT_MESH_NAME = 'default';
