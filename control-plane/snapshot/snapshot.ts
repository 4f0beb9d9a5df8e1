// An immutable, encoded set of xDS resources for one node: per type URL a version and per resource a version + Any.
import { createHash } from 'node:crypto';
import { type Result, err, ok } from '../../src/core/result.js';
import { type AnyMessage, packAny } from '../../src/xds/protos.js';
import { type ResourceTypeUrl, ShortName, XDS_ORDER } from '../../src/xds/type-urls.js';

/** One named resource as the translator produces it: a plain object encodable with `packAny(typeUrl, resource)`. */
export interface NamedResource {
  readonly name: string;
  readonly resource: Record<string, unknown>;
}

/** The translator's output for one node; a missing type URL means "no resources of that type". */
export type NodeResources = Partial<Record<ResourceTypeUrl, readonly NamedResource[]>>;

export interface SnapshotResource {
  readonly name: string;
  /** Hash of the encoded bytes. */
  readonly version: string;
  readonly any: AnyMessage;
}

export interface SnapshotType {
  readonly typeUrl: string;
  /** Hash over the sorted names and bytes of every resource of this type. */
  readonly version: string;
  /** Resources sorted by name. */
  readonly resources: ReadonlyMap<string, SnapshotResource>;
}

const EMPTY_RESOURCES: ReadonlyMap<string, SnapshotResource> = new Map();
const EMPTY_VERSION = hashParts([]);

function hashParts(parts: readonly (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

/** The encoded resources of one node, per type URL (frozen; build with `Snapshot.build`). */
export class Snapshot {
  readonly #types: ReadonlyMap<string, SnapshotType>;

  private constructor(types: ReadonlyMap<string, SnapshotType>) {
    this.#types = types;
    Object.freeze(this);
  }

  /** Encodes every resource; errors name the type and resource (`CDS[backend]: ...`). */
  static build(resources: NodeResources): Result<Snapshot> {
    const errors: string[] = [];
    const types = new Map<string, SnapshotType>();
    const urls = Object.keys(resources).sort() as ResourceTypeUrl[];
    for (const typeUrl of urls) {
      const list = resources[typeUrl] ?? [];
      const short = ShortName[typeUrl] ?? typeUrl;
      const byName = new Map<string, SnapshotResource>();
      for (const [i, r] of list.entries()) {
        if (typeof r.name !== 'string' || r.name === '') {
          errors.push(`${short}[${i}]: resource without a name`);
          continue;
        }
        if (byName.has(r.name)) {
          errors.push(`${short}[${r.name}]: duplicate resource name`);
          continue;
        }
        let any: AnyMessage;
        try {
          any = packAny(typeUrl, r.resource);
        } catch (e) {
          errors.push(`${short}[${r.name}]: ${(e as Error).message}`);
          continue;
        }
        byName.set(r.name, Object.freeze({ name: r.name, version: hashParts([any.value]), any }));
      }
      const names = [...byName.keys()].sort();
      const sorted = new Map<string, SnapshotResource>();
      const parts: (string | Uint8Array)[] = [];
      for (const n of names) {
        const res = byName.get(n)!;
        sorted.set(n, res);
        parts.push(n, res.any.value);
      }
      types.set(typeUrl, Object.freeze({ typeUrl, version: hashParts(parts), resources: sorted }));
    }
    if (errors.length > 0) return err(errors);
    return ok(new Snapshot(types));
  }

  /** The version of `typeUrl`'s resources; a type without resources has the (constant) empty version. */
  version(typeUrl: string): string {
    return this.#types.get(typeUrl)?.version ?? EMPTY_VERSION;
  }

  resources(typeUrl: string): ReadonlyMap<string, SnapshotResource> {
    return this.#types.get(typeUrl)?.resources ?? EMPTY_RESOURCES;
  }

  /** Type URLs holding at least one resource, in XDS_ORDER then by name. */
  typeUrls(): string[] {
    const present = [...this.#types.keys()].filter((u) => this.#types.get(u)!.resources.size > 0);
    const known = XDS_ORDER.filter((u) => present.includes(u));
    return [...known, ...present.filter((u) => !(XDS_ORDER as readonly string[]).includes(u)).sort()];
  }

  /** True when every type has the same version in both snapshots. */
  sameAs(other: Snapshot): boolean {
    const urls = new Set([...this.#types.keys(), ...other.#types.keys()]);
    for (const u of urls) if (this.version(u) !== other.version(u)) return false;
    return true;
  }
}
