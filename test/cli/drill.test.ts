// `tollgate drill`: the fallback drill, on a throwaway gateway built from a config file and
// through a running gateway. Every deployment points at a fault-scriptable fake upstream whose
// models are named after the deployment, so the test sees which deployment got each request
// and can prove that the blocked primary got none.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { parseRoute } from '../../src/cli/drill-report.ts';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';
import { cli } from './cli-helpers.ts';

const MASTER = 'sk-drill-master-key';
const ENV = { TOLLGATE_MASTER_KEY: MASTER };

let up: FaultUpstream;
let file: string;
let yaml: string;

function deployment(id: string, extra = ''): string {
  return `      - { id: ${id}, provider: openai, model: ${id}-model, api_base: "${up.baseURL}", api_key: sk-upstream${extra} }\n`;
}

function configYaml(healthChecks: boolean): string {
  return `router:
  num_retries: 1
  backoff: { initial_ms: 1, max_ms: 5 }
  health_checks: { enabled: ${healthChecks}, interval_ms: 60000 }
models:
  chat:
    deployments:
${deployment('p1')}    routing:
      fallbacks: [backup]
  backup:
    deployments:
${deployment('b1')}  solo:
    deployments:
${deployment('s1')}  tiered:
    deployments:
${deployment('t-second', ', order: 2')}${deployment('t-first')}`;
}

before(async () => {
  up = await startFaultUpstream();
  yaml = configYaml(false);
  file = join(mkdtempSync(join(tmpdir(), 'tollgate-drill-')), 'config.yaml');
  // The throwaway gateway must touch neither the database named here (it could not even be
  // opened) nor the deployments through health checks (on here; the drill turns them off).
  writeFileSync(file, `${configYaml(true)}database: { url: "sqlite:${join(tmpdir(), 'nonexistent-dir-for-drill', 'never.db')}" }\n`);
});

after(async () => {
  await up.close();
});

beforeEach(() => up.reset());

test('throwaway: primary blocked, the fallback alias serves: exit 0 and both are named', async () => {
  const result = await cli(['drill', '--config', file, '--alias', 'chat'], ENV);
  assert.equal(result.code, 0, result.out + result.err);
  assert.match(result.out, /primary\s+p1 \(openai p1-model, order 1\): blocked for this request/);
  assert.match(result.out, /attempt\s+backup\/b1: ok/);
  assert.match(result.out, /served\s+b1 \(alias backup, a fallback\), 1 attempt, \d+ ms/);
  assert.match(result.out, /PASS: with p1 blocked, b1 \(alias backup\) served the request\./);
  assert.equal(up.count('p1-model'), 0, 'the blocked primary got no request (not even a health check)');
  assert.equal(up.count('b1-model'), 1);
  const sent = up.requests[0]!.body;
  assert.deepEqual(sent.messages, [{ role: 'user', content: 'Tollgate fallback drill: reply with OK.' }]);
  assert.equal(sent.max_tokens, 16);
});

test('throwaway --json: a machine-readable result', async () => {
  const result = await cli(['drill', '--config', file, '--alias', 'chat', '--json'], ENV);
  assert.equal(result.code, 0, result.err);
  const json = JSON.parse(result.out);
  assert.equal(json.ok, true);
  assert.equal(json.verdict, 'passed');
  assert.equal(json.mode, 'throwaway');
  assert.equal(json.status, 200);
  assert.deepEqual(json.primary, { deployment: 'p1', alias: 'chat', provider: 'openai', model: 'p1-model', order: 1, pickedBy: 'order' });
  assert.deepEqual(json.route, [{ deployment: 'p1', outcome: 'blocked' }, { alias: 'backup', deployment: 'b1', outcome: 'ok' }]);
  assert.equal(json.served.deployment, 'b1');
  assert.equal(json.served.alias, 'backup');
  assert.equal(json.served.fallback_used, true);
  assert.equal(json.served.attempts, 1);
  assert.equal(up.count('p1-model'), 0);
});

test('throwaway: the primary is the first deployment of the lowest order tier', async () => {
  const result = await cli(['drill', '--config', file, '--alias', 'tiered', '--json'], ENV);
  assert.equal(result.code, 0, result.out + result.err);
  const json = JSON.parse(result.out);
  assert.equal(json.primary.deployment, 't-first');
  assert.equal(json.served.deployment, 't-second');
  assert.equal(json.served.fallback_used, false);
  assert.equal(up.count('t-first-model'), 0);
});

test('throwaway: the fallback fails too: exit 1 with the chain and the error', async () => {
  up.standing('b1-model', { kind: 'status', status: 500 });
  const result = await cli(['drill', '--config', file, '--alias', 'chat'], ENV);
  assert.equal(result.code, 1, result.out + result.err);
  assert.match(result.out, /primary\s+p1 .*: blocked/);
  assert.match(result.out, /attempt\s+backup\/b1: failed \(\w+\)/);
  assert.match(result.out, /error\s+HTTP 5\d\d \w+: /);
  assert.match(result.out, /FAIL: the fallback did not serve the request/);
  assert.equal(up.count('p1-model'), 0);
  assert.equal(up.count('b1-model'), 2, 'the fallback was tried and retried once');
});

test('throwaway: an alias with one deployment and no fallbacks: exit 1 with the hint', async () => {
  const result = await cli(['drill', '--config', file, '--alias', 'solo'], ENV);
  assert.equal(result.code, 1, result.out + result.err);
  assert.match(result.out, /FAIL: no secondary: add another deployment or routing\.fallbacks/);
  assert.equal(up.count('s1-model'), 0);
  const json = JSON.parse((await cli(['drill', '--config', file, '--alias', 'solo', '--json'], ENV)).out);
  assert.equal(json.verdict, 'no_secondary');
});

test('throwaway: an unknown alias exits 2 with a suggestion', async () => {
  const result = await cli(['drill', '--config', file, '--alias', 'chta'], ENV);
  assert.equal(result.code, 2);
  assert.match(result.err, /the alias "chta" does not exist in .*config\.yaml\. Did you mean "chat"\?/);
  assert.equal(up.requests.length, 0);
});

test('usage mistakes exit 2', async () => {
  for (const argv of [['drill'], ['drill', '--config', file], ['drill', '--alias', 'chat'], ['drill', '--config', file, '--alias', 'chat', '--admin-key', 'x'], ['drill', '--config', file, '--alias', 'chat', 'extra'], ['drill', '--bogus']]) {
    const result = await cli(argv, {});
    assert.equal(result.code, 2, argv.join(' '));
    assert.match(result.err, /Usage:\n {2}tollgate drill/, argv.join(' '));
  }
  const help = await cli(['drill', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /--alias NAME/);
  assert.match((await cli(['--help'])).out, /tollgate drill --alias NAME/);
});

test('running gateway: drills through --url with the master key, and reads TOLLGATE_URL', async () => {
  const gw = await startTestGateway(yaml, ENV);
  try {
    const result = await cli(['drill', '--url', gw.url, '--alias', 'chat'], { TOLLGATE_ADMIN_KEY: MASTER });
    assert.equal(result.code, 0, result.out + result.err);
    assert.match(result.out, new RegExp(`through the gateway at ${gw.url.replace(/[.]/g, '\\.')}`));
    assert.match(result.out, /primary\s+p1 \(openai p1-model\): blocked/);
    assert.match(result.out, /served\s+b1 \(alias backup, a fallback\)/);
    assert.match(result.out, /PASS/);

    const json = JSON.parse((await cli(['drill', '--alias', 'chat', '--json'], { TOLLGATE_URL: gw.url, TOLLGATE_MASTER_KEY: MASTER })).out);
    assert.equal(json.ok, true);
    assert.equal(json.mode, 'running');
    assert.equal(json.served.deployment, 'b1');
    assert.equal(up.count('p1-model'), 0, 'the blocked primary got no request');
    assert.equal(up.count('b1-model'), 2);

    const solo = await cli(['drill', '--url', gw.url, '--admin-key', MASTER, '--alias', 'solo']);
    assert.equal(solo.code, 1);
    assert.match(solo.out, /no secondary: add another deployment or routing\.fallbacks/);

    const unknown = await cli(['drill', '--url', gw.url, '--admin-key', MASTER, '--alias', 'chta']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /"chta" does not exist on this gateway\. Did you mean "chat"\?/);
  } finally {
    await gw.shutdown();
  }
});

test('running gateway: a wrong admin key is refused with a clear message', async () => {
  const gw = await startTestGateway(yaml, ENV);
  try {
    const wrong = await cli(['drill', '--url', gw.url, '--admin-key', 'sk-not-the-master-key', '--alias', 'chat']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /the gateway at http:\/\/127\.0\.0\.1:\d+ refused the admin key \(HTTP 401 \w+: .*\) Pass the master key or an admin-role key with --admin-key/);
    assert.doesNotMatch(wrong.err, /sk-not-the-master-key/);
    const none = await cli(['drill', '--url', gw.url, '--alias', 'chat']);
    assert.equal(none.code, 1);
    assert.match(none.err, /No admin key was sent: pass --admin-key or set TOLLGATE_ADMIN_KEY/);
    assert.equal(up.requests.length, 0);
  } finally {
    await gw.shutdown();
  }
});

test('running gateway: an unreachable URL is a clear error', async () => {
  const result = await cli(['drill', '--url', 'http://127.0.0.1:1', '--admin-key', MASTER, '--alias', 'chat']);
  assert.equal(result.code, 1);
  assert.match(result.err, /cannot reach the gateway at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/);
});

test('parseRoute splits alias/deployment with known pairs, and guesses default ids', () => {
  const known = [{ alias: 'openai/gpt-4o', deployment: 'openai/gpt-4o#1' }];
  assert.deepEqual(parseRoute('p1:blocked, openai/gpt-4o/openai/gpt-4o#1:failed(upstream_error), a/b/a/b#0:ok', known), [
    { deployment: 'p1', outcome: 'blocked' },
    { alias: 'openai/gpt-4o', deployment: 'openai/gpt-4o#1', outcome: 'failed', code: 'upstream_error' },
    { alias: 'a/b', deployment: 'a/b#0', outcome: 'ok' },
  ]);
  assert.deepEqual(parseRoute(undefined, known), []);
});
