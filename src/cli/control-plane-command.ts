// `tessera control-plane --config mesh.yaml`: serves xDS for the mesh config and watches it for edits.
import { ControlPlane, type ControlPlaneOptions } from '../../control-plane/control-plane.js';
import { isValidTrustDomain } from '../tls/spiffe.js';
import { createLogger } from '../observability/logger.js';
import { UsageError } from '../core/errors.js';
import { announce, helpText, parseCommand, parsePort, type CommandSpec } from './args.js';

const SPEC: CommandSpec = {
  name: 'control-plane',
  synopsis: 'tessera control-plane --config <mesh.yaml> [--xds-port 18000] [--admin-port 18001] [--host 127.0.0.1] [--trust-domain <td> [--ca-dir <dir>]]',
  description:
    'Translates the mesh config into Envoy v3 resources per proxy and serves them over ADS (state of the world and\n' +
    'delta, one port). Edits to the file are validated and pushed within a second; an invalid edit is logged and\n' +
    'nothing is pushed. Prints one JSON line {"event":"ready",...} on stdout when serving.\n' +
    'With --trust-domain it also runs the mesh CA: xDS is served over TLS, every stream and certificate request\n' +
    'must carry a bootstrap token (`tessera token`), and sidecars get SPIFFE certificates for their workloads.',
  options: {
    config: { type: 'string', short: 'c', help: 'mesh config file (YAML)' },
    host: { type: 'string', help: 'address to bind the xDS and admin ports', default: '127.0.0.1' },
    'xds-port': { type: 'string', help: 'ADS gRPC port (0 = any free port)', default: '18000' },
    'admin-port': { type: 'string', help: 'admin HTTP port (0 = any free port, "off" = none)', default: '18001' },
    'trust-domain': { type: 'string', help: 'SPIFFE trust domain: turns on the CA, xDS over TLS and bootstrap tokens' },
    'ca-dir': { type: 'string', help: 'CA root, key (0600) and token key; created on first start', default: '.tessera/ca' },
    'ca-cert': { type: 'string', help: 'your signing CA certificate chain (PEM) instead of a generated root' },
    'ca-key': { type: 'string', help: 'the key of --ca-cert (EC P-256, PEM)' },
    'ca-root': { type: 'string', help: 'the root(s) --ca-cert chains to (PEM): the trust bundle' },
  },
};

export async function controlPlaneCommand(argv: string[]): Promise<number> {
  const p = parseCommand(SPEC, argv);
  if (p.help) {
    process.stdout.write(`${helpText(SPEC)}\n`);
    return 0;
  }
  const config = p.values.config;
  if (typeof config !== 'string') throw new UsageError(`--config is required\n\n${helpText(SPEC)}`);
  const adminArg = p.values['admin-port'];
  const logger = createLogger({ name: 'control-plane' });
  const security = securityOptions(p.values);
  const cp = new ControlPlane({
    security,
    configPath: config,
    host: String(p.values.host),
    xdsPort: parsePort(p.values['xds-port'], 'xds-port'),
    adminPort: adminArg === 'off' ? null : parsePort(adminArg, 'admin-port'),
    logger,
  });
  await cp.start();
  announce({
    event: 'ready', role: 'control-plane', xds_port: cp.xdsPort, admin_port: cp.adminPort, pid: process.pid,
    ...(security === undefined ? {} : { trust_domain: security.trustDomain, ca_dir: security.dir, control_plane_id: cp.security?.controlPlaneId }),
  });
  logger.info({ xds_port: cp.xdsPort, admin_port: cp.adminPort }, 'control plane serving');
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      logger.info({ signal: sig }, 'control plane stopping');
      void cp.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

function securityOptions(v: Record<string, string | boolean | undefined>): ControlPlaneOptions['security'] {
  const td = v['trust-domain'];
  const files = [v['ca-cert'], v['ca-key'], v['ca-root']];
  if (typeof td !== 'string') {
    if (files.some((f) => f !== undefined)) throw new UsageError('--ca-cert/--ca-key/--ca-root need --trust-domain');
    return undefined;
  }
  if (!isValidTrustDomain(td)) throw new UsageError(`--trust-domain "${td}": lower-case letters, digits, '.', '_' and '-' only`);
  const dir = String(v['ca-dir']);
  if (files.every((f) => f === undefined)) return { trustDomain: td, dir };
  if (files.some((f) => typeof f !== 'string')) throw new UsageError('--ca-cert, --ca-key and --ca-root go together');
  return { trustDomain: td, dir, caFiles: { certChainFile: String(files[0]), keyFile: String(files[1]), rootFile: String(files[2]) } };
}
