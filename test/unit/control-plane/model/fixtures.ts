// Helpers of the mesh config tests: fixture paths, and parsing a config that must be rejected or accepted.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { parseMeshConfig, type World } from '../../../../control-plane/model/index.js';

/** The path of test/fixtures/mesh/`name`. */
export const fixture = (name: string): string => fileURLToPath(new URL(`../../../../../test/fixtures/mesh/${name}`, import.meta.url));

/** The errors of a config that must be rejected. */
export function errorsOf(text: string): string[] {
  const r = parseMeshConfig(text, 'mesh.yaml');
  assert.equal(r.ok, false, 'expected the config to be rejected');
  return r.ok ? [] : r.errors;
}

/** The World of a config that must be accepted (fails the test with its errors otherwise). */
export function worldOf(text: string): World {
  const r = parseMeshConfig(text, 'mesh.yaml');
  if (!r.ok) assert.fail(r.errors.join('\n'));
  return r.value;
}
