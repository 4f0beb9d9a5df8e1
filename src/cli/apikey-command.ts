// `tessera apikey`: the two steps of handing out an API key for tessera.filters.http.api_key (docs/api-keys.md).
// `new` prints a fresh random key and its SHA-256 (give the key to the consumer, put only the hash in config);
// `hash` reads a key from stdin and prints its SHA-256. The key is printed only by `new` and never stored.
import { createHash, randomBytes } from 'node:crypto';
import { UsageError } from '../core/errors.js';
import { helpText, parseCommand, type CommandSpec } from './args.js';

const SPEC: CommandSpec = {
  name: 'apikey',
  synopsis: 'tessera apikey new [--prefix tsk_] | tessera apikey hash < key.txt',
  description:
    'new:  prints {"key": …, "sha256": …} for a fresh key (32 random bytes, base64url, after --prefix).\n' +
    '      Give the key to the consumer; put only the sha256 in the api_key filter config.\n' +
    'hash: reads one key from stdin (one trailing newline is dropped) and prints the lower-case hex SHA-256\n' +
    '      of its bytes, as consumers[].keys[].sha256 expects.',
  options: {
    prefix: { type: 'string', help: 'text in front of a new key (helps secret scanners spot leaked keys)', default: 'tsk_' },
  },
  allowPositionals: true,
};

/** Keys longer than this on stdin are refused (a key is a short token, not a file). */
const MAX_KEY_BYTES = 4096;

/** The lower-case hex SHA-256 of a key's bytes. */
export function hashApiKey(key: Buffer | string): string {
  return createHash('sha256').update(typeof key === 'string' ? Buffer.from(key, 'utf8') : key).digest('hex');
}

/** A fresh key: `prefix` + 32 random bytes as base64url (256 bits), and its hash. */
export function newApiKey(prefix: string): { key: string; sha256: string } {
  const key = `${prefix}${randomBytes(32).toString('base64url')}`;
  return { key, sha256: hashApiKey(key) };
}

/** Where the command reads and writes (process.stdin / process.stdout; tests pass their own). */
export interface ApiKeyCommandIo {
  readonly stdin: AsyncIterable<Buffer | string>;
  readonly stdout: { write(s: string): unknown };
}

async function readKey(stdin: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stdin) {
    const b = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
    n += b.length;
    if (n > MAX_KEY_BYTES + 2) throw new UsageError(`the key on stdin is longer than ${MAX_KEY_BYTES} bytes`);
    chunks.push(b);
  }
  let key = Buffer.concat(chunks);
  if (key.length > 0 && key[key.length - 1] === 0x0a) key = key.subarray(0, key.length - (key.length > 1 && key[key.length - 2] === 0x0d ? 2 : 1));
  if (key.length === 0) throw new UsageError('no key on stdin (an empty key is never valid)');
  if (key.length > MAX_KEY_BYTES) throw new UsageError(`the key on stdin is longer than ${MAX_KEY_BYTES} bytes`);
  return key;
}

export async function apikeyCommand(argv: string[], io: ApiKeyCommandIo = { stdin: process.stdin, stdout: process.stdout }): Promise<number> {
  const p = parseCommand(SPEC, argv);
  if (p.help) {
    io.stdout.write(`${helpText(SPEC)}\n`);
    return 0;
  }
  const [sub, ...extra] = p.positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]!}"\n\n${helpText(SPEC)}`);
  if (sub === 'new') {
    const prefix = String(p.values.prefix);
    if (!/^[A-Za-z0-9_-]*$/.test(prefix)) throw new UsageError(`--prefix: only letters, digits, "_" and "-", got "${prefix}"`);
    io.stdout.write(`${JSON.stringify(newApiKey(prefix))}\n`);
    return 0;
  }
  if (sub === 'hash') {
    io.stdout.write(`${hashApiKey(await readKey(io.stdin))}\n`);
    return 0;
  }
  throw new UsageError(`${sub === undefined ? 'a subcommand is required' : `unknown subcommand "${sub}"`} (new, hash)\n\n${helpText(SPEC)}`);
}
