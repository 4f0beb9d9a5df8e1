// `tessera control-plane --config mesh.yaml`: serves xDS for the mesh config and watches it for edits.
import { ControlPlane } from '../../control-plane/control-plane.js';
import { createLogger } from '../observability/logger.js';
import { UsageError } from '../core/errors.js';
import { announce, helpText, parseCommand, parsePort, type CommandSpec } from './args.js';

const SPEC: CommandSpec = {
  name: 'control-plane',
  synopsis: 'tessera control-plane --config <mesh.yaml> [--xds-port 18000] [--admin-port 18001] [--host 127.0.0.1]',
  description:
    'Translates the mesh config into Envoy v3 resources per proxy and serves them over ADS (state of the world and\n' +
    'delta, one port). Edits to the file are validated and pushed within a second; an invalid edit is logged and\n' +
    'nothing is pushed. Prints one JSON line {"event":"ready",...} on stdout when serving.',
  options: {
    config: { type: 'string', short: 'c', help: 'mesh config file (YAML)' },
    host: { type: 'string', help: 'address to bind the xDS and admin ports', default: '127.0.0.1' },
    'xds-port': { type: 'string', help: 'ADS gRPC port (0 = any free port)', default: '18000' },
    'admin-port': { type: 'string', help: 'admin HTTP port (0 = any free port, "off" = none)', default: '18001' },
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
  const cp = new ControlPlane({
    configPath: config,
    host: String(p.values.host),
    xdsPort: parsePort(p.values['xds-port'], 'xds-port'),
    adminPort: adminArg === 'off' ? null : parsePort(adminArg, 'admin-port'),
    logger,
  });
  await cp.start();
  announce({ event: 'ready', role: 'control-plane', xds_port: cp.xdsPort, admin_port: cp.adminPort, pid: process.pid });
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
