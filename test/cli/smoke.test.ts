// `tollgate smoke`: the post-deploy smoke check, run in-process against a real gateway on a
// free port (simulator deployments, in-memory SQLite ledger): every check passing, a wrong
// key, a non-admin key (ledger skipped; --strict fails it), a draining gateway, nothing
// listening, --json, and usage mistakes. Keys must never appear in the output.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { maskKey } from '../../src/cli/smoke-command.ts';
import { adminRequest } from '../helpers/admin-request.ts';
import { freePort } from '../helpers/free-port.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { cli, type CliResult } from './cli-helpers.ts';

const MASTER = 'sk-smoke-master-key-0123456789abcdef';
const CHECKS = ['live', 'ready', 'models', 'chat', 'stream', 'ledger'];

const YAML = `
general_settings: { master_key: ${MASTER} }
router: { health_checks: { enabled: false } }
models:
  chat:
    deployments: [{ id: sim-chat, provider: simulator, model: sim-chat, simulator: { output_tokens: 5 } }]
  other:
    deployments: [{ id: sim-other, provider: simulator, model: sim-other, simulator: { output_tokens: 3 } }]
`;

/** The output's check lines: name → the line. */
function lines(result: CliResult): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of result.out.split('\n')) {
    const m = /^([✓✗-]) (\w+)\s/.exec(line);
    if (m) out.set(m[2]!, line);
  }
  return out;
}

function assertNoSecret(result: CliResult, ...secrets: string[]): void {
  for (const secret of secrets) {
    assert.ok(!result.out.includes(secret) && !result.err.includes(secret), `the output shows a key:\n${result.out}\n${result.err}`);
  }
}

describe('tollgate smoke', () => {
  let gw: TestGateway;
  let userKey: string;
  before(async () => {
    gw = await startTestGateway(YAML);
    const team = await adminRequest(gw.url, MASTER, 'POST', '/admin/teams', { team_id: 'smoke-team' });
    assert.equal(team.status, 201, JSON.stringify(team.json));
    const created = await adminRequest(gw.url, MASTER, 'POST', '/admin/keys', { team_id: 'smoke-team', key_alias: 'smoke-user' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    userKey = created.json.key;
  });
  after(async () => {
    await gw.shutdown();
  });

  test('every check passes against a healthy gateway with the master key: exit 0, one ✓ line each, in order', async () => {
    const result = await cli(['smoke', '--url', gw.url, '--key', MASTER]);
    assert.equal(result.code, 0, result.out + result.err);
    const found = lines(result);
    assert.deepEqual([...found.keys()], CHECKS);
    for (const [name, line] of found) assert.match(line, /^✓ .* \(\d+ ms\)$/, `${name}: ${line}`);
    assert.match(found.get('ready')!, /GET \/health\/ready: 200 ready/);
    assert.match(found.get('models')!, /key accepted, 2 models; using chat \(the first listed/);
    assert.match(found.get('chat')!, /200 by sim-chat, \d+\+5 tokens, request smoke-/);
    assert.match(found.get('stream')!, /\d+ events, first after \d+ ms, \d+\+5 tokens, \[DONE\]/);
    assert.match(found.get('ledger')!, /a row for each call \(chat success, \d+ tokens, .*; stream success/);
    assert.match(result.out, new RegExp(`^Smoke check of ${gw.url.replace(/\./g, '\\.')} \\(key sk-…cdef\\)`));
    assert.match(result.out, /PASS: 6 of 6 checks passed\.$/);
    assertNoSecret(result, MASTER);
  });

  test('the ledger rows it reports are the calls it made', async () => {
    const result = await cli(['smoke', '--url', gw.url, '--key', MASTER, '--model', 'other', '--json']);
    assert.equal(result.code, 0, result.out);
    const report = JSON.parse(result.out);
    for (const id of [report.request_ids.chat, report.request_ids.stream]) {
      const row = await adminRequest(gw.url, MASTER, 'GET', `/admin/requests/${id}`);
      assert.equal(row.status, 200);
      assert.equal(row.json.model_alias, 'other');
    }
  });

  test('--json: a machine-readable report, keys masked', async () => {
    const result = await cli(['smoke', '--url', `${gw.url}/`, '--json'], { TOLLGATE_SMOKE_KEY: MASTER, TOLLGATE_SMOKE_ADMIN_KEY: MASTER });
    assert.equal(result.code, 0, result.out + result.err);
    const report = JSON.parse(result.out);
    assert.deepEqual(Object.keys(report), ['ok', 'gateway', 'key', 'admin_key', 'strict', 'model', 'request_ids', 'checks']);
    assert.deepEqual(
      { ok: report.ok, gateway: report.gateway, key: report.key, admin_key: report.admin_key, strict: report.strict, model: report.model },
      { ok: true, gateway: gw.url, key: 'sk-…cdef', admin_key: 'same as key', strict: false, model: 'chat' },
    );
    assert.match(report.request_ids.chat, /^smoke-/);
    assert.match(report.request_ids.stream, /^smoke-/);
    assert.deepEqual(report.checks.map((c: any) => c.name), CHECKS);
    for (const c of report.checks) {
      assert.deepEqual(Object.keys(c), ['name', 'status', 'ms', 'detail']);
      assert.equal(c.status, 'pass', JSON.stringify(c));
      assert.ok(Number.isInteger(c.ms) && c.ms >= 0);
      assert.equal(typeof c.detail, 'string');
    }
    assertNoSecret(result, MASTER);
  });

  test('a wrong key: exit 1, the models check says the key was refused, later checks are not run', async () => {
    const wrong = 'sk-this-key-was-never-issued-0000';
    const result = await cli(['smoke', '--url', gw.url, '--key', wrong]);
    assert.equal(result.code, 1, result.out);
    const found = lines(result);
    assert.match(found.get('live')!, /^✓/);
    assert.match(found.get('ready')!, /^✓/);
    assert.match(found.get('models')!, /^✗ models\s+GET \/v1\/models: the key was refused \(HTTP 401 invalid_api_key: Invalid API key\.\)/);
    for (const name of ['chat', 'stream']) assert.match(found.get(name)!, /^- \w+\s+not run: needs a model from the models check$/);
    assert.match(found.get('ledger')!, /^- ledger\s+not run: needs a call that succeeded$/);
    assert.match(result.out, /FAIL: models \(1 of 6 checks\)\.$/);
    assertNoSecret(result, wrong);
  });

  test('a key that is not an admin key: the ledger check is skipped with the reason (exit 0), and fails under --strict', async () => {
    const result = await cli(['smoke', '--url', gw.url, '--key', userKey]);
    assert.equal(result.code, 0, result.out);
    const ledger = lines(result).get('ledger')!;
    assert.match(ledger, /^- ledger\s+skipped: the key is not an admin key, so the ledger cannot be read; pass --admin-key/);
    assert.match(result.out, /PASS: 5 of 6 checks passed, 1 skipped\./);
    assert.match(result.out, new RegExp(`key ${maskKey(userKey).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`));

    const strict = await cli(['smoke', '--url', gw.url, '--key', userKey, '--strict']);
    assert.equal(strict.code, 1, strict.out);
    assert.match(lines(strict).get('ledger')!, /^✗ ledger\s+skipped: the key is not an admin key.*--strict fails on a skipped check/);

    const withAdmin = await cli(['smoke', '--url', gw.url, '--key', userKey, '--strict'], { TOLLGATE_SMOKE_ADMIN_KEY: MASTER });
    assert.equal(withAdmin.code, 0, withAdmin.out);
    assert.match(withAdmin.out, /admin key sk-…cdef\)/);
    assert.match(lines(withAdmin).get('ledger')!, /^✓ ledger/);

    const notAdmin = await cli(['smoke', '--url', gw.url, '--key', MASTER, '--admin-key', userKey]);
    assert.equal(notAdmin.code, 1, 'an --admin-key that is not one is a mistake, not a skip');
    assert.match(lines(notAdmin).get('ledger')!, /^✗ ledger\s+GET \/admin\/requests\/\{id\}: the admin key was refused \(admin_required/);
    for (const r of [result, strict, withAdmin, notAdmin]) assertNoSecret(r, userKey, MASTER);
  });

  test('a model that does not exist fails the chat and stream checks with the gateway\'s error', async () => {
    const result = await cli(['smoke', '--url', gw.url, '--key', MASTER, '--model', 'chta']);
    assert.equal(result.code, 1);
    const found = lines(result);
    assert.match(found.get('models')!, /^✓ models.*using chta \(--model\) \(not in the list; trying it anyway\)/);
    assert.match(found.get('chat')!, /^✗ chat\s+POST \/v1\/chat\/completions \(chta\): HTTP 404 model_not_found: .*Did you mean "chat"/);
    assert.match(found.get('stream')!, /^✗ stream\s+.*HTTP 404 model_not_found/);
    assert.match(found.get('ledger')!, /^- ledger\s+not run/);
  });

  test('a draining gateway fails the ready check', async () => {
    const draining = await startTestGateway(YAML);
    try {
      draining.gateway.app.drain();
      const result = await cli(['smoke', '--url', draining.url, '--key', MASTER]);
      assert.equal(result.code, 1);
      assert.match(lines(result).get('ready')!, /^✗ ready\s+GET \/health\/ready: 503 draining \(the gateway is shutting down\)/);
    } finally {
      await draining.shutdown();
    }
  });
});

test('nothing listens at the URL: exit 1, one clear line, the rest not run', async () => {
  const port = await freePort();
  const result = await cli(['smoke', '--url', `http://127.0.0.1:${port}`, '--key', MASTER, '--timeout-ms', '2000']);
  assert.equal(result.code, 1, result.out);
  const found = lines(result);
  assert.match(found.get('live')!, new RegExp(`^✗ live\\s+GET /health/live: cannot reach the gateway at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\\. Check --url`));
  for (const name of CHECKS.slice(1)) assert.match(found.get(name)!, /^- \w+\s+not run: the gateway cannot be reached$/, name);
  assert.match(result.out, /FAIL: live \(1 of 6 checks\)\.$/);
  const json = JSON.parse((await cli(['smoke', '--url', `http://127.0.0.1:${port}`, '--key', MASTER, '--json'])).out);
  assert.equal(json.ok, false);
  assert.deepEqual(json.checks.map((c: any) => c.status), ['fail', 'skip', 'skip', 'skip', 'skip', 'skip']);
});

test('a gateway that accepts connections but never answers: --timeout-ms bounds the wait, the rest not run', async () => {
  const hung = createServer(() => {});
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
  try {
    const result = await cli(['smoke', '--url', url, '--key', MASTER, '--timeout-ms', '200']);
    assert.equal(result.code, 1, result.out);
    const found = lines(result);
    assert.match(found.get('live')!, /^✗ live\s+GET \/health\/live: no answer from .* within 200 ms \(--timeout-ms\)/);
    for (const name of CHECKS.slice(1)) assert.match(found.get(name)!, /^- \w+\s+not run: the gateway does not answer$/, name);
  } finally {
    hung.closeAllConnections();
    hung.close();
  }
});

test('usage mistakes exit 2 with the usage; --help exits 0', async () => {
  const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [['smoke', '--key', MASTER], {}, /smoke needs --url URL/],
    [['smoke', '--url', 'http://127.0.0.1:1'], {}, /smoke needs --key KEY \(or TOLLGATE_SMOKE_KEY\)/],
    [['smoke', '--url', 'not a url', '--key', MASTER], {}, /"not a url" is not a valid URL/],
    [['smoke', '--url', 'ftp://127.0.0.1', '--key', MASTER], {}, /must be an http\(s\) URL/],
    [['smoke', '--url', 'http://127.0.0.1:1', '--key', MASTER, '--timeout-ms', 'soon'], {}, /--timeout-ms must be a whole number of 1 or more, got "soon"/],
    [['smoke', '--url', 'http://127.0.0.1:1', '--key', MASTER, '--bogus'], {}, /Unknown option '--bogus'/],
    [['smoke', '--url', 'http://127.0.0.1:1', '--key', MASTER, 'extra'], {}, /unexpected argument "extra"/],
  ];
  for (const [argv, env, message] of cases) {
    const result = await cli(argv, env);
    assert.equal(result.code, 2, `${argv.join(' ')}: ${result.out}${result.err}`);
    assert.match(result.err, message);
    assert.match(result.err, /Usage:\n {2}tollgate smoke --url URL --key KEY/);
    assertNoSecret(result, MASTER);
  }
  const help = await cli(['smoke', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /--timeout-ms N/);
  assert.match((await cli(['--help'])).out, /tollgate smoke --url URL --key KEY/);
});

test('maskKey keeps the kind and the last four characters only', () => {
  assert.equal(maskKey('sk-tg-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'), 'sk-tg-…DEFG');
  assert.equal(maskKey('sk-smoke-master-key-0123456789abcdef'), 'sk-…cdef');
  assert.equal(maskKey('short-key'), '…');
});
