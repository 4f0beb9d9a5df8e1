// `tessera sidecar --bootstrap file` (or --node-id/--xds): runs one proxy; SIGTERM drains and exits 0.
import { readFile } from 'node:fs/promises';
import { bootstrapFromFlags, loadBootstrap, type BootstrapConfig } from '../config/bootstrap.js';
import { ConfigError, UsageError } from '../core/errors.js';
import { createLogger } from '../observability/logger.js';
import { Sidecar } from '../../sidecar/server.js';
import { announce, helpText, parseCommand, parseHostPort, parsePort, type CommandSpec } from './args.js';

const SPEC: CommandSpec = {
  name: 'sidecar',
  synopsis: 'tessera sidecar (--bootstrap <file> | --node-id <id> --xds <host:port>) [options]',
  description:
    "Runs a proxy configured by an Envoy v3 bootstrap (YAML or JSON; Tessera's documented subset) or by the\n" +
    'shorthand flags. Listeners, routes, clusters and endpoints come from static_resources and/or ADS.\n' +
    'Prints one JSON line {"event":"ready",...} on stdout once the first config is applied.',
  options: {
    bootstrap: { type: 'string', short: 'b', help: 'Envoy v3 bootstrap file (YAML or JSON)' },
    'node-id': { type: 'string', help: 'node id (builds a bootstrap with --xds)' },
    'node-cluster': { type: 'string', help: 'node cluster (with --node-id)' },
    xds: { type: 'string', help: 'control plane ADS address host:port (with --node-id)' },
    delta: { type: 'boolean', help: 'use incremental (delta) ADS with --node-id', default: false },
    'admin-port': { type: 'string', help: 'admin port on 127.0.0.1 with --node-id (0 = any free port)', default: '0' },
    'access-log': { type: 'string', help: 'access log file, or "off" (default: stdout)' },
    'drain-timeout': { type: 'string', help: 'drain time on SIGTERM and listener removal, ms', default: '5000' },
    'no-wait': { type: 'boolean', help: 'report ready before the control plane answered', default: false },
    'token-file': { type: 'string', help: 'bootstrap token (from `tessera token`) sent to the control plane (with --node-id)' },
    'xds-ca': { type: 'string', help: 'PEM root(s) the control plane certificate must chain to: xDS over TLS (with --node-id)' },
    'xds-san': { type: 'string', help: 'SPIFFE ID the control plane certificate must carry (with --xds-ca)' },
    'cert-ttl': { type: 'string', help: 'lifetime asked for the workload certificate, seconds (60..604800; default: the CA\'s, 24 h)' },
  },
};

async function resolveBootstrap(values: Record<string, string | boolean | undefined>): Promise<BootstrapConfig> {
  if (typeof values.bootstrap === 'string') {
    if (values['node-id'] !== undefined || values.xds !== undefined) throw new UsageError('--bootstrap excludes --node-id/--xds');
    const r = await loadBootstrap(values.bootstrap);
    if (!r.ok) throw new ConfigError(r.errors);
    return r.value;
  }
  if (typeof values['node-id'] !== 'string' || typeof values.xds !== 'string') {
    throw new UsageError(`either --bootstrap, or both --node-id and --xds are required\n\n${helpText(SPEC)}`);
  }
  const xds = parseHostPort(values.xds, 'xds');
  const token = typeof values['token-file'] === 'string' ? (await readFile(values['token-file'], 'utf8')).trim() : undefined;
  let xdsTls: { trustedCaPem: string; sanUris: string[] } | undefined;
  if (typeof values['xds-ca'] === 'string') {
    const pem = await readFile(values['xds-ca'], 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--xds-ca ${values['xds-ca']}: no PEM certificate`);
    xdsTls = { trustedCaPem: pem, sanUris: typeof values['xds-san'] === 'string' ? [values['xds-san']] : [] };
  } else if (values['xds-san'] !== undefined) throw new UsageError('--xds-san needs --xds-ca');
  return bootstrapFromFlags({
    token,
    xdsTls,
    nodeId: values['node-id'],
    cluster: typeof values['node-cluster'] === 'string' ? values['node-cluster'] : undefined,
    xds: `${xds.address}:${xds.port}`,
    adminPort: parsePort(values['admin-port'], 'admin-port'),
    delta: values.delta === true,
  });
}

export async function sidecarCommand(argv: string[]): Promise<number> {
  const p = parseCommand(SPEC, argv);
  if (p.help) {
    process.stdout.write(`${helpText(SPEC)}\n`);
    return 0;
  }
  const bootstrap = await resolveBootstrap(p.values);
  const drain = Number(p.values['drain-timeout']);
  if (!Number.isFinite(drain) || drain < 0) throw new UsageError('--drain-timeout: expected milliseconds');
  let certTtlSeconds: number | undefined;
  if (p.values['cert-ttl'] !== undefined) {
    certTtlSeconds = Number(p.values['cert-ttl']);
    if (!Number.isInteger(certTtlSeconds) || certTtlSeconds < 60 || certTtlSeconds > 604_800) throw new UsageError('--cert-ttl: expected seconds in 60..604800');
  }
  const logger = createLogger({ name: 'sidecar' }).child({ node_id: bootstrap.node.id });
  const sidecar = new Sidecar({
    bootstrap,
    certTtlSeconds,
    logger,
    accessLogPath: typeof p.values['access-log'] === 'string' ? p.values['access-log'] : null,
    drainTimeoutMs: drain,
  });
  let stopping: Promise<void> | null = null;
  const done = new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      logger.info({ signal: sig }, 'draining');
      stopping ??= sidecar.shutdown().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await sidecar.start({ waitForXds: p.values['no-wait'] !== true });
  announce({
    event: 'ready',
    role: 'sidecar',
    node_id: bootstrap.node.id,
    admin_port: sidecar.adminPort,
    listeners: sidecar.listeners.listeners(),
    pid: process.pid,
  });
  await done;
  return 0;
}
