// `tessera validate <mesh.yaml>`: prints every error of a mesh config (file:line:col: field: message).
import { validateMeshFile } from '../../control-plane/model/index.js';
import { UsageError } from '../core/errors.js';
import { helpText, parseCommand, type CommandSpec } from './args.js';

const SPEC: CommandSpec = {
  name: 'validate',
  synopsis: 'tessera validate <mesh.yaml>',
  description: 'Checks a mesh config and prints all of its errors. Exit 0 when valid, 2 when not.',
  options: {},
  allowPositionals: true,
};

export async function validateCommand(argv: string[]): Promise<number> {
  const p = parseCommand(SPEC, argv);
  if (p.help) {
    process.stdout.write(`${helpText(SPEC)}\n`);
    return 0;
  }
  if (p.positionals.length !== 1) throw new UsageError(`expected exactly one mesh config file\n\n${helpText(SPEC)}`);
  const file = p.positionals[0]!;
  const errors = await validateMeshFile(file);
  if (errors.length > 0) {
    process.stderr.write(`${errors.join('\n')}\n${file}: ${errors.length} error${errors.length === 1 ? '' : 's'}\n`);
    return 2;
  }
  process.stdout.write(`${file}: valid\n`);
  return 0;
}
