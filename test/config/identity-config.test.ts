import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load-config.ts';
import { configProblems } from '../helpers/config-problems.ts';
import { secretHash } from '../../src/identity/key-secret.ts';

const SECRET = 'sk-tg-config-declared-secret-abcdefghijklmnopqrstuvwxyz';

const problems = configProblems;

const IDENTITY = `
teams:
  platform: { team_alias: Platform, models: [chat, "gpt-4o*"], require_tenant: true, rpm_limit: 600 }
tenants:
  acme: { name: Acme Corp, plan: enterprise, models: ["*"], daily_token_cap: 1000000 }
keys:
  ci-bot:
    key: os.environ/CI_BOT_KEY
    team_id: platform
    environment: production
    tenant_id: acme
    tags: [ci]
`;

test('defaults: an embedded SQLite file, no Redis, allow unknown tenants, 24h rotation grace', () => {
  const config = parseConfig('models: {}', 't');
  assert.deepEqual(config.database, { url: 'sqlite:.tollgate/tollgate.db', poolSize: 10, migrateOnStart: true });
  assert.equal(config.redis, undefined);
  assert.equal(config.identity.unknownTenants, 'allow');
  assert.equal(config.identity.rotationGraceSeconds, 86_400);
  assert.equal(config.identity.changePollMs, 500);
});

test('database, redis and auth sections', () => {
  const config = parseConfig(`
database: { url: os.environ/DATABASE_URL, schema: tollgate, pool_size: 20, migrate_on_start: false }
redis: { url: "redis://127.0.0.1:6379", key_prefix: "tg:" }
auth: { unknown_tenants: reject, rotation_grace: 2h, change_poll_ms: 250, user_id_salt: os.environ/SALT }
`, 't', { env: { DATABASE_URL: 'postgresql://u:pw@db/tollgate', SALT: 'pepper' } });
  assert.deepEqual(config.database, { url: 'postgresql://u:pw@db/tollgate', schema: 'tollgate', poolSize: 20, migrateOnStart: false });
  assert.deepEqual(config.redis, { url: 'redis://127.0.0.1:6379', keyPrefix: 'tg:' });
  assert.equal(config.identity.unknownTenants, 'reject');
  assert.equal(config.identity.rotationGraceSeconds, 7_200);
  assert.equal(config.identity.userIdSalt, 'pepper');
});

test('teams, tenants and keys declared as code become read-only records; secrets only as hashes', () => {
  const config = parseConfig(IDENTITY, 't', { env: { CI_BOT_KEY: SECRET } });
  const { teams, tenants, keys, keyHashes } = config.identity.declared;
  assert.deepEqual({ ...teams.get('platform'), created_at: undefined, updated_at: undefined }, {
    team_id: 'platform', team_alias: 'Platform', models: ['chat', 'gpt-4o*'], require_tenant: true, metadata: {}, rpm_limit: 600,
    source: 'config', created_at: undefined, updated_at: undefined,
  });
  assert.equal(tenants.get('acme')!.daily_token_cap, 1_000_000);
  const key = keys.get('ci-bot')!;
  assert.equal(key.source, 'config');
  assert.equal(key.status, 'active');
  assert.equal(key.tenant_id, 'acme');
  assert.equal(key.key_name, 'sk-tg-…wxyz');
  assert.equal(keyHashes.get(secretHash(SECRET)), 'ci-bot');
  assert.equal(JSON.stringify([...keys.values()]).includes(SECRET), false);
  assert.ok(Object.isFrozen(key));
  // Limits are enforced now: declared ones load without a warning.
  assert.deepEqual(config.warnings.filter((w) => w.includes('not enforced')), []);
});

test('declared objects are validated with field paths, and secrets are never echoed', () => {
  const found = problems(`
teams:
  platform: { modles: [chat] }
  "bad id!": {}
tenants:
  acme: { plan: "has spaces" }
keys:
  short: { key: os.environ/SHORT, team_id: platform }
  literal: { key: sk-tg-literal-secret-in-the-file-0123456789abcdef, team_id: platform }
  orphan: { key: os.environ/K1, team_id: nowhere }
  both: { key: os.environ/K2, team_id: platform, tenant_id: acme, allowed_tenants: [acme] }
auth: { unknown_tenants: maybe, rotation_grace: 24 hours }
database: { url: "", schema: "Bad-Schema" }
redis: { url: "http://localhost" }
`, { K1: SECRET, K2: SECRET.replace('config', 'other1'), SHORT: 'too-short-secret' });
  const text = found.join('\n');
  assert.match(text, /teams\.platform\.modles: unknown key "modles"\. Did you mean "models"\?/);
  assert.match(text, /teams\.bad id!/);
  assert.match(text, /tenants\.acme\.plan/);
  assert.match(text, /keys\.short\.key: key must be 32-256 printable characters/);
  assert.doesNotMatch(text, /too-short-secret/);
  assert.match(text, /keys\.literal\.key: write the secret as os\.environ\/NAME/);
  assert.doesNotMatch(text, /sk-tg-literal-secret/);
  assert.match(text, /keys\.both: set tenant_id \(one tenant\) or allowed_tenants \(a set\), not both/);
  assert.match(text, /auth\.unknown_tenants/);
  assert.match(text, /auth\.rotation_grace: must be a whole number and a unit/);
  assert.match(text, /database\.schema: must be a lower-case SQL identifier/);
  assert.match(text, /redis\.url: must be a redis:\/\/ or rediss:\/\/ URL/);
});

test('declared keys must belong to declared teams, have their own secret, and differ from the master key', () => {
  const text = problems(`
general_settings: { master_key: os.environ/MASTER }
teams: { platform: {} }
keys:
  a: { key: os.environ/K, team_id: platform }
  b: { key: os.environ/K, team_id: platform }
  c: { key: os.environ/MASTER, team_id: elsewhere }
`, { K: SECRET, MASTER: 'sk-master-key-that-is-long-enough-0123' }).join('\n');
  assert.match(text, /keys\.b\.key: the same secret is used by key "a"/);
  assert.match(text, /keys\.c\.team_id: team "elsewhere" is not declared/);
  assert.match(text, /keys\.c\.key: must differ from the master key/);
  assert.doesNotMatch(text, new RegExp(SECRET));
});
