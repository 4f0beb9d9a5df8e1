// The `tessera` CLI: parses the subcommand and hands off to its module; exit 0 ok, 2 usage/config error, 1 failure.
import { ConfigError, TesseraError, UsageError } from '../core/errors.js';

interface Command {
  readonly summary: string;
  readonly run: (argv: string[]) => Promise<number>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  'control-plane': {
    summary: 'serve xDS (ADS, SotW and delta) for a mesh config file, watching it for edits',
    run: async (argv) => (await import('./control-plane-command.js')).controlPlaneCommand(argv),
  },
  sidecar: {
    summary: 'run a proxy from an Envoy v3 bootstrap (or --node-id/--xds shorthand)',
    run: async (argv) => (await import('./sidecar-command.js')).sidecarCommand(argv),
  },
  gateway: {
    summary: 'run an edge gateway proxy (a sidecar whose node id names a gateway in the mesh config)',
    run: async (argv) => (await import('./sidecar-command.js')).sidecarCommand(argv),
  },
  run: {
    summary: 'start a service command with its sidecar beside it; both stop together',
    run: async (argv) => (await import('./run-command.js')).runCommand(argv),
  },
  demo: {
    summary: 'start a whole local mesh: control plane, sample services with sidecars, an edge gateway',
    run: async (argv) => (await import('./demo-command.js')).demoCommand(argv),
  },
  validate: {
    summary: 'check a mesh config file and print every error (file:line:col: field: message)',
    run: async (argv) => (await import('./validate-command.js')).validateCommand(argv),
  },
  token: {
    summary: 'print a bootstrap token binding a node id to a workload identity (zero-trust mode)',
    run: async (argv) => (await import('./token-command.js')).tokenCommand(argv),
  },
  apikey: { summary: 'make an API key and its SHA-256 (new), or hash a key from stdin (hash)', run: async (argv) => (await import('./apikey-command.js')).apikeyCommand(argv) },
  ca: { summary: "show or rotate the mesh CA's trust bundle through the control plane's admin API", run: async (argv) => (await import('./ca-command.js')).caCommand(argv) },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'usage: tessera <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'Run `tessera <command> --help` for the options of one command.',
    'Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write('tessera 0.1.0\n');
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`tessera: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`tessera ${name}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.errors.join('\n')}\n`);
      return 2;
    }
    if (e instanceof TesseraError) {
      process.stderr.write(`tessera ${name}: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`tessera ${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// A finished command exits even if a library left a handle open; the grace lets async logs flush.
setTimeout(() => process.exit(code), 1000).unref();
