// Opens everything identity needs for one gateway process: the store (migrated), the key
// directory and its caches, the change feed, Redis pub/sub when configured, and the admin
// service whose changes invalidate this replica's caches at once and the others' through
// Redis and the feed.

import { createLimitAdmin, type LimitAdmin } from '../admin/limit-admin.ts';
import { createLocalAdminService } from '../admin/local-admin-service.ts';
import { LimitPolicies } from '../limits/limit-policies.ts';
import type { AdminService } from '../admin/admin-service.ts';
import type { GatewayConfig } from '../config/gateway-config.ts';
import type { Logger } from '../logging/logger.ts';
import { openIdentityStore, prepareSchema } from '../stores/open-identity-store.ts';
import { redactCredentials } from '../stores/postgres/postgres-errors.ts';
import type { IdentityStore } from '../stores/identity-store.ts';
import { startChangeFeed, type ChangeFeed } from './change-feed.ts';
import { KeyDirectory } from './key-directory.ts';
import type { ObjectKind } from './records.ts';

export interface IdentityRuntime {
  readonly store: IdentityStore;
  readonly directory: KeyDirectory;
  readonly admin: AdminService;
  /** Global and deployment limits: their admin API, and the policies in effect. */
  readonly limitAdmin: LimitAdmin;
  readonly limitPolicies: LimitPolicies;
  readonly feed: ChangeFeed;
  close(): Promise<void>;
}

export async function openIdentityRuntime(config: GatewayConfig, logger: Logger): Promise<IdentityRuntime> {
  const { database, identity } = config;
  const store = await openIdentityStore({ url: database.url, poolSize: database.poolSize, ...(database.schema ? { schema: database.schema } : {}) });
  try {
    const report = await prepareSchema(store, database);
    if (report && report.applied.length > 0) logger.info('database migrated', { database: redactCredentials(database.url), applied: report.applied, version: report.version });
    await warnShadowed(config, store, logger);
  } catch (err) {
    await store.close();
    throw err;
  }

  const directory = new KeyDirectory({
    store,
    declared: identity.declared,
    logger,
    maxKeys: identity.keyCacheSize,
    refreshMs: identity.keyRefreshMs,
    negativeTtlMs: identity.unknownKeyTtlMs,
  });
  const limitPolicies = new LimitPolicies(store, identity.declared.limits, logger);
  try {
    await limitPolicies.load();
  } catch (err) {
    await store.close();
    throw err;
  }
  const invalidate = (kind: ObjectKind, id: string) => (kind === 'limit' ? limitPolicies.invalidate(id) : directory.invalidate(kind, id));
  // The Redis client is loaded only when Redis is configured.
  const bus = config.redis
    ? (await import('./redis-change-bus.ts')).openRedisChangeBus({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, logger, onChange: invalidate })
    : undefined;
  const feed = startChangeFeed({ store, invalidate, logger, pollMs: identity.changePollMs });
  const notify = (kind: ObjectKind, id: string) => {
    invalidate(kind, id);
    bus?.publish(kind, id);
  };
  const admin = createLocalAdminService({ store, declared: identity.declared, rotationGraceSeconds: identity.rotationGraceSeconds, notify });
  const deploymentIds = new Set([...config.aliases.values()].flatMap((alias) => alias.deployments.map((d) => d.id)));
  const limitAdmin = createLimitAdmin({ store, declared: identity.declared, notify, now: () => new Date(), deploymentIds });
  return {
    store,
    directory,
    admin,
    limitAdmin,
    limitPolicies,
    feed,
    async close() {
      feed.stop();
      limitPolicies.close();
      await bus?.close();
      await store.close();
    },
  };
}

/** Config wins over a stored object with the same id; say so once at startup. */
async function warnShadowed(config: GatewayConfig, store: IdentityStore, logger: Logger): Promise<void> {
  const { declared } = config.identity;
  const kinds = [['team', declared.teams], ['tenant', declared.tenants], ['key', declared.keys], ['limit', declared.limits]] as const;
  for (const [kind, objects] of kinds) {
    for (const id of objects.keys()) {
      if (await store.get(kind, id)) logger.warn('config object shadows a stored one; the config version applies', { kind, id });
    }
  }
}
