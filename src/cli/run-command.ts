// `tessera run --service NAME --config mesh.yaml -- CMD ...`: starts CMD with its sidecar beside it (in this
// process); the app learns its port and dependencies from the environment; both stop together.
import { spawn } from 'node:child_process';
import { loadMeshConfig, type InstanceConfig, type ServiceConfig } from '../../control-plane/model/index.js';
import { Sidecar } from '../../sidecar/server.js';
import { bootstrapFromFlags } from '../config/bootstrap.js';
import { ConfigError, UsageError } from '../core/errors.js';
import { createLogger } from '../observability/logger.js';
import { announce, helpText, parseCommand, parseHostPort, parsePort, type CommandSpec } from './args.js';

const SPEC: CommandSpec = {
  name: 'run',
  synopsis: 'tessera run --service <name> --config <mesh.yaml> [--instance <id>] [--xds host:port] -- <command> [args...]',
  description:
    "Starts <command> with a sidecar beside it. The sidecar's node id is the instance id from the mesh config;\n" +
    'the command gets PORT (its app port), SERVICE_NAME, INSTANCE_ID, SERVICE_VERSION (label `version`) and\n' +
    'DEPENDENCIES (JSON: service → http://127.0.0.1:<outbound port>) in its environment. When the command\n' +
    'exits the sidecar drains and stops; SIGTERM/SIGINT go to the command and the sidecar drains.',
  options: {
    service: { type: 'string', short: 's', help: 'service name in the mesh config' },
    config: { type: 'string', short: 'c', help: 'mesh config file' },
    instance: { type: 'string', help: 'instance id (required when the service has several)' },
    xds: { type: 'string', help: 'control plane ADS address', default: '127.0.0.1:18000' },
    'admin-port': { type: 'string', help: 'sidecar admin port on 127.0.0.1 (0 = any free port)', default: '0' },
    'access-log': { type: 'string', help: 'access log file, or "off" (default: stdout of this process)' },
    'drain-timeout': { type: 'string', help: 'drain time, ms', default: '5000' },
  },
  allowPositionals: true,
};

function pickInstance(service: ServiceConfig, id: string | undefined): InstanceConfig {
  if (id !== undefined) {
    const inst = service.instances.find((i) => i.id === id);
    if (!inst) throw new UsageError(`--instance: service '${service.name}' has no instance '${id}' (has: ${service.instances.map((i) => i.id).join(', ')})`);
    return inst;
  }
  if (service.instances.length !== 1) {
    throw new UsageError(`--instance is required: service '${service.name}' has ${service.instances.length} instances (${service.instances.map((i) => i.id).join(', ')})`);
  }
  return service.instances[0]!;
}

export async function runCommand(argv: string[]): Promise<number> {
  const p = parseCommand(SPEC, argv);
  if (p.help) {
    process.stdout.write(`${helpText(SPEC)}\n`);
    return 0;
  }
  const { service: serviceName, config } = p.values;
  if (typeof serviceName !== 'string' || typeof config !== 'string') throw new UsageError(`--service and --config are required\n\n${helpText(SPEC)}`);
  if (p.positionals.length === 0) throw new UsageError(`a command to run is required after --\n\n${helpText(SPEC)}`);
  const world = await loadMeshConfig(config);
  if (!world.ok) throw new ConfigError(world.errors);
  const service = world.value.services.get(serviceName);
  if (!service) throw new UsageError(`--service: '${serviceName}' is not declared in ${config} (declared: ${[...world.value.services.keys()].join(', ')})`);
  const instance = pickInstance(service, typeof p.values.instance === 'string' ? p.values.instance : undefined);
  const xds = parseHostPort(String(p.values.xds), 'xds');
  const drain = Number(p.values['drain-timeout']);

  const logger = createLogger({ name: 'sidecar', fd: 2 }).child({ node_id: instance.id });
  const sidecar = new Sidecar({
    bootstrap: bootstrapFromFlags({ nodeId: instance.id, cluster: service.name, xds: `${xds.address}:${xds.port}`, adminPort: parsePort(p.values['admin-port'], 'admin-port') }),
    logger,
    accessLogPath: typeof p.values['access-log'] === 'string' ? p.values['access-log'] : null,
    drainTimeoutMs: Number.isFinite(drain) ? drain : 5000,
  });
  await sidecar.start();

  const deps = Object.fromEntries(service.dependencies.map((d) => [d.service, `http://127.0.0.1:${d.port}`]));
  const [cmd, ...args] = p.positionals as [string, ...string[]];
  const child = spawn(cmd, args, {
    stdio: ['inherit', 2, 2],
    env: {
      ...process.env,
      PORT: String(instance.port),
      SERVICE_NAME: service.name,
      INSTANCE_ID: instance.id,
      SERVICE_VERSION: instance.labels.version ?? '',
      DEPENDENCIES: JSON.stringify(deps),
      TESSERA_ADMIN: `http://127.0.0.1:${sidecar.adminPort}`,
    },
  });
  const childExit = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    child.once('error', (e) => {
      logger.error({ err: e.message }, 'command failed to start');
      resolve(127);
    });
  });
  announce({ event: 'ready', role: 'run', node_id: instance.id, service: service.name, app_port: instance.port, admin_port: sidecar.adminPort, app_pid: child.pid ?? null, pid: process.pid });

  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    signalled = true;
    child.kill(sig);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const code = await childExit;
  await sidecar.shutdown();
  return signalled ? 0 : code;
}
