// The admin commands in remote mode (--url / TOLLGATE_URL) against a real gateway started
// in-process, and the remote admin service's error handling against bare HTTP servers.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { AdminApiUnreachable, createRemoteAdminService } from '../../src/admin/remote-admin-service.ts';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { KEY_SHAPE } from '../../src/identity/key-secret.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { cli, cliJson, dbConfig } from './cli-helpers.ts';

const MASTER = 'sk-master-remote-cli-test-0123456789';
const SECRET = /sk-tg-[A-Za-z0-9_-]{43}/;
const { file: CONFIG } = dbConfig('teams:\n  platform:\n    team_alias: Platform\n');
let gw: TestGateway;
let remote: string[];

before(async () => {
  // The gateway and the DB-mode CLI share one config, so one database.
  gw = await startTestGateway(readFileSync(CONFIG, 'utf8'), { TOLLGATE_MASTER_KEY: MASTER });
  remote = ['--url', gw.url, '--admin-key', MASTER];
});
after(() => gw.shutdown());

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('remote: team → key → list → rotate → revoke → audit, actor is the master key', async () => {
  const team = await cliJson(['teams', 'create', '--id', 'ops:eu@x', '--alias', 'Ops EU', ...remote]);
  assert.equal(team.team_id, 'ops:eu@x');
  assert.equal((await cliJson(['teams', 'info', 'ops:eu@x', ...remote])).team_alias, 'Ops EU', 'ids are URL-encoded');

  const created = await cli(['keys', 'create', '--team', 'ops:eu@x', '--alias', 'svc', '--models', 'gpt-4o', '--expires', '2099-01-01T00:00:00Z', ...remote]);
  assert.equal(created.code, 0, created.err);
  const secret = SECRET.exec(created.out)![0];
  assert.match(created.err, /will not be shown again/);
  const keyId = /key_id: +(\S+)/.exec(created.out)![1]!;

  const list = await cli(['keys', 'list', '--team', 'ops:eu@x', ...remote]);
  assert.equal(list.code, 0, list.err);
  assert.ok(list.out.includes(keyId));
  assert.equal((await cliJson(['keys', 'update', keyId, '--rpm', '7', ...remote])).rpm_limit, 7);
  const rotated = await cliJson(['keys', 'rotate', keyId, '--grace', '0s', ...remote]);
  assert.ok(KEY_SHAPE.test(rotated.key) && rotated.key !== secret);
  assert.equal((await cliJson(['keys', 'revoke', keyId, ...remote])).status, 'revoked');

  const audit = await cliJson(['audit', '--object', keyId, ...remote]);
  assert.deepEqual(audit.data.map((e: { action: string }) => e.action), ['key.revoke', 'key.rotate', 'key.update', 'key.generate']);
  assert.ok(audit.data.every((e: { actor: string }) => e.actor === 'master'));

  const quiet = [list, await cli(['keys', 'info', keyId, ...remote]), await cli(['audit', ...remote]), await cli(['audit', '--json', ...remote])];
  for (const result of quiet) {
    assert.doesNotMatch(result.out + result.err, SECRET);
    assert.ok(!(result.out + result.err).includes(MASTER));
  }
  assert.deepEqual(await cliJson(['keys', 'delete', keyId, ...remote]), { deleted: true, key_id: keyId });
  assert.equal((await cli(['teams', 'delete', 'ops:eu@x', ...remote])).out, 'deleted team ops:eu@x');
});

test('remote: TOLLGATE_URL selects remote mode; TOLLGATE_ADMIN_KEY, then TOLLGATE_MASTER_KEY, authenticate', async () => {
  const viaAdminKey = await cli(['teams', 'list'], { TOLLGATE_URL: gw.url, TOLLGATE_ADMIN_KEY: MASTER, TOLLGATE_MASTER_KEY: 'wrong' });
  assert.equal(viaAdminKey.code, 0, viaAdminKey.err);
  assert.match(viaAdminKey.out, /platform +Platform/);
  const viaMaster = await cli(['teams', 'list'], { TOLLGATE_URL: gw.url, TOLLGATE_MASTER_KEY: MASTER });
  assert.equal(viaMaster.code, 0, viaMaster.err);
  // An explicit --config wins over TOLLGATE_URL.
  const local = await cliJson(['teams', 'info', 'platform', '--config', CONFIG], { TOLLGATE_URL: 'http://127.0.0.1:1' });
  assert.equal(local.source, 'config');
});

test('remote: server errors keep their code; auth failures say what to do', async () => {
  const missing = await cli(['keys', 'info', 'key_nope', ...remote]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^error: resource_not_found: /);
  const declared = await cli(['teams', 'delete', 'platform', ...remote]);
  assert.match(declared.err, /^error: managed_by_config: /);
  const invalid = await cli(['keys', 'create', '--team', 'platform', '--budget-duration', '3 weeks', ...remote]);
  assert.equal(invalid.code, 1);
  assert.match(invalid.err, /^error: invalid_request: .*budget_duration/);

  const noKey = await cli(['teams', 'list', '--url', gw.url]);
  assert.equal(noKey.code, 1);
  assert.match(noKey.err, /^error: missing_api_key: .*no admin key was sent: pass --admin-key or set TOLLGATE_ADMIN_KEY/);
  const wrongKey = await cli(['teams', 'list', '--url', gw.url, '--admin-key', 'sk-wrong-wrong-wrong']);
  assert.match(wrongKey.err, /^error: invalid_api_key: /);
  assert.doesNotMatch(wrongKey.err, /sk-wrong/);

  const user = await cliJson(['keys', 'create', '--team', 'platform', ...remote]);
  const refused = await cli(['teams', 'list', '--url', gw.url, '--admin-key', user.key]);
  assert.match(refused.err, /^error: admin_required: /);
  assert.doesNotMatch(refused.err, SECRET);
});

test('remote: an admin-role virtual key may administer, and the audit log names it', async () => {
  const admin = await cliJson(['keys', 'create', '--team', 'platform', '--role', 'admin', ...remote]);
  const asAdmin = ['--url', gw.url, '--admin-key', admin.key];
  const tenant = await cliJson(['tenants', 'create', '--id', 'acme', '--plan', 'pro', ...asAdmin]);
  assert.equal(tenant.tenant_id, 'acme');
  const audit = await cliJson(['audit', '--type', 'tenant', '--object', 'acme', ...asAdmin]);
  assert.equal(audit.data[0].actor, `key:${admin.key_id}`);
});

test('the CLI on the database and the gateway see the same objects', async () => {
  const team = await cliJson(['teams', 'create', '--alias', 'from the cli', '--config', CONFIG]);
  assert.equal((await cliJson(['teams', 'info', team.team_id, ...remote])).team_alias, 'from the cli');
  const audit = await cliJson(['audit', '--object', team.team_id, ...remote]);
  assert.match(audit.data[0].actor, /^cli:/);
});

test('remote: an unreachable gateway is a clear error naming the URL, never the key', async () => {
  const { url, server } = await listen(() => {});
  await new Promise((resolve) => server.close(resolve));
  const result = await cli(['keys', 'list', '--url', url, '--admin-key', 'sk-do-not-print-me']);
  assert.equal(result.code, 1);
  assert.match(result.err, new RegExp(`^error: cannot reach the Tollgate admin API at ${url} \\(ECONNREFUSED\\)`));
  assert.doesNotMatch(result.err, /sk-do-not-print-me/);
  const credentials = await cli(['keys', 'list', '--url', url.replace('http://', 'http://user:pw-secret@')]);
  assert.doesNotMatch(credentials.err, /pw-secret/);
  const invalid = await cli(['keys', 'list', '--url', 'not a url']);
  assert.match(invalid.err, /^error: "not a url" is not a valid URL/);
});

test('remote service: unknown codes map by status, non-Tollgate answers are reported, paths keep a prefix', async () => {
  const seen: string[] = [];
  const { url, server } = await listen((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    if (req.url!.includes('/teams/')) {
      res.writeHead(409, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'newer server says no', type: 'conflict_error', code: 'brand_new_code', param: 'team_id' } }));
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>hello</html>');
    }
  });
  const service = createRemoteAdminService({ url: `${url}/gw/`, adminKey: 'k1' });
  try {
    const err = await service.getTeam('a/b c').catch((e: unknown) => e);
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, 'resource_conflict');
    assert.equal(err.message, 'newer server says no');
    assert.equal(err.param, 'team_id');
    const html = await service.listKeys({ team_id: 't 1', status: 'active', limit: 5 }).catch((e: unknown) => e);
    assert.ok(html instanceof AdminApiUnreachable);
    assert.match(html.message, /answered GET \/gw\/admin\/keys with HTTP 200 and no Tollgate response/);
    assert.deepEqual(seen, ['GET /gw/admin/teams/a%2Fb%20c Bearer k1', 'GET /gw/admin/keys?team_id=t+1&status=active&limit=5 Bearer k1']);
  } finally {
    await service.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
