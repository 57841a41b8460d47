import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/config-error.ts';
import { loadConfigFile } from '../config/load-config.ts';
import { createLogger } from '../logging/logger.ts';
import { startGateway } from '../server.ts';
import type { AdminCommand } from './admin-commands.ts';

const USAGE = `Usage:
  tollgate serve --config FILE [--port N] [--host H]   run the gateway
  tollgate validate-config FILE                         check a config file, print every problem
  tollgate migrate --config FILE [--status]             create or upgrade the database schema
  tollgate keys create|list|info|update|rotate|revoke|block|unblock|delete|secret ...
  tollgate teams create|list|info|update|delete ...
  tollgate tenants create|list|info|update|delete ...
  tollgate audit [--actor A] [--action X] [--type T] [--object ID] [--since ISO] ...
  tollgate spend report [--group-by day,tenant,feature] [--from D] [--to D] [--format table|csv|json] ...
  tollgate spend reconcile --provider openai|anthropic --file EXPORT.csv   vendor export vs the ledger
  tollgate drill --alias NAME --config FILE|--url URL   fallback drill: block the primary, a secondary must serve
  tollgate smoke --url URL --key KEY [--strict]         post-deploy check: health, models, a call, a stream, its ledger row
  tollgate --version | --help
  tollgate <command> --help                             the options of one command

keys, teams, tenants, audit and spend act on the database of --config FILE (for spend: the
cost ledger's), or through a running gateway's admin API with --url URL (--admin-key KEY); add
--json for output to scripts.

Environment:
  TOLLGATE_MASTER_KEY   the admin/master key (overrides general_settings.master_key)
  TOLLGATE_URL          gateway URL for the admin commands, spend, drill and smoke (instead of --url)
  TOLLGATE_ADMIN_KEY    admin key for the admin commands, spend and drill (else TOLLGATE_MASTER_KEY)
  TOLLGATE_SMOKE_KEY, TOLLGATE_SMOKE_ADMIN_KEY   smoke's --key and --admin-key`;

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

const defaultIO: CliIO = {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
  env: process.env,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function port(value: string | undefined, io: CliIO): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    io.err(`--port must be a whole number from 0 to 65535, got "${value}".`);
    return NaN;
  }
  return n;
}

async function validate(file: string | undefined, io: CliIO): Promise<number> {
  if (!file) {
    io.err(`validate-config needs a file.\n\n${USAGE}`);
    return 2;
  }
  try {
    const config = await loadConfigFile(file, { env: io.env });
    for (const warning of config.warnings) io.out(`warning: ${warning}`);
    for (const [alias, missing] of config.disabledAliases) io.out(`note: alias ${alias} is disabled until ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} set.`);
    const deployments = [...config.aliases.values()].reduce((n, a) => n + a.deployments.length, 0);
    io.out(`${file}: OK (${config.source.format} format, ${config.aliases.size} aliases, ${deployments} deployments).`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
}

async function serve(values: { config?: string; port?: string; host?: string }, io: CliIO): Promise<number> {
  if (!values.config) {
    io.err(`serve needs --config FILE.\n\n${USAGE}`);
    return 2;
  }
  const portValue = port(values.port, io);
  if (Number.isNaN(portValue)) return 2;
  let config;
  try {
    config = await loadConfigFile(values.config, { env: io.env, overrides: { ...(portValue !== undefined ? { port: portValue } : {}), ...(values.host ? { host: values.host } : {}) } });
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
  const logger = createLogger({ level: config.server.logLevel });
  for (const warning of config.warnings) logger.warn('config', { warning });
  for (const [alias, missing] of config.disabledAliases) logger.info('alias disabled', { alias, missing_env: missing });
  if (!config.masterKey) logger.warn('auth disabled: no master key configured; serving loopback only. Set TOLLGATE_MASTER_KEY to require a key.');
  let gateway;
  try {
    gateway = await startGateway({ config, logger });
  } catch (err) {
    logger.flush();
    const code = (err as NodeJS.ErrnoException).code;
    io.err(code === 'EADDRINUSE'
      ? `Port ${config.server.port} on ${config.server.host} is already in use. Stop the other process or pass --port.`
      : `Cannot start: ${(err as Error).message}`);
    return 1;
  }
  logger.info('tollgate listening', { url: gateway.url, config: values.config, format: config.source.format, aliases: [...config.aliases.keys()] });
  logger.flush();
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info('shutting down', { signal, in_flight: gateway.app.inFlight() });
      logger.flush();
      gateway.shutdown().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  logger.info('stopped');
  logger.flush();
  // Everything is flushed and closed. A telemetry client may still hold a retry timer for a
  // receiver that is down; it has nothing left to send, so it must not keep the process up.
  setTimeout(() => process.exit(0), 0).unref();
  return 0;
}

const ADMIN_COMMANDS = new Set(['keys', 'teams', 'tenants', 'audit']);

export async function runCli(argv: string[], io: CliIO = defaultIO): Promise<number> {
  // Loaded on demand, so `serve` never loads the admin client or its dependencies.
  const [first = '', ...args] = argv;
  if (ADMIN_COMMANDS.has(first)) return (await import('./admin-commands.ts')).runAdminCommand(first as AdminCommand, args, io);
  if (first === 'migrate') return (await import('./migrate-command.ts')).runMigrate(args, io);
  if (first === 'drill') return (await import('./drill-command.ts')).runDrill(args, io);
  if (first === 'spend') return (await import('./spend-command.ts')).runSpendCommand(args, io);
  if (first === 'smoke') return (await import('./smoke-command.ts')).runSmoke(args, io);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    io.out(version());
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    (command || values.help ? io.out : io.err)(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === 'serve') return serve(values, io);
  if (command === 'validate-config') return validate(rest[0] ?? values.config, io);
  io.err(`Unknown command "${command}".\n\n${USAGE}`);
  return 2;
}
