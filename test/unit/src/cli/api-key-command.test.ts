import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { apikeyCommand, hashApiKey, newApiKey } from '../../../../src/cli/apikey-command.js';
import { UsageError } from '../../../../src/core/errors.js';

async function run(argv: string[], stdin: (string | Buffer)[] = []): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await apikeyCommand(argv, {
    stdin: (async function* () {
      yield* stdin;
    })(),
    stdout: { write: (s: string) => (out += s) },
  });
  return { code, out };
}

test('hash: prints the lower-case hex SHA-256 of the key on stdin, one trailing newline (LF or CRLF) dropped', async () => {
  const want = createHash('sha256').update('tsk_example').digest('hex');
  for (const input of [['tsk_example'], ['tsk_example\n'], ['tsk_', 'example\r\n'], [Buffer.from('tsk_example\n')]]) {
    assert.deepEqual(await run(['hash'], input), { code: 0, out: `${want}\n` });
  }
  // Only one newline is dropped: the rest is part of the key.
  assert.notEqual((await run(['hash'], ['tsk_example\n\n'])).out, `${want}\n`);
  assert.equal(hashApiKey('tsk_example'), want);
});

test('hash: an empty or oversized key is a usage error', async () => {
  await assert.rejects(run(['hash'], []), (e: unknown) => e instanceof UsageError && /no key on stdin/.test(e.message));
  await assert.rejects(run(['hash'], ['\n']), UsageError);
  await assert.rejects(run(['hash'], ['x'.repeat(5000)]), /longer than 4096 bytes/);
});

test('new: a fresh 256-bit key with the prefix, and its hash; two calls never repeat', async () => {
  const a = JSON.parse((await run(['new'])).out) as { key: string; sha256: string };
  assert.match(a.key, /^tsk_[A-Za-z0-9_-]{43}$/);
  assert.equal(a.sha256, hashApiKey(a.key));
  const b = JSON.parse((await run(['new', '--prefix', 'acme_'])).out) as { key: string; sha256: string };
  assert.match(b.key, /^acme_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(newApiKey('').key, newApiKey('').key);
  await assert.rejects(run(['new', '--prefix', 'a b']), /--prefix/);
});

test('usage: --help, a missing or unknown subcommand, extra arguments', async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /tessera apikey new/);
  await assert.rejects(run([]), /a subcommand is required/);
  await assert.rejects(run(['rotate']), /unknown subcommand "rotate"/);
  await assert.rejects(run(['new', 'extra']), /unexpected argument "extra"/);
});
