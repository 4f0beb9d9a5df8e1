// The cluster-level pick (Envoy's ZoneAwareLoadBalancerBase / ThreadAwareLoadBalancerBase): choose a priority
// and its healthy or degraded hosts by priority load, or all its hosts in panic; with locality weighted LB
// choose a locality (EDF on weight × availability); then the cluster's policy picks a host. A retry host
// predicate re-picks up to hostSelectionRetryMaxAttempts times. Built once per membership/health change.
import type { LbContext, UpstreamEndpoint } from '../../contracts.js';
import { EdfScheduler } from './edf-scheduler.js';
import { LeastRequestLb } from './least-request.js';
import {
  type HashLoadBalancer,
  type LoadBalancer,
  hashScratch,
  mod64,
  normalizeHostWeights,
  splitHash,
} from './load-balancer.js';
import { MaglevLb } from './maglev.js';
import { type PriorityCounts, type PriorityLoad, computePriorityLoad } from './priority-load.js';
import { RandomLb } from './random.js';
import { RingHashLb } from './ring-hash.js';
import { RoundRobinLb } from './round-robin.js';

/** The hosts of one EDS locality within one priority, in assignment order. */
export interface LocalityHosts {
  readonly weight: number;
  readonly hosts: readonly UpstreamEndpoint[];
}

export interface PrioritySetLbOptions {
  /** ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH or MAGLEV (anything else: ROUND_ROBIN). */
  readonly lbPolicy: string;
  readonly leastRequestChoiceCount: number;
  /** least_request_lb_config.active_request_bias (Envoy default 1). */
  readonly activeRequestBias: number;
  readonly ringHash: { readonly minRingSize: number; readonly maxRingSize: number };
  readonly maglevTableSize: number;
  readonly healthyPanicThresholdPercent: number;
  readonly localityWeightedLb: boolean;
  /** EDS policy.overprovisioning_factor as a percentage (140 by default). */
  readonly overprovisioningFactor: number;
  readonly random: () => number;
  /** Bumped once per pick served in panic (cluster.<name>.lb_healthy_panic). */
  readonly panicCounter: { inc(): void } | null;
}

/** Hosts of one priority by role: healthy = serving and not degraded; degraded = serving and degraded. */
const Role = { Healthy: 0, Degraded: 1, All: 2 } as const;
type Role = (typeof Role)[keyof typeof Role];

function inRole(ep: UpstreamEndpoint, role: Role): boolean {
  if (role === Role.All) return true;
  return ep.healthy && ep.degraded === (role === Role.Degraded);
}

const hostWeight = (ep: UpstreamEndpoint): number => (ep.weight > 0 ? ep.weight : 1);

/** Owns one host source: a flat LB, or localities chosen by EDF each with its own LB. */
class HostSource {
  readonly #flat: LoadBalancer | null;
  readonly #localityLbs: readonly LoadBalancer[];
  readonly #localityWeights: Float64Array;
  readonly #edf: EdfScheduler | null;

  constructor(flat: LoadBalancer | null, localityLbs: readonly LoadBalancer[], localityWeights: Float64Array) {
    this.#flat = flat;
    this.#localityLbs = localityLbs;
    this.#localityWeights = localityWeights;
    this.#edf = localityLbs.length > 0 ? new EdfScheduler(localityWeights) : null;
  }

  pick(ctx: LbContext | null): UpstreamEndpoint | null {
    const edf = this.#edf;
    if (edf === null) return this.#flat === null ? null : this.#flat.pick(ctx);
    const top = edf.peek();
    edf.rescheduleTop(this.#localityWeights[top]!);
    return this.#localityLbs[top]!.pick(ctx);
  }
}

/** Owns the per-priority host sources and the priority load of one cluster snapshot. */
export class PrioritySetLb {
  readonly load: PriorityLoad;
  readonly #hashBased: boolean;
  readonly #random: () => number;
  readonly #panicCounter: { inc(): void } | null;
  /** Per priority × role (index p * 3 + role); null when that source never receives load. */
  readonly #sources: (HostSource | null)[];
  readonly #hashLbs: (HashLoadBalancer | null)[];
  #chosenPriority = 0;
  #chosenRole: Role = Role.Healthy;
  /** When one (priority, role) takes all the load, no draw is needed: its index p * 3 + role, else -1. */
  readonly #fixed: number;

  /** `priorities[p]` = the localities of priority p (missing priorities = empty arrays). */
  constructor(priorities: readonly (readonly LocalityHosts[])[], opts: PrioritySetLbOptions) {
    this.#random = opts.random;
    this.#panicCounter = opts.panicCounter;
    this.#hashBased = opts.lbPolicy === 'RING_HASH' || opts.lbPolicy === 'MAGLEV';
    const levels: PriorityCounts[] = priorities.map(countLevel);
    this.load = computePriorityLoad(levels, opts.overprovisioningFactor, opts.healthyPanicThresholdPercent);
    const n = this.load.healthy.length;
    let fixed = -1;
    for (let p = 0; p < n; p++) {
      if (this.load.healthy[p] === 100) fixed = p * 3 + Role.Healthy;
      else if (this.load.degraded[p] === 100) fixed = p * 3 + Role.Degraded;
    }
    this.#fixed = fixed;
    this.#sources = new Array<HostSource | null>(n * 3).fill(null);
    this.#hashLbs = new Array<HashLoadBalancer | null>(n * 3).fill(null);
    for (let p = 0; p < n; p++) {
      const locs = priorities[p] ?? [];
      const roles: Role[] = [];
      if (this.load.panic[p]) roles.push(Role.All);
      else {
        if (this.load.healthy[p]! > 0) roles.push(Role.Healthy);
        if (this.load.degraded[p]! > 0) roles.push(Role.Degraded);
      }
      for (const role of roles) {
        if (this.#hashBased) this.#hashLbs[p * 3 + role] = buildHashLb(locs, role, opts);
        else this.#sources[p * 3 + role] = buildSource(locs, role, opts);
      }
    }
  }

  /** Picks an endpoint (null when the chosen source has none), honouring the retry host predicate. */
  pick(ctx: LbContext | null): UpstreamEndpoint | null {
    if (this.#hashBased) return this.#pickHashed(ctx);
    const max = ctx === null ? 1 : ctx.hostSelectionRetryMaxAttempts + 1;
    let ep: UpstreamEndpoint | null = null;
    for (let i = 0; i < max; i++) {
      ep = this.#pickOnce(ctx);
      if (ep === null || ctx === null || !ctx.shouldSelectAnotherHost(ep)) return ep;
    }
    return ep;
  }

  #pickOnce(ctx: LbContext | null): UpstreamEndpoint | null {
    this.#choose(this.#fixed >= 0 ? 0 : Math.floor(this.#random() * 100));
    const p = this.#chosenPriority;
    if (this.load.panic[p]) {
      if (this.#panicCounter !== null) this.#panicCounter.inc();
      const all = this.#sources[p * 3 + Role.All]!;
      return all === null ? null : all.pick(ctx);
    }
    const src = this.#sources[p * 3 + this.#chosenRole];
    return src === null || src === undefined ? null : src.pick(ctx);
  }

  /** Envoy: one hash per request chooses the priority and the host; retries move along the ring / table. */
  #pickHashed(ctx: LbContext | null): UpstreamEndpoint | null {
    splitHash(ctx === null ? null : ctx.computeHash(), this.#random);
    const hi = hashScratch[0]!;
    const lo = hashScratch[1]!;
    this.#choose(mod64(hi, lo, 100));
    const p = this.#chosenPriority;
    let lb: HashLoadBalancer | null | undefined;
    if (this.load.panic[p]) {
      if (this.#panicCounter !== null) this.#panicCounter.inc();
      lb = this.#hashLbs[p * 3 + Role.All];
    } else {
      lb = this.#hashLbs[p * 3 + this.#chosenRole];
    }
    if (lb === null || lb === undefined) return null;
    const max = ctx === null ? 1 : ctx.hostSelectionRetryMaxAttempts + 1;
    let ep: UpstreamEndpoint | null = null;
    for (let i = 0; i < max; i++) {
      ep = lb.pickHash(hi, lo, i);
      if (ep === null || ctx === null || !ctx.shouldSelectAnotherHost(ep)) return ep;
    }
    return ep;
  }

  /** Envoy's choosePriority with r in [0, 100): healthy loads first, then degraded loads. */
  #choose(r: number): void {
    const fixed = this.#fixed;
    if (fixed >= 0) {
      this.#chosenPriority = (fixed / 3) | 0;
      this.#chosenRole = (fixed % 3) as Role;
      return;
    }
    const healthy = this.load.healthy;
    let acc = 0;
    for (let p = 0; p < healthy.length; p++) {
      acc += healthy[p]!;
      if (r < acc) {
        this.#chosenPriority = p;
        this.#chosenRole = Role.Healthy;
        return;
      }
    }
    const degraded = this.load.degraded;
    for (let p = 0; p < degraded.length; p++) {
      acc += degraded[p]!;
      if (r < acc) {
        this.#chosenPriority = p;
        this.#chosenRole = Role.Degraded;
        return;
      }
    }
    this.#chosenPriority = 0;
    this.#chosenRole = Role.Healthy;
  }
}

function countLevel(locs: readonly LocalityHosts[]): PriorityCounts {
  let hosts = 0, healthyHosts = 0, degradedHosts = 0, totalWeight = 0, healthyWeight = 0, degradedWeight = 0;
  for (const loc of locs) {
    for (const ep of loc.hosts) {
      const w = hostWeight(ep);
      hosts++;
      totalWeight += w;
      if (!ep.healthy) continue;
      if (ep.degraded) {
        degradedHosts++;
        degradedWeight += w;
      } else {
        healthyHosts++;
        healthyWeight += w;
      }
    }
  }
  return { hosts, healthyHosts, degradedHosts, totalWeight, healthyWeight, degradedWeight };
}

function buildFlatLb(eps: readonly UpstreamEndpoint[], opts: PrioritySetLbOptions): LoadBalancer {
  const weights = eps.map(hostWeight);
  switch (opts.lbPolicy) {
    case 'LEAST_REQUEST':
      return new LeastRequestLb(eps, weights, opts.leastRequestChoiceCount, opts.random, opts.activeRequestBias);
    case 'RANDOM':
      return new RandomLb(eps, weights, opts.random);
    default:
      return new RoundRobinLb(eps, weights, opts.random);
  }
}

/**
 * Non-hash source. In panic (Role.All) Envoy ignores localities. With locality weighted LB, a locality's
 * effective weight is weight × min(1, overprovisioning × eligible / hosts); when all are 0, the flat set is used.
 */
function buildSource(locs: readonly LocalityHosts[], role: Role, opts: PrioritySetLbOptions): HostSource | null {
  const eligible: UpstreamEndpoint[] = [];
  for (const loc of locs) for (const ep of loc.hosts) if (inRole(ep, role)) eligible.push(ep);
  if (eligible.length === 0) return null;
  if (opts.localityWeightedLb && role !== Role.All) {
    const lbs: LoadBalancer[] = [];
    const weights: number[] = [];
    for (const loc of locs) {
      if (loc.hosts.length === 0 || loc.weight <= 0) continue;
      const inLoc = loc.hosts.filter((ep) => inRole(ep, role));
      if (inLoc.length === 0) continue;
      const availability = Math.min(1, (opts.overprovisioningFactor / 100) * (inLoc.length / loc.hosts.length));
      lbs.push(buildFlatLb(inLoc, opts));
      weights.push(loc.weight * availability);
    }
    if (lbs.length > 0) return new HostSource(null, lbs, Float64Array.from(weights));
  }
  return new HostSource(buildFlatLb(eligible, opts), [], new Float64Array(0));
}

/**
 * Hash source (Envoy's normalizeWeights): host weights normalized over the set, or with locality weighted LB
 * within each locality and scaled by locality weight / Σ locality weights (a locality of weight 0 is skipped;
 * Envoy does this in panic too, over all hosts).
 */
function buildHashLb(locs: readonly LocalityHosts[], role: Role, opts: PrioritySetLbOptions): HashLoadBalancer | null {
  const eps: UpstreamEndpoint[] = [];
  const norm: number[] = [];
  if (opts.localityWeightedLb) {
    let locSum = 0;
    for (const loc of locs) locSum += Math.max(0, loc.weight);
    if (locSum > 0) {
      for (const loc of locs) {
        if (loc.weight <= 0) continue;
        const inLoc = loc.hosts.filter((ep) => inRole(ep, role));
        eps.push(...inLoc);
        normalizeHostWeights(inLoc.map(hostWeight), loc.weight / locSum, norm);
      }
    }
  } else {
    for (const loc of locs) for (const ep of loc.hosts) if (inRole(ep, role)) eps.push(ep);
    normalizeHostWeights(eps.map(hostWeight), 1, norm);
  }
  if (eps.length === 0) return null;
  return opts.lbPolicy === 'MAGLEV'
    ? new MaglevLb(eps, norm, opts.maglevTableSize, opts.random)
    : new RingHashLb(eps, norm, opts.ringHash, opts.random);
}
