// Result<T>: the value every boundary validator returns; errors are strings prefixed with a field path.
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: string[] };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function err<T = never>(errors: string | string[]): Result<T> {
  return { ok: false, errors: Array.isArray(errors) ? errors : [errors] };
}

/** Prefixes each error with `path` (`path.sub: msg` or `path: msg`). */
export function prefixErrors(path: string, errors: readonly string[]): string[] {
  if (path === '') return [...errors];
  return errors.map((e) => (e.startsWith('[') ? `${path}${e}` : `${path}.${e}`));
}

/** Recursively freezes a plain value tree (objects and arrays). */
export function deepFreeze<T>(value: T): T {
  // Typed arrays (Buffers) cannot be frozen: they stay as they are.
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && !ArrayBuffer.isView(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
