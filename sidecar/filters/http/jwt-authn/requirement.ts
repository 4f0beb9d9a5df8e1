// Compiled requirement rules: which requirement a request must meet (first matching rule), the tokens each of its
// leaves checks, and how leaf outcomes combine (Envoy's verifier tree: provider, any, all, allow_missing[_or_failed]).
import type { JwtRequirementConfig, JwtRuleConfig } from '../../../../src/xds/resources/filters/jwt-authn.js';
import type { HeaderMap } from '../../../http/header-map.js';
import { HeaderMatcher, QueryMatcher, compileAnchoredRegex, parseQuery, type PseudoHeaders } from '../../../router/string-matcher.js';
import { RequestTokenSources, TokenLocations, type FoundToken } from './extractor.js';
import { JwtStatus, audienceSet, type ProviderRuntime } from './provider.js';
import { parseJwt, type ParsedJwt, type VerifiedJwt } from './verify.js';

const K_PROVIDER = 0;
const K_ANY = 1;
const K_ALL = 2;
const K_ALLOW_MISSING = 3;
const K_ALLOW_FAILED = 4;
const K_NONE = 5;

/** A provider with its token locations (built once per filter chain). */
export interface ProviderEntry {
  readonly runtime: ProviderRuntime;
  readonly locations: TokenLocations;
}

/** Told when a running signature check ends (the filter; no closure per request). */
export interface CheckDone {
  checkDone(): void;
}

/** One token of one requirement leaf in one request: its provider, and how its check is going. */
export class TokenCheck {
  readonly provider: ProviderRuntime;
  readonly token: string;
  /** The header it came from (removed after success unless the provider forwards tokens); null otherwise. */
  readonly header: string | null;
  status: JwtStatus;
  /** Set when status is Ok. */
  jwt: VerifiedJwt | null;
  /** Set while status is Pending: the token awaiting its signature check. */
  #parsed: ParsedJwt | null;

  /** `audiences` null: the token failed before a provider could be chosen (bad form, or no provider has its issuer). */
  constructor(provider: ProviderRuntime, found: FoundToken, audiences: ReadonlySet<string> | null) {
    this.provider = provider;
    this.token = found.token;
    this.header = found.header;
    this.jwt = null;
    this.#parsed = null;
    this.status = JwtStatus.Invalid;
    if (audiences === null) return;
    const hit = provider.cached(found.token, audiences);
    const r = hit ?? provider.precheck(found.token, audiences);
    if (typeof r === 'number') this.status = r;
    else if (hit !== null) {
      this.status = JwtStatus.Ok;
      this.jwt = r;
    } else {
      this.status = JwtStatus.Pending;
      this.#parsed = r;
    }
  }

  /** Runs the signature check (status Pending only), then tells `done`; never rejects. */
  async run(done: CheckDone): Promise<void> {
    const parsed = this.#parsed;
    if (parsed === null) return;
    this.#parsed = null;
    try {
      const r = await this.provider.verify(parsed);
      if (typeof r === 'number') this.status = r;
      else {
        this.jwt = r;
        this.status = JwtStatus.Ok;
      }
    } catch {
      this.status = JwtStatus.Invalid;
    }
    done.checkDone();
  }
}

/** A requirement leaf: one provider (with its audiences), or the providers an allow_missing[_or_failed] covers. */
class Leaf {
  readonly kind: number;
  readonly provider: ProviderEntry | null;
  readonly audiences: ReadonlySet<string>;
  readonly scope: readonly ProviderEntry[];

  constructor(kind: number, provider: ProviderEntry | null, audiences: ReadonlySet<string>, scope: readonly ProviderEntry[]) {
    this.kind = kind;
    this.provider = provider;
    this.audiences = audiences;
    this.scope = scope;
  }

  /** The checks of this leaf's tokens in this request (created with the synchronous part of each check done). */
  collect(src: RequestTokenSources): TokenCheck[] {
    const found: FoundToken[] = [];
    const p = this.provider;
    if (p !== null) {
      p.locations.extract(src, found);
      const out: TokenCheck[] = [];
      for (let i = 0; i < found.length; i++) out.push(new TokenCheck(p.runtime, found[i]!, this.audiences));
      return out;
    }
    return this.#collectByIssuer(src, found);
  }

  /**
   * allow_missing[_or_failed]: every token at any scoped provider's locations is checked by the provider whose issuer
   * it names (Envoy: the first provider with that issuer, else the first with none configured).
   */
  #collectByIssuer(src: RequestTokenSources, found: FoundToken[]): TokenCheck[] {
    const owners: ProviderEntry[] = [];
    const scope = this.scope;
    for (let i = 0; i < scope.length; i++) {
      const before = found.length;
      scope[i]!.locations.extract(src, found);
      for (let j = before; j < found.length; j++) owners.push(scope[i]!);
    }
    const out: TokenCheck[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < found.length; i++) {
      const f = found[i]!;
      const key = `${f.header ?? ''}\n${f.token}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const parsed = parseJwt(f.token);
      if (typeof parsed === 'string') {
        out.push(new TokenCheck(owners[i]!.runtime, f, null));
        continue;
      }
      // Providers whose locations hold this token, by issuer.
      let chosen: ProviderEntry | null = null;
      let fallback: ProviderEntry | null = null;
      for (let j = 0; j < found.length; j++) {
        if (found[j]!.token !== f.token || found[j]!.header !== f.header) continue;
        const o = owners[j]!;
        const iss = o.runtime.config.issuer;
        if (iss !== '' && iss === parsed.iss) {
          chosen = o;
          break;
        }
        if (iss === '' && fallback === null) fallback = o;
      }
      const owner = chosen ?? fallback;
      if (owner === null) out.push(new TokenCheck(owners[i]!.runtime, f, null));
      else out.push(new TokenCheck(owner.runtime, f, owner.runtime.audiences));
    }
    return out;
  }
}

/** A node of the requirement tree. */
class Node {
  readonly kind: number;
  readonly children: readonly Node[];
  /** Index into CompiledRequirement.leaves; -1 for any/all/none. */
  readonly leaf: number;

  constructor(kind: number, children: readonly Node[], leaf: number) {
    this.kind = kind;
    this.children = children;
    this.leaf = leaf;
  }
}

/** Statuses of a provider leaf's checks: Missing when none, the first failure, Pending, or Ok. */
function leafStatus(checks: readonly TokenCheck[], missing: JwtStatus, allowFailed: boolean): JwtStatus {
  if (checks.length === 0) return missing;
  let pending = false;
  for (let i = 0; i < checks.length; i++) {
    const s = checks[i]!.status;
    if (s === JwtStatus.Pending) pending = true;
    else if (s !== JwtStatus.Ok && !allowFailed) return s;
  }
  return pending ? JwtStatus.Pending : JwtStatus.Ok;
}

/** A JwtRequirement compiled against the filter chain's providers. */
export class CompiledRequirement {
  readonly #root: Node;
  readonly #leaves: Leaf[];
  /** Headers the filter writes for the involved providers (forward_payload_header, claim_to_headers): cleared first. */
  readonly sanitize: readonly string[];
  /** An empty JwtRequirement: nothing to verify. */
  readonly none: boolean;

  constructor(cfg: JwtRequirementConfig, providers: ReadonlyMap<string, ProviderEntry>) {
    this.#leaves = [];
    const involved = new Set<ProviderEntry>();
    this.#root = this.#build(cfg, providers, involved);
    this.none = this.#root.kind === K_NONE;
    const names = new Set<string>();
    for (const p of involved) {
      const c = p.runtime.config;
      if (c.forwardPayloadHeader !== null) names.add(c.forwardPayloadHeader);
      for (const ch of c.claimToHeaders) names.add(ch.headerName);
    }
    this.sanitize = [...names];
  }

  #build(cfg: JwtRequirementConfig, providers: ReadonlyMap<string, ProviderEntry>, involved: Set<ProviderEntry>): Node {
    const leaf = (l: Leaf): Node => {
      this.#leaves.push(l);
      return new Node(l.kind, [], this.#leaves.length - 1);
    };
    switch (cfg.kind) {
      case 'provider': {
        // The validator guarantees the provider exists.
        const p = providers.get(cfg.provider)!;
        involved.add(p);
        return leaf(new Leaf(K_PROVIDER, p, cfg.audiences === null ? p.runtime.audiences : audienceSet(cfg.audiences), []));
      }
      case 'any':
      case 'all':
        return new Node(cfg.kind === 'any' ? K_ANY : K_ALL, cfg.requirements.map((r) => this.#build(r, providers, involved)), -1);
      case 'allow_missing':
      case 'allow_missing_or_failed': {
        const scope = cfg.providers.map((n) => providers.get(n)!).filter((p) => p !== undefined);
        for (const p of scope) involved.add(p);
        return leaf(new Leaf(cfg.kind === 'allow_missing' ? K_ALLOW_MISSING : K_ALLOW_FAILED, null, new Set(), scope));
      }
      default:
        return new Node(K_NONE, [], -1);
    }
  }

  /** One request's checks, per leaf (the synchronous part of each done). */
  collect(headers: HeaderMap, path: string): TokenCheck[][] {
    const src = new RequestTokenSources(headers, path);
    const leaves = this.#leaves;
    const out: TokenCheck[][] = [];
    for (let i = 0; i < leaves.length; i++) out.push(leaves[i]!.collect(src));
    return out;
  }

  /** The requirement's outcome so far: Pending while it still depends on a running check. */
  evaluate(checks: readonly (readonly TokenCheck[])[]): JwtStatus {
    return this.#eval(this.#root, checks);
  }

  #eval(n: Node, checks: readonly (readonly TokenCheck[])[]): JwtStatus {
    switch (n.kind) {
      case K_PROVIDER:
        return leafStatus(checks[n.leaf]!, JwtStatus.Missing, false);
      case K_ALLOW_MISSING:
        return leafStatus(checks[n.leaf]!, JwtStatus.Ok, false);
      case K_ALLOW_FAILED:
        return leafStatus(checks[n.leaf]!, JwtStatus.Ok, true);
      case K_ALL: {
        let pending = false;
        for (const c of n.children) {
          const s = this.#eval(c, checks);
          if (s === JwtStatus.Pending) pending = true;
          else if (s !== JwtStatus.Ok) return s;
        }
        return pending ? JwtStatus.Pending : JwtStatus.Ok;
      }
      case K_ANY: {
        // Ok if any child is; otherwise the first failure other than Missing (Envoy reports a real failure over a
        // missing token), else Missing.
        let pending = false;
        let failure: JwtStatus = JwtStatus.Missing;
        for (const c of n.children) {
          const s = this.#eval(c, checks);
          if (s === JwtStatus.Ok) return s;
          if (s === JwtStatus.Pending) pending = true;
          else if (s !== JwtStatus.Missing && failure === JwtStatus.Missing) failure = s;
        }
        return pending ? JwtStatus.Pending : failure;
      }
      default:
        return JwtStatus.Ok;
    }
  }
}

const PATH_PREFIX = 0;
const PATH_EXACT = 1;
const PATH_REGEX = 2;
const PATH_SEPARATED_PREFIX = 3;
const EMPTY_QUERY: ReadonlyMap<string, string> = new Map();

/** One RequirementRule: its compiled RouteMatch and requirement. */
export class CompiledRule {
  readonly requirement: CompiledRequirement;
  readonly #pathKind: number;
  readonly #value: string;
  readonly #caseSensitive: boolean;
  readonly #regex: RegExp | null;
  readonly #headers: readonly HeaderMatcher[] | null;
  readonly #query: readonly QueryMatcher[] | null;

  constructor(cfg: JwtRuleConfig, providers: ReadonlyMap<string, ProviderEntry>) {
    this.requirement = new CompiledRequirement(cfg.requirement, providers);
    const m = cfg.match;
    const p = m.path;
    this.#caseSensitive = m.caseSensitive;
    if (p.kind === 'safe_regex') {
      this.#pathKind = PATH_REGEX;
      this.#value = '';
      this.#regex = compileAnchoredRegex(p.regex);
    } else {
      this.#pathKind = p.kind === 'prefix' ? PATH_PREFIX : p.kind === 'path' ? PATH_EXACT : PATH_SEPARATED_PREFIX;
      this.#value = m.caseSensitive ? p.value : p.value.toLowerCase();
      this.#regex = null;
    }
    this.#headers = m.headers.length > 0 ? m.headers.map((h) => new HeaderMatcher(h)) : null;
    this.#query = m.queryParameters.length > 0 ? m.queryParameters.map((q) => new QueryMatcher(q)) : null;
  }

  /** Route-match semantics (the router's): `path` is the request's path without query and fragment. */
  matches(path: string, query: string | null, headers: HeaderMap, pseudo: PseudoHeaders): boolean {
    const p = this.#caseSensitive || this.#pathKind === PATH_REGEX ? path : path.toLowerCase();
    const v = this.#value;
    switch (this.#pathKind) {
      case PATH_PREFIX:
        if (!p.startsWith(v)) return false;
        break;
      case PATH_EXACT:
        if (p !== v) return false;
        break;
      case PATH_REGEX:
        if (!this.#regex!.test(p)) return false;
        break;
      default:
        if (!p.startsWith(v) || (p.length !== v.length && p.charCodeAt(v.length) !== 0x2f)) return false;
    }
    const hs = this.#headers;
    if (hs !== null) for (let i = 0; i < hs.length; i++) if (!hs[i]!.match(headers, pseudo)) return false;
    const qs = this.#query;
    if (qs !== null) {
      const params = query === null ? EMPTY_QUERY : parseQuery(query);
      for (let i = 0; i < qs.length; i++) if (!qs[i]!.match(params)) return false;
    }
    return true;
  }
}
