// Shared option parsing for CLI commands: node:util parseArgs with --help and errors as UsageError.
import { writeSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/errors.js';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly help: string;
  readonly default?: string | boolean;
}

export interface CommandSpec {
  readonly name: string;
  readonly synopsis: string;
  readonly description: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly allowPositionals?: boolean;
}

export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([k, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${k}${o.type === 'string' ? ' <value>' : ''}`;
    const def = o.default !== undefined && o.default !== false ? ` (default ${String(o.default)})` : '';
    return `  ${flag.padEnd(30)} ${o.help}${def}`;
  });
  return [`usage: ${spec.synopsis}`, '', spec.description, '', 'options:', ...rows, `  ${'-h, --help'.padEnd(30)} show this help`].join('\n');
}

export interface Parsed {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
  readonly help: boolean;
}

/** Parses argv; `--help` yields help=true (the caller prints helpText and returns 0). */
export function parseCommand(spec: CommandSpec, argv: string[]): Parsed {
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const [k, o] of Object.entries(spec.options)) {
    options[k] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.default !== undefined ? { default: o.default } : {}) };
  }
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: spec.allowPositionals ?? false, strict: true });
    const values = r.values as Record<string, string | boolean | undefined>;
    return { values, positionals: r.positionals, help: values.help === true };
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${helpText(spec)}`);
  }
}

export function parsePort(value: string | boolean | undefined, flag: string): number {
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n > 65535) throw new UsageError(`--${flag}: expected a port 0-65535, got '${String(value)}'`);
  return n;
}

export function parseHostPort(value: string, flag: string): { address: string; port: number } {
  const i = value.lastIndexOf(':');
  if (i <= 0) throw new UsageError(`--${flag}: expected host:port, got '${value}'`);
  const host = value.slice(0, i).replace(/^\[|\]$/g, '');
  return { address: host, port: parsePort(value.slice(i + 1), flag) };
}

/**
 * Prints one JSON line on stdout: the readiness signal tests and `tessera demo` wait for. One write(2) of a
 * short line, so it never interleaves with the logger's lines on the same descriptor (start-up only).
 */
export function announce(event: Record<string, unknown>): void {
  writeSync(1, `${JSON.stringify(event)}\n`);
}
