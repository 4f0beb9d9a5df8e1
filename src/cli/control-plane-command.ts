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
    'With a trust domain (--trust-domain, or mesh.trust_domain in the file) it also runs the mesh CA: xDS is served\n' +
    'over TLS, every stream and certificate request must carry a bootstrap token (`tessera token`), sidecars get\n' +
    'SPIFFE certificates for their workloads, and mesh traffic gets mTLS per the config\'s mtls modes. When both are\n' +
    'given they must agree. The trust bundle rotates with `tessera ca rotate` (docs/security.md).',
  options: {
    config: { type: 'string', short: 'c', help: 'mesh config file (YAML)' },
    host: { type: 'string', help: 'address to bind the xDS and admin ports', default: '127.0.0.1' },
    'xds-port': { type: 'string', help: 'ADS gRPC port (0 = any free port)', default: '18000' },
    'admin-port': { type: 'string', help: 'admin HTTP port (0 = any free port, "off" = none)', default: '18001' },
    'trust-domain': { type: 'string', help: 'SPIFFE trust domain (default: mesh.trust_domain): turns on the CA, xDS over TLS, tokens and mTLS' },
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
  const sec = cp.security;
  announce({
    event: 'ready', role: 'control-plane', xds_port: cp.xdsPort, admin_port: cp.adminPort, pid: process.pid,
    ...(sec === null ? {} : { trust_domain: sec.trustDomain, ca_dir: security.dir, control_plane_id: sec.controlPlaneId }),
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

/** The CA's directory always; the trust domain when given (else the mesh file's decides whether a CA runs). */
function securityOptions(v: Record<string, string | boolean | undefined>): NonNullable<ControlPlaneOptions['security']> {
  const td = v['trust-domain'];
  const files = [v['ca-cert'], v['ca-key'], v['ca-root']];
  if (typeof td === 'string' && !isValidTrustDomain(td)) throw new UsageError(`--trust-domain "${td}": lower-case letters, digits, '.', '_' and '-' only`);
  const trustDomain = typeof td === 'string' ? td : undefined;
  const dir = String(v['ca-dir']);
  if (files.every((f) => f === undefined)) return { trustDomain, dir };
  if (files.some((f) => typeof f !== 'string')) throw new UsageError('--ca-cert, --ca-key and --ca-root go together');
  return { trustDomain, dir, caFiles: { certChainFile: String(files[0]), keyFile: String(files[1]), rootFile: String(files[2]) } };
}
