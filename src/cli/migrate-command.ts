// `tollgate migrate --config FILE [--status]`: applies the identity store's schema migrations to
// the configured database (safe while gateways run: each version is applied exactly once), or
// with --status only reports the version and how many migrations are pending.

import { flag, flagHelp, JSON_FLAG, UsageError } from './admin-flags.ts';
import { redactCredentials } from '../stores/postgres/postgres-errors.ts';
import { latestSchemaVersion } from '../stores/open-identity-store.ts';
import { openConfiguredStore } from './admin-target.ts';
import type { CliIO } from './run-cli.ts';
import { execute } from './run-command.ts';

const MIGRATE_FLAGS = [
  flag('config', '', 'string', 'the config file naming the database (database.url)', 'FILE'),
  flag('status', '', 'boolean', 'only print the schema version and the pending count'),
  JSON_FLAG,
];

export const MIGRATE_USAGE = `Usage:
  tollgate migrate --config FILE [--status] [--json]

${flagHelp(MIGRATE_FLAGS)}`;

export function runMigrate(argv: string[], io: CliIO): Promise<number> {
  return execute(io, argv, { usage: MIGRATE_USAGE, flags: MIGRATE_FLAGS, takesId: false }, (values) => {
    const file = values.config;
    if (typeof file !== 'string') throw new UsageError('migrate needs --config FILE (the config names the database).');
    const print = (json: Record<string, unknown>, text: string) => io.out(values.json ? JSON.stringify(json, null, 2) : text);
    return async () => {
      const { config, store } = await openConfiguredStore(file, io);
      const database = redactCredentials(config.database.url);
      try {
        const latest = latestSchemaVersion(store);
        if (values.status) {
          const version = await store.schemaVersion();
          const pending = Math.max(0, latest - version);
          const hint = pending > 0 ? ` (run \`tollgate migrate --config ${file}\`)` : '';
          print({ database, version, latest, pending }, `database: ${database}\nschema version: ${version}\npending migrations: ${pending}${hint}`);
          return;
        }
        const { applied, version } = await store.migrate();
        if (version > latest) io.err(`warning: the database is at schema version ${version}, newer than this build knows (${latest}); upgrade Tollgate.`);
        const done = applied.length > 0 ? `applied migrations: ${applied.join(', ')}` : 'no migrations to apply';
        print({ database, applied, version }, `database: ${database}\n${done}\nschema version: ${version}`);
      } finally {
        await store.close();
      }
    };
  });
}
