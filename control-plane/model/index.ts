// Mesh config model: parse/validate mesh.yaml into a World, load it from disk, and the one-shot validator.
import { readFile } from 'node:fs/promises';
import { err, type Result } from '../../src/core/result.js';
import { parseMeshConfig } from './parse-mesh.js';
import type { World } from './mesh-types.js';

export * from './mesh-types.js';
export { parseMeshConfig } from './parse-mesh.js';

/** Reads and validates a mesh config file; a read failure is one error naming the file. */
export async function loadMeshConfig(path: string): Promise<Result<World>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return err(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseMeshConfig(text, path);
}

/** All errors of a mesh config file (empty when valid), for `tessera validate`. */
export async function validateMeshFile(path: string): Promise<string[]> {
  const r = await loadMeshConfig(path);
  return r.ok ? [] : r.errors;
}
