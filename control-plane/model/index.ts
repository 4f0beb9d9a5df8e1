// Mesh config model: parse/validate mesh.yaml into a World, load it (and the files it names) from disk, and the one-shot validator.
import { readFile } from 'node:fs/promises';
import { err, ok, type Result } from '../../src/core/result.js';
import { parseMeshConfig, referencedFiles, type MeshFiles, type ParseOptions } from './parse-mesh.js';
import type { World } from './mesh-types.js';

export * from './mesh-types.js';
export { parseMeshConfig, referencedFiles, type MeshFiles, type ParseOptions } from './parse-mesh.js';

/** Reads every file (concurrently); a failure is kept as that file's error. */
export async function readMeshFiles(paths: readonly string[]): Promise<MeshFiles> {
  const out = new Map<string, Result<string>>();
  await Promise.all(
    paths.map(async (p) => {
      try {
        out.set(p, ok(await readFile(p, 'utf8')));
      } catch (e) {
        out.set(p, err((e as NodeJS.ErrnoException).code ?? (e as Error).message));
      }
    }),
  );
  return out;
}

/** Validates config text after reading the files it names; also returns those files' contents (for change detection). */
export async function parseMeshText(
  text: string,
  fileName: string,
  opts: Omit<ParseOptions, 'files'> = {},
): Promise<{ world: Result<World>; files: MeshFiles }> {
  const files = await readMeshFiles(referencedFiles(text, fileName));
  return { world: parseMeshConfig(text, fileName, { ...opts, files }), files };
}

/** Reads and validates a mesh config file and the files it names; a read failure is one error naming the file. */
export async function loadMeshConfig(path: string, opts: Omit<ParseOptions, 'files'> = {}): Promise<Result<World>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return err(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return (await parseMeshText(text, path, opts)).world;
}

/** All errors of a mesh config file (empty when valid), for `tessera validate`. */
export async function validateMeshFile(path: string): Promise<string[]> {
  const r = await loadMeshConfig(path);
  return r.ok ? [] : r.errors;
}
