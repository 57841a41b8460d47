// Where an admin command acts: directly on the database named in the config file (--config), or
// through a running gateway's admin API (--url, or TOLLGATE_URL). Both give an AdminService, so
// every command runs the same code either way.

import { userInfo } from 'node:os';
import type { Actor, AdminService } from '../admin/admin-service.ts';
import { createLocalAdminService } from '../admin/local-admin-service.ts';
import { createRemoteAdminService } from '../admin/remote-admin-service.ts';
import type { GatewayConfig } from '../config/gateway-config.ts';
import { loadConfigFile } from '../config/load-config.ts';
import { StoreUnavailable, type IdentityStore } from '../stores/identity-store.ts';
import { openIdentityStore, prepareSchema, SchemaNotReady } from '../stores/open-identity-store.ts';
import { redactCredentials } from '../stores/postgres/postgres-errors.ts';
import { UsageError, type ParsedCommand } from './admin-flags.ts';
import { CommandFailed } from './run-command.ts';
import type { CliIO } from './run-cli.ts';

export interface AdminTarget {
  readonly service: AdminService;
  /** Who the audit log names: cli:<os user> on the database; remotely the server decides from the key. */
  readonly actor: Actor;
  close(): Promise<void>;
}

function cliActor(env: NodeJS.ProcessEnv): Actor {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = env.USER ?? env.USERNAME;
  }
  return { id: `cli:${name || 'unknown'}` };
}

/** Loads the config and opens its database (not yet migrated). The caller closes the store. */
export async function openConfiguredStore(file: string, io: CliIO): Promise<{ config: GatewayConfig; store: IdentityStore }> {
  const config = await loadConfigFile(file, { env: io.env });
  const { url, schema, poolSize } = config.database;
  try {
    const store = await openIdentityStore({ url, ...(schema ? { schema } : {}), poolSize });
    return { config, store };
  } catch (err) {
    if (err instanceof StoreUnavailable) throw err;
    throw new CommandFailed(`cannot open the database ${redactCredentials(url)} (database.url in ${file}): ${redactCredentials((err as Error).message)}`);
  }
}

/** Migrates when the config says so, otherwise insists that the schema is in place. */
async function readyStore(file: string, io: CliIO): Promise<{ config: GatewayConfig; store: IdentityStore }> {
  const opened = await openConfiguredStore(file, io);
  const { config, store } = opened;
  try {
    await prepareSchema(store, config.database);
  } catch (err) {
    await store.close();
    throw err instanceof SchemaNotReady ? new CommandFailed(err.message.replace('--config FILE', `--config ${file}`)) : err;
  }
  return opened;
}

/** --url or --config (not both); with neither, TOLLGATE_URL. */
export async function openAdminTarget(values: ParsedCommand['values'], io: CliIO): Promise<AdminTarget> {
  const config = values.config as string | undefined;
  const flagUrl = values.url as string | undefined;
  if (flagUrl && config) throw new UsageError('pass either --config FILE (act on the database) or --url URL (act through a gateway), not both.');
  const url = flagUrl ?? (config ? undefined : io.env.TOLLGATE_URL);
  if (values['admin-key'] !== undefined && !url) throw new UsageError('--admin-key applies only with --url URL (or TOLLGATE_URL).');
  if (url) {
    const adminKey = (values['admin-key'] as string | undefined) || io.env.TOLLGATE_ADMIN_KEY || io.env.TOLLGATE_MASTER_KEY;
    const service = createRemoteAdminService({ url, ...(adminKey ? { adminKey } : {}) });
    return { service, actor: { id: 'remote' }, close: () => service.close() };
  }
  if (!config) throw new UsageError('say where to act: --config FILE (the configured database) or --url URL (a running gateway; or set TOLLGATE_URL).');
  const { config: loaded, store } = await readyStore(config, io);
  const service = createLocalAdminService({
    store,
    declared: loaded.identity.declared,
    // Running gateways pick the change up from the database change feed within a second.
    notify: () => {},
    rotationGraceSeconds: loaded.identity.rotationGraceSeconds,
  });
  return { service, actor: cliActor(io.env), close: () => store.close() };
}
