// Where `tollgate spend` reads the cost ledger: directly from the first SQL sink named in the
// config file (--config), or through a running gateway's admin API (--url, or TOLLGATE_URL).
// Both give a LedgerAdmin, so reports look the same either way.

import { createLedgerAdmin, type LedgerAdmin } from '../admin/ledger-admin.ts';
import { createRemoteAdminService } from '../admin/remote-admin-service.ts';
import type { GatewayConfig } from '../config/gateway-config.ts';
import { loadConfigFile } from '../config/load-config.ts';
import type { LedgerReader } from '../ledger/ledger-sink.ts';
import { isLedgerReader, openLedgerSink } from '../ledger/open-ledger-sink.ts';
import { redactCredentials } from '../stores/postgres/postgres-errors.ts';
import { UsageError, type ParsedCommand } from './admin-flags.ts';
import { CommandFailed } from './run-command.ts';
import type { CliIO } from './run-cli.ts';

/** A ledger reader opened by the CLI, and how to close it. */
export interface OpenedLedger {
  readonly reader: LedgerReader;
  close(): Promise<void>;
}

/** Opens the SQL sink at `url` for reading (sqlite:PATH, postgres://…). */
export type LedgerReaderOpener = (url: string, options: { schema?: string }) => Promise<OpenedLedger>;

/** Vendor model names known from the config, for reconciling (local mode only). */
export interface ModelNames {
  /** deployment id → the deployment's model. */
  readonly deployments: ReadonlyMap<string, string>;
  /** alias → its one model at each provider (aliases whose deployments there use one model). */
  readonly aliases: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

export interface SpendTarget {
  readonly ledger: LedgerAdmin;
  readonly models?: ModelNames;
  close(): Promise<void>;
}

const SQL_SINK = /^(sqlite:|postgres(ql)?:\/\/)/i;

/** The default opener: the ledger's own sink factory; only its SQL sinks can be queried. */
export const openLedgerReader: LedgerReaderOpener = async (url, options) => {
  const sink = await openLedgerSink(url, options);
  if (!isLedgerReader(sink)) {
    await sink.close();
    throw new CommandFailed(`the ledger sink ${redactCredentials(url)} cannot be queried.`);
  }
  return { reader: sink, close: () => sink.close() };
};

export function modelNames(config: GatewayConfig): ModelNames {
  const deployments = new Map<string, string>();
  const perAlias = new Map<string, Map<string, Set<string>>>();
  for (const alias of config.aliases.values()) {
    for (const dep of alias.deployments) {
      deployments.set(dep.id, dep.model);
      const byProvider = perAlias.get(alias.name) ?? new Map<string, Set<string>>();
      perAlias.set(alias.name, byProvider);
      const models = byProvider.get(dep.provider) ?? new Set<string>();
      byProvider.set(dep.provider, models);
      models.add(dep.model);
    }
  }
  const aliases = new Map<string, Map<string, string>>();
  for (const [alias, byProvider] of perAlias) {
    const unique = new Map([...byProvider].filter(([, models]) => models.size === 1).map(([provider, models]) => [provider, [...models][0]!]));
    if (unique.size > 0) aliases.set(alias, unique);
  }
  return { deployments, aliases };
}

/** Opens the first SQL sink of the config's ledger. */
async function openLocal(file: string, io: CliIO, open: LedgerReaderOpener): Promise<SpendTarget> {
  const config = await loadConfigFile(file, { env: io.env });
  const { enabled, sinks, schema } = config.ledger;
  if (!enabled) throw new CommandFailed(`the cost ledger is disabled in ${file} (ledger.enabled: false), so there is nothing to report.`);
  const url = sinks.find((sink) => SQL_SINK.test(sink));
  if (!url) throw new CommandFailed(`ledger.sinks in ${file} has no SQL sink (sqlite: or postgres://); reports read one of those.`);
  let opened: OpenedLedger;
  try {
    opened = await open(url, schema ? { schema } : {});
  } catch (err) {
    if (err instanceof CommandFailed) throw err;
    throw new CommandFailed(`cannot open the ledger database ${redactCredentials(url)} (ledger.sinks in ${file}): ${redactCredentials((err as Error).message)}`);
  }
  return { ledger: createLedgerAdmin(opened.reader), models: modelNames(config), close: () => opened.close() };
}

/** --url or --config (not both); with neither, TOLLGATE_URL. */
export async function openSpendTarget(values: ParsedCommand['values'], io: CliIO, open: LedgerReaderOpener = openLedgerReader): Promise<SpendTarget> {
  const config = values.config as string | undefined;
  const flagUrl = values.url as string | undefined;
  if (flagUrl && config) throw new UsageError('pass either --config FILE (read the ledger database) or --url URL (ask a running gateway), not both.');
  const url = flagUrl ?? (config ? undefined : io.env.TOLLGATE_URL);
  if (values['admin-key'] !== undefined && !url) throw new UsageError('--admin-key applies only with --url URL (or TOLLGATE_URL).');
  if (url) {
    const adminKey = (values['admin-key'] as string | undefined) || io.env.TOLLGATE_ADMIN_KEY || io.env.TOLLGATE_MASTER_KEY;
    const service = createRemoteAdminService({ url, ...(adminKey ? { adminKey } : {}) });
    return { ledger: service.ledger, close: () => service.close() };
  }
  if (!config) throw new UsageError('say where to read: --config FILE (the ledger database in its ledger.sinks) or --url URL (a running gateway; or set TOLLGATE_URL).');
  return openLocal(config, io, open);
}
