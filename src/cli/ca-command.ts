// `tessera ca status|rotate <step>`: the mesh CA's trust bundle and its rotation, through the control plane's
// admin API (loopback only).
import http from 'node:http';
import { UsageError } from '../core/errors.js';
import { helpText, parseCommand, parseHostPort, type CommandSpec } from './args.js';

const STEPS = ['prepare', 'activate', 'finish'] as const;

const SPEC: CommandSpec = {
  name: 'ca',
  synopsis: 'tessera ca status --admin <host:port> | tessera ca rotate <prepare|activate|finish> --admin <host:port> [--force]',
  description:
    'Shows or rotates the mesh CA\'s root through the control plane\'s admin port (loopback only). A rotation has three\n' +
    'steps, each pushing the new trust bundle (ROOTCA) to every sidecar at once:\n' +
    '  prepare   generate a new root; sidecars trust the old and the new one\n' +
    '  activate  new certificates are signed by the new root (the old one is still trusted)\n' +
    '  finish    drop the old root (refused while certificates it signed may still be valid, unless --force)\n' +
    'Between steps, give sidecars <ca-dir>/trust-bundle.pem as their --xds-ca, and wait for every sidecar to renew\n' +
    'its certificate before finish. Prints the CA\'s state as JSON.',
  options: {
    admin: { type: 'string', help: "the control plane's admin address, e.g. 127.0.0.1:18001" },
    force: { type: 'boolean', help: 'finish even though leaves of the old root may still be valid' },
  },
  allowPositionals: true,
};

function request(admin: { address: string; port: number }, method: 'GET' | 'POST', path: string, body: string | null): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: admin.address,
        port: admin.port,
        method,
        path,
        timeout: 30_000,
        headers: body === null ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

export async function caCommand(argv: string[]): Promise<number> {
  const p = parseCommand(SPEC, argv);
  if (p.help) {
    process.stdout.write(`${helpText(SPEC)}\n`);
    return 0;
  }
  const [action, step, ...extra] = p.positionals;
  const adminArg = p.values.admin;
  if (typeof adminArg !== 'string') throw new UsageError(`--admin is required\n\n${helpText(SPEC)}`);
  const admin = parseHostPort(adminArg, 'admin');
  let req: [method: 'GET' | 'POST', path: string, body: string | null];
  if (action === 'status' && step === undefined) req = ['GET', '/ca', null];
  else if (action === 'rotate' && extra.length === 0 && (STEPS as readonly string[]).includes(step ?? '')) {
    req = ['POST', `/ca/rotate/${step}`, JSON.stringify(p.values.force === true ? { force: true } : {})];
  } else {
    throw new UsageError(`expected \`status\` or \`rotate ${STEPS.join('|')}\`, got '${p.positionals.join(' ')}'\n\n${helpText(SPEC)}`);
  }
  let res: { status: number; text: string };
  try {
    res = await request(admin, ...req);
  } catch (e) {
    process.stderr.write(`tessera ca: cannot reach the control plane's admin API at ${adminArg}: ${(e as Error).message}\n`);
    return 1;
  }
  if (res.status !== 200) {
    let message = res.text.trim();
    try {
      message = String((JSON.parse(res.text) as { error?: unknown }).error ?? message);
    } catch {
      // not JSON: print as is
    }
    process.stderr.write(`tessera ca: ${res.status}: ${message}\n`);
    return 1;
  }
  process.stdout.write(res.text.endsWith('\n') ? res.text : `${res.text}\n`);
  return 0;
}

