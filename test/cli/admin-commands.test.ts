// The admin commands against a real SQLite database named by a temp config file (DB mode).

import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { test } from 'node:test';
import { KEY_SHAPE } from '../../src/identity/key-secret.ts';
import { cli, cliJson, dbConfig } from './cli-helpers.ts';

const SECRET = /sk-tg-[A-Za-z0-9_-]{43}/;

test('migrate: --status, apply, apply again, --json', async () => {
  const { file, db } = dbConfig();
  const status = await cli(['migrate', '--config', file, '--status']);
  assert.equal(status.code, 0, status.err);
  assert.match(status.out, /schema version: 0\npending migrations: 2 \(run `tollgate migrate/);
  assert.ok(status.out.includes(`sqlite:${db}`));

  const first = await cli(['migrate', '--config', file]);
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /applied migrations: 1, 2\nschema version: 2/);
  const again = await cli(['migrate', '--config', file]);
  assert.match(again.out, /no migrations to apply\nschema version: 2/);
  assert.deepEqual(await cliJson(['migrate', '--config', file]), { database: `sqlite:${db}`, applied: [], version: 2 });
  assert.deepEqual(await cliJson(['migrate', '--config', file, '--status']), { database: `sqlite:${db}`, version: 2, latest: 2, pending: 0 });
});

test('migrate: usage errors exit 2, --url is not accepted', async () => {
  for (const argv of [['migrate'], ['migrate', '--url', 'http://127.0.0.1:1'], ['migrate', 'extra', '--config', 'x.yaml']]) {
    const result = await cli(argv);
    assert.equal(result.code, 2, argv.join(' '));
    assert.match(result.err, /Usage:\n  tollgate migrate/);
  }
  assert.equal((await cli(['migrate', '--help'])).code, 0);
});

test('with migrate_on_start off, commands ask for `tollgate migrate` first', async () => {
  const { file } = dbConfig('  migrate_on_start: false\n');
  const before = await cli(['teams', 'list', '--config', file]);
  assert.equal(before.code, 1);
  assert.match(before.err, /^error: The database sqlite:.* has no Tollgate schema yet .*Run `tollgate migrate --config /);
  assert.equal((await cli(['migrate', '--config', file])).code, 0);
  assert.equal((await cli(['teams', 'list', '--config', file])).code, 0);
});

test('team → key → list → rotate → revoke, with the audit trail, printing each secret once', async () => {
  const { file } = dbConfig();
  const c = ['--config', file];
  const team = await cliJson(['teams', 'create', '--id', 'ml', '--alias', 'ML team', '--models', 'gpt-4o*,claude-*', '--rpm', '100', '--max-budget', '12.5', '--budget-duration', '30d', '--token-budget', '5000000', '--max-cost', '0.25', ...c]);
  assert.equal(team.team_id, 'ml');
  assert.deepEqual([team.token_budget, team.max_cost_per_request], [5_000_000, 0.25]);
  assert.deepEqual(team.models, ['gpt-4o*', 'claude-*']);
  assert.equal(team.rpm_limit, 100);
  assert.equal(team.max_budget, 12.5);
  const tenant = await cli(['tenants', 'create', '--id', 'acme', '--name', 'Acme Corp', '--plan', 'pro', ...c]);
  assert.equal(tenant.code, 0, tenant.err);
  assert.match(tenant.out, /^tenant_id: +acme\nname: +Acme Corp\nplan: +pro\n/);

  const created = await cli(['keys', 'create', '--team', 'ml', '--alias', 'svc', '--tenants', 'acme', '--duration', '30d', '--env', 'production',
    '--project', 'search', '--tags', 'a,b', '--metadata', '{"owner":"ana"}', '--tpm', '5000', ...c]);
  assert.equal(created.code, 0, created.err);
  const secret = SECRET.exec(created.out)?.[0];
  assert.ok(secret && KEY_SHAPE.test(secret), created.out);
  assert.match(created.out, new RegExp(`^key: +${secret}\\nkey_id: +key_[0-9a-f]{20}\\n`));
  assert.match(created.err, /Store this key now: it will not be shown again/);
  assert.doesNotMatch(created.err, SECRET);
  const keyId = /key_id: +(\S+)/.exec(created.out)![1]!;
  assert.match(created.out, /allowed_tenants: +acme\n/);
  assert.match(created.out, /tags: +a,b\n/);
  assert.match(created.out, /metadata: +\{"owner":"ana"\}\n/);
  assert.match(created.out, new RegExp(`created_by: +cli:${userInfo().username}`));

  const other = await cliJson(['keys', 'create', '--team', 'ml', '--role', 'admin', ...c]);
  assert.ok(KEY_SHAPE.test(other.key));
  assert.equal(other.role, 'admin');

  const list = await cli(['keys', 'list', '--team', 'ml', ...c]);
  assert.equal(list.code, 0, list.err);
  assert.match(list.out, /^KEY_ID +ALIAS +KEY +TEAM +STATUS +ROLE +EXPIRES\n/);
  assert.ok(list.out.includes(keyId) && list.out.includes(other.key_id));
  const page = await cliJson(['keys', 'list', '--limit', '1', ...c]);
  assert.equal(page.data.length, 1);
  assert.equal(typeof page.next, 'string');
  const paged = await cli(['keys', 'list', '--limit', '1', ...c]);
  assert.match(paged.err, /^more: --after \S+/);

  const updated = await cliJson(['keys', 'update', keyId, '--alias', 'search-svc', '--clear', 'tags,metadata', ...c]);
  assert.equal(updated.key_alias, 'search-svc');
  assert.deepEqual(updated.tags, []);
  assert.deepEqual(updated.metadata, {});

  const rotated = await cli(['keys', 'rotate', keyId, '--grace', '1h', ...c]);
  assert.equal(rotated.code, 0, rotated.err);
  const newSecret = SECRET.exec(rotated.out)?.[0];
  assert.ok(newSecret && newSecret !== secret);
  assert.match(rotated.out, /rotation_grace_seconds: +3600/);
  assert.match(rotated.err, /will not be shown again/);

  const revoked = await cliJson(['keys', 'revoke', keyId, ...c]);
  assert.equal(revoked.status, 'revoked');
  const blockRevoked = await cli(['keys', 'block', keyId, ...c]);
  assert.equal(blockRevoked.code, 1);
  assert.match(blockRevoked.err, /^error: resource_conflict: The key ".+" is revoked/);
  assert.equal((await cliJson(['keys', 'block', other.key_id, ...c])).status, 'blocked');
  assert.equal((await cliJson(['keys', 'unblock', other.key_id, ...c])).status, 'active');

  const audit = await cli(['audit', ...c]);
  assert.equal(audit.code, 0, audit.err);
  assert.match(audit.out, /^SEQ +AT +ACTOR +ACTION +TYPE +OBJECT\n/);
  for (const action of ['team.create', 'tenant.create', 'key.generate', 'key.update', 'key.rotate', 'key.revoke', 'key.block', 'key.unblock']) {
    assert.ok(audit.out.includes(action), `audit shows ${action}`);
  }
  const rotations = await cliJson(['audit', '--type', 'key', '--object', keyId, '--action', 'key.rotate', ...c]);
  assert.equal(rotations.data.length, 1);
  assert.equal(rotations.data[0].actor, `cli:${userInfo().username}`);
  const allAudit = await cliJson(['audit', '--limit', '1000', ...c]);
  assert.equal(allAudit.data.length, 9);

  // The secrets appear nowhere but in the create and rotate output.
  const outputs = [list, paged, audit, await cli(['keys', 'info', keyId, ...c]), await cli(['keys', 'list', '--json', ...c]), await cli(['audit', '--json', ...c]), await cli(['keys', 'info', keyId, '--json', ...c])];
  for (const result of outputs) {
    assert.equal(result.code, 0, result.err);
    assert.doesNotMatch(result.out + result.err, SECRET);
  }
});

test('delete: a team with keys is refused until its keys are gone', async () => {
  const { file } = dbConfig();
  const c = ['--config', file];
  const team = await cliJson(['teams', 'create', ...c]);
  assert.match(team.team_id, /^team_[0-9a-f]{12}$/);
  const key = await cliJson(['keys', 'create', '--team', team.team_id, ...c]);
  const refused = await cli(['teams', 'delete', team.team_id, ...c]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /^error: resource_conflict: The team ".+" still has 1 key/);
  assert.deepEqual(await cliJson(['keys', 'delete', key.key_id, ...c]), { deleted: true, key_id: key.key_id });
  const deleted = await cli(['teams', 'delete', team.team_id, ...c]);
  assert.equal(deleted.out, `deleted team ${team.team_id}`);
  const missing = await cli(['teams', 'info', team.team_id, ...c]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^error: resource_not_found: /);
  const empty = await cli(['teams', 'list', ...c]);
  assert.equal(empty.out, '(no team)');
});

test('objects declared in the config are listed but read-only', async () => {
  const { file } = dbConfig('teams:\n  platform:\n    team_alias: Platform\n');
  const c = ['--config', file];
  const info = await cliJson(['teams', 'info', 'platform', ...c]);
  assert.equal(info.source, 'config');
  const update = await cli(['teams', 'update', 'platform', '--alias', 'x', ...c]);
  assert.equal(update.code, 1);
  assert.match(update.err, /^error: managed_by_config: /);
});

test('usage errors exit 2 with the command usage; help exits 0', async () => {
  const { file } = dbConfig();
  const c = ['--config', file];
  const cases: Array<[string[], RegExp]> = [
    [['keys'], /tollgate keys create/],
    [['keys', 'frobnicate', ...c], /unknown keys command "frobnicate"; one of: create, list, info, update, delete, rotate, revoke, block, unblock, secret/],
    [['keys', 'info', ...c], /missing the id/],
    [['keys', 'info', 'a', 'b', ...c], /expected one id, got 2/],
    [['keys', 'list', 'extra', ...c], /unexpected argument "extra"/],
    [['keys', 'create', '--team', 'ml', '--bogus', ...c], /Unknown option '--bogus'/],
    [['keys', 'create', ...c], /keys create needs --team/],
    [['keys', 'create', '--team', 'ml', '--rpm', 'abc', ...c], /--rpm must be a whole number of 1 or more, got "abc"/],
    [['keys', 'create', '--team', 'ml', '--tenant', 'a', '--tenants', 'b', ...c], /--tenant and --tenants cannot be used together/],
    [['keys', 'create', '--team', 'ml', '--metadata', '[1]', ...c], /--metadata must be a JSON object/],
    [['keys', 'create', '--team', 'ml', '--role', 'root', ...c], /--role must be one of user, admin/],
    [['keys', 'rotate', 'k', '--alias', 'x', ...c], /Unknown option '--alias'/],
    [['keys', 'update', 'k', ...c], /update needs at least one option/],
    [['keys', 'update', 'k', '--clear', 'nope', ...c], /--clear nope: not an option of this command/],
    [['teams', 'update', 't', '--id', 'x', ...c], /Unknown option '--id'/],
    [['tenants', 'create', '--name', 'x', ...c], /tenants create needs --id/],
    [['audit', '--type', 'user', ...c], /--type must be one of team, tenant, key/],
    [['teams', 'list'], /say where to act: --config FILE/],
    [['teams', 'list', '--url', 'http://127.0.0.1:1', ...c], /either --config FILE .* or --url URL/],
    [['teams', 'list', '--admin-key', 'k', ...c], /--admin-key applies only with --url/],
  ];
  for (const [argv, message] of cases) {
    const result = await cli(argv);
    assert.equal(result.code, 2, `${argv.join(' ')}: ${result.err}`);
    assert.match(result.err, message, argv.join(' '));
    assert.match(result.err, /\n\nUsage:\n/, argv.join(' '));
  }
  for (const argv of [['keys', '--help'], ['keys', 'help'], ['teams', 'create', '--help'], ['tenants', '-h'], ['audit', '--help']]) {
    const result = await cli(argv);
    assert.equal(result.code, 0, argv.join(' '));
    assert.match(result.out, /^Usage:\n  tollgate /);
  }
  const top = await cli(['--help']);
  assert.match(top.out, /tollgate keys create\|list\|info/);
  assert.match(top.out, /tollgate migrate --config FILE/);
});

test('a config error or an unusable database URL exits 1 with a clear message', async () => {
  const bad = await cli(['teams', 'list', '--config', '/nonexistent/tollgate.yaml']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /cannot read the file \(ENOENT\)/);
  const { file } = dbConfig();
  const { writeFileSync } = await import('node:fs');
  writeFileSync(file, 'database:\n  url: "mysql://u:hunter2@db/x"\n');
  const result = await cli(['teams', 'list', '--config', file]);
  assert.equal(result.code, 1);
  assert.match(result.err, /^error: cannot open the database mysql:\/\/u:\*\*\*@db\/x/);
  assert.doesNotMatch(result.err, /hunter2/);
});

test('keys secret prints a fresh secret for a declared key and touches nothing', async () => {
  const result = await cli(['keys', 'secret']);
  assert.equal(result.code, 0, result.err);
  assert.ok(KEY_SHAPE.test(result.out));
  assert.match(result.err, /os\.environ\/NAME/);
  const json = await cliJson(['keys', 'secret']);
  assert.ok(KEY_SHAPE.test(json.key));
  assert.match(json.sha256, /^[0-9a-f]{64}$/);
});
