// The path of an origin-form request target: everything before '?' or '#' (route and filter matches look at it).

/** `target` without its query and fragment (the same string when it has neither). */
export function targetPath(target: string): string {
  let end = target.length;
  const q = target.indexOf('?');
  if (q !== -1) end = q;
  const hash = target.indexOf('#');
  if (hash !== -1 && hash < end) end = hash;
  return end === target.length ? target : target.slice(0, end);
}

/** The query of `target` (after '?', before '#'), or null when it has none. */
export function targetQuery(target: string): string | null {
  const q = target.indexOf('?');
  if (q === -1) return null;
  const hash = target.indexOf('#');
  if (hash !== -1 && hash < q) return null; // the '?' is inside the fragment
  return target.slice(q + 1, hash === -1 ? target.length : hash);
}
