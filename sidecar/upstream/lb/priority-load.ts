// Envoy's priority load and panic computation (LoadBalancerBase::recalculatePerPriorityState /
// recalculatePerPriorityPanic / recalculateLoadInTotalPanic) as one pure function over per-priority counts.

/** What one priority level has (hosts excluded from LB are not counted). */
export interface PriorityCounts {
  readonly hosts: number;
  readonly healthyHosts: number;
  readonly degradedHosts: number;
  readonly totalWeight: number;
  readonly healthyWeight: number;
  readonly degradedWeight: number;
}

/** Percent of requests per priority to its healthy / degraded hosts (Σ both = 100) and its panic state. */
export interface PriorityLoad {
  readonly healthy: Int32Array;
  readonly degraded: Int32Array;
  readonly panic: readonly boolean[];
  /** min(100, Σ healthy + degraded availability). */
  readonly normalizedTotalAvailability: number;
}

/**
 * Availability of a priority = min(100, floor(overprovisioningFactor × healthy weight / total weight)), i.e.
 * Envoy with weighted_priority_health (equal to Envoy's default host-count form when weights are equal).
 * Load goes to P0 up to its availability, the rest spills to P1, …; when the levels together are below
 * 100 the loads are scaled up (normalized). Panic (threshold > 0): while normalized total availability is
 * below 100, a level whose (healthy + degraded) host percentage is below the threshold routes to all its
 * hosts; when every level panics, load follows host counts. Threshold 0 disables panic.
 */
export function computePriorityLoad(
  levels: readonly PriorityCounts[],
  overprovisioningFactor: number,
  panicThresholdPercent: number,
): PriorityLoad {
  const n = Math.max(1, levels.length);
  const healthy = new Int32Array(n);
  const degraded = new Int32Array(n);
  const panic: boolean[] = new Array<boolean>(n).fill(false);
  const hAvail = new Int32Array(n);
  const dAvail = new Int32Array(n);
  let sum = 0;
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l.hosts > 0 && l.totalWeight > 0) {
      hAvail[i] = Math.min(100, Math.floor((overprovisioningFactor * l.healthyWeight) / l.totalWeight));
      dAvail[i] = Math.min(100, Math.floor((overprovisioningFactor * l.degradedWeight) / l.totalWeight));
    }
    sum += hAvail[i]! + dAvail[i]!;
  }
  const normalized = Math.min(100, sum);
  if (normalized > 0) {
    let remaining = 100;
    let firstHealthy = -1;
    for (let i = 0; i < n; i++) {
      if (firstHealthy < 0 && hAvail[i]! > 0) firstHealthy = i;
      healthy[i] = Math.min(remaining, Math.floor((hAvail[i]! * 100) / normalized));
      remaining -= healthy[i]!;
    }
    let firstDegraded = -1;
    for (let i = 0; i < n; i++) {
      if (firstDegraded < 0 && dAvail[i]! > 0) firstDegraded = i;
      degraded[i] = Math.min(remaining, Math.floor((dAvail[i]! * 100) / normalized));
      remaining -= degraded[i]!;
    }
    // Rounding leftovers go to the first healthy level, else the first degraded one.
    if (remaining > 0) {
      if (firstHealthy >= 0) healthy[firstHealthy]! += remaining;
      else degraded[firstDegraded]! += remaining;
    }
  }
  const threshold = Math.min(100, Math.max(0, panicThresholdPercent));
  if (threshold === 0 && normalized === 0) {
    // Nothing available and no panic: P0 takes the load and finds no host.
    healthy.fill(0);
    degraded.fill(0);
    healthy[0] = 100;
    return { healthy, degraded, panic, normalizedTotalAvailability: 0 };
  }
  let totalPanic = true;
  for (let i = 0; i < n; i++) {
    const l = levels[i];
    let inPanic = false;
    if (normalized !== 100) {
      const hosts = l === undefined ? 0 : l.hosts;
      const pct = hosts === 0 ? 0 : (100 * l!.healthyHosts) / hosts + (100 * l!.degradedHosts) / hosts;
      inPanic = pct < threshold;
    }
    panic[i] = inPanic;
    totalPanic = totalPanic && inPanic;
  }
  if (totalPanic) {
    let totalHosts = 0;
    for (const l of levels) totalHosts += l.hosts;
    healthy.fill(0);
    degraded.fill(0);
    if (totalHosts === 0) {
      healthy[0] = 100;
    } else {
      let remaining = 100;
      let firstNonEmpty = -1;
      for (let i = 0; i < levels.length; i++) {
        const h = levels[i]!.hosts;
        if (firstNonEmpty < 0 && h > 0) firstNonEmpty = i;
        healthy[i] = Math.floor((100 * h) / totalHosts);
        remaining -= healthy[i]!;
      }
      healthy[firstNonEmpty]! += remaining;
    }
  }
  return { healthy, degraded, panic, normalizedTotalAvailability: normalized };
}
