// `tessera token`: prints a bootstrap token binding a node id to a workload identity (namespace, service account),
// signed with the control plane's token key. The sidecar sends it on its xDS stream and certificate requests.
import { UsageError } from '../core/errors.js';
import { issueToken, loadOrCreateTokenKey } from '../tls/bootstrap-token.js';
import { helpText, parseCommand, type CommandSpec } from './args.js';

const SPEC: CommandSpec = {
  name: 'token',
  synopsis: 'tessera token --node <node-id> --namespace <ns> --service-account <sa> [--ca-dir .tessera/ca] [--ttl <seconds>]',
  description:
    'Signs a bootstrap token with the token key in --ca-dir (the control plane\'s; created there if missing) and\n' +
    'prints it. A sidecar presenting it may fetch config as <node-id> and receives certificates for\n' +
    'spiffe://<trust-domain>/ns/<ns>/sa/<sa>. Anyone holding the token can do the same: keep it like a password.',
  options: {
    node: { type: 'string', help: 'the node id the sidecar uses' },
    namespace: { type: 'string', help: 'workload namespace' },
    'service-account': { type: 'string', help: 'workload service account' },
    'ca-dir': { type: 'string', help: 'where the control plane keeps its CA and token key', default: '.tessera/ca' },
    ttl: { type: 'string', help: 'token lifetime in seconds (0 = no expiry)', default: '0' },
  },
};

export async function tokenCommand(argv: string[]): Promise<number> {
  const p = parseCommand(SPEC, argv);
  if (p.help) {
    process.stdout.write(`${helpText(SPEC)}\n`);
    return 0;
  }
  const node = p.values.node;
  const ns = p.values.namespace;
  const sa = p.values['service-account'];
  if (typeof node !== 'string' || typeof ns !== 'string' || typeof sa !== 'string') {
    throw new UsageError(`--node, --namespace and --service-account are required\n\n${helpText(SPEC)}`);
  }
  const ttl = Number(p.values.ttl);
  if (!Number.isInteger(ttl) || ttl < 0) throw new UsageError(`--ttl: expected whole seconds, got "${String(p.values.ttl)}"`);
  const key = await loadOrCreateTokenKey(String(p.values['ca-dir']));
  try {
    process.stdout.write(`${await issueToken(key, { nodeId: node, namespace: ns, serviceAccount: sa }, ttl)}\n`);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return 0;
}
