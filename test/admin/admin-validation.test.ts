import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ACTOR, rejects, startAdmin, type AdminHarness } from './admin-harness.ts';

let h: AdminHarness;
beforeEach(async () => {
  h = await startAdmin();
  await h.service.createTeam({ team_id: 'search' }, ACTOR);
});
afterEach(() => h.close());

describe('unknown fields', () => {
  test('are a 400 naming the field with a did-you-mean, on every input', async () => {
    const cases: Array<[Promise<unknown>, string, string]> = [
      [h.service.createTeam({ team_alais: 'x' }, ACTOR), 'team_alais', 'team_alias'],
      [h.service.updateTeam('search', { rpm_limt: 1 }, ACTOR), 'rpm_limt', 'rpm_limit'],
      [h.service.createTenant({ tenant_id: 't', plann: 'pro' }, ACTOR), 'plann', 'plan'],
      [h.service.generateKey({ team_id: 'search', key_alias_: 'x' }, ACTOR), 'key_alias_', 'key_alias'],
      [h.service.generateKey({ team_id: 'search', expires: '2040-01-01T00:00:00Z' }, ACTOR), 'expires', 'expires_at'],
      [h.service.queryAudit({ acter: 'master' }), 'acter', 'actor'],
    ];
    for (const [attempt, field, guess] of cases) {
      const err = await rejects(attempt, 'invalid_request', field);
      assert.match(err.message, new RegExp(`unknown key "${field}"\\. Did you mean "${guess}"\\?`));
    }
  });

  test('a field with no near match is still named, with the allowed keys', async () => {
    const err = await rejects(h.service.createTeam({ zzzzzzzz: 1 }, ACTOR), 'invalid_request', 'zzzzzzzz');
    assert.doesNotMatch(err.message, /Did you mean/);
    assert.match(err.message, /Allowed keys here: team_id, team_alias/);
  });
});

describe('wrong types and values', () => {
  const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['string limit', { rpm_limit: '10' }, 'rpm_limit', /positive integer/],
    ['fractional limit', { tpm_limit: 1.5 }, 'tpm_limit', /positive integer/],
    ['zero limit', { max_parallel_requests: 0 }, 'max_parallel_requests', /positive integer/],
    ['negative budget', { max_budget: -1 }, 'max_budget', /0 or more/],
    ['bad budget_duration', { budget_duration: '7 days' }, 'budget_duration', /such as 30s, 15m/],
    ['zero budget_duration', { budget_duration: '0d' }, 'budget_duration', /positive duration/],
    ['models not an array', { models: 'gpt-4o' }, 'models', /array of alias patterns/],
    ['bad model pattern', { models: ['ok', 'bad pattern!'] }, 'models[1]', /alias name/],
    ['metadata array', { metadata: [1] }, 'metadata', /JSON object/],
    ['metadata too big', { metadata: { blob: 'x'.repeat(17_000) } }, 'metadata', /16384 bytes/],
    ['boolean as string', { require_tenant: 'yes' }, 'require_tenant', /true or false/],
    ['alias too long', { team_alias: 'a'.repeat(257) }, 'team_alias', /256 characters/],
    ['bad team id', { team_id: '-leading-dash' }, 'team_id', /letters, digits/],
  ];
  for (const [name, input, param, message] of bad) {
    test(`team: ${name}`, async () => {
      const err = await rejects(h.service.createTeam(input, ACTOR), 'invalid_request', param);
      assert.match(err.message, message);
    });
  }

  test('a body that is not an object', async () => {
    for (const input of [[], 'team', 42, null, undefined]) {
      const err = await rejects(h.service.createTeam(input, ACTOR), 'invalid_request', null);
      assert.match(err.message, /object/);
    }
  });

  test('key: role enum with did-you-mean, labels, tags limit', async () => {
    assert.match((await rejects(h.service.generateKey({ team_id: 'search', role: 'admn' }, ACTOR), 'invalid_request', 'role')).message, /Did you mean "admin"\?/);
    await rejects(h.service.generateKey({ team_id: 'search', environment: 'prod env' }, ACTOR), 'invalid_request', 'environment');
    await rejects(h.service.generateKey({ team_id: 'search', tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }, ACTOR), 'invalid_request', 'tags');
    await rejects(h.service.generateKey({ team_id: 'search', allowed_tenants: [] }, ACTOR), 'invalid_request', 'allowed_tenants');
    await rejects(h.service.generateKey({}, ACTOR), 'invalid_request', 'team_id');
  });

  test('dates: must parse, must be ISO-8601 with a zone, expires_at in the future', async () => {
    for (const expires_at of ['tomorrow', '2040-02-30T00:00:00Z', '2040-01-01', 1893456000]) {
      const err = await rejects(h.service.generateKey({ team_id: 'search', expires_at }, ACTOR), 'invalid_request', 'expires_at');
      assert.match(err.message, /ISO-8601/);
    }
    const past = await rejects(h.service.generateKey({ team_id: 'search', expires_at: '2001-01-01T00:00:00Z' }, ACTOR), 'invalid_request', 'expires_at');
    assert.match(past.message, /future/);
    await rejects(h.service.queryAudit({ since: 'yesterday' }), 'invalid_request', 'since');
  });

  test('exclusive pairs: tenant_id with allowed_tenants, duration with expires_at', async () => {
    await rejects(h.service.generateKey({ team_id: 'search', tenant_id: 'a', allowed_tenants: ['b'] }, ACTOR), 'invalid_request', 'allowed_tenants');
    await rejects(h.service.generateKey({ team_id: 'search', duration: '1d', expires_at: '2040-01-01T00:00:00Z' }, ACTOR), 'invalid_request', 'duration');
    const key = await h.service.generateKey({ team_id: 'search' }, ACTOR);
    await rejects(h.service.updateKey(key.key_id, { duration: '1d', expires_at: null }, ACTOR), 'invalid_request', 'duration');
  });

  test('nothing is written when validation fails', async () => {
    await rejects(h.service.createTeam({ team_id: 'x', rpm_limit: -1 }, ACTOR), 'invalid_request');
    await rejects(h.service.getTeam('x'), 'resource_not_found');
    assert.deepEqual((await h.service.queryAudit({ object_id: 'x' })).data, []);
  });
});

describe('injection strings', () => {
  const NASTY = [
    "'; DROP TABLE teams; --",
    '" OR 1=1 --',
    '<script>alert(1)</script>',
    '${process.exit(1)}',
    '../../etc/passwd',
    '{"$ne": null}',
    '\u202Ertl\uFFFF',
    'emoji 🎉 and \\ backslash',
  ];

  test('free-text fields and metadata are stored and returned verbatim', async () => {
    for (const [i, text] of NASTY.entries()) {
      const metadata = { [text]: text, nested: { list: [text] } };
      const team = await h.service.createTeam({ team_id: `t${i}`, team_alias: text, metadata }, ACTOR);
      assert.equal(team.team_alias, text);
      const tenant = await h.service.createTenant({ tenant_id: `n${i}`, name: text, metadata }, ACTOR);
      const key = await h.service.generateKey({ team_id: `t${i}`, key_alias: text, metadata }, ACTOR);
      assert.equal((await h.service.getTeam(`t${i}`)).team_alias, text);
      assert.deepEqual((await h.service.getTeam(`t${i}`)).metadata, metadata);
      assert.equal((await h.service.getTenant(tenant.tenant_id)).name, text);
      assert.equal((await h.service.getKey(key.key_id)).key_alias, text);
      assert.deepEqual((await h.service.getKey(key.key_id)).metadata, metadata);
    }
    assert.equal((await h.service.listTeams({})).data.length, NASTY.length + 1, 'the tables are intact');
  });

  test('a NUL character anywhere (PostgreSQL cannot store it) is a 400 naming the field', async () => {
    await rejects(h.service.createTeam({ team_alias: 'a\u0000b' }, ACTOR), 'invalid_request', 'team_alias');
    await rejects(h.service.createTenant({ tenant_id: 'ok', metadata: { 'k\u0000': 1 } }, ACTOR), 'invalid_request');
    await rejects(h.service.queryAudit({ actor: '\u0000' }), 'invalid_request', 'actor');
    await rejects(h.service.getTeam('a\u0000b'), 'resource_not_found');
  });

  test('in id, label and filter fields they are a 400 or a clean 404, never a 500', async () => {
    for (const text of NASTY) {
      await rejects(h.service.createTeam({ team_id: text }, ACTOR), 'invalid_request', 'team_id');
      await rejects(h.service.createTenant({ tenant_id: text }, ACTOR), 'invalid_request', 'tenant_id');
      await rejects(h.service.generateKey({ team_id: 'search', project: text }, ACTOR), 'invalid_request', 'project');
      await rejects(h.service.getTeam(text), 'resource_not_found');
      await rejects(h.service.updateKey(text, {}, ACTOR), 'resource_not_found');
      await h.service.queryAudit({ actor: text.slice(0, 256), object_id: text });
      await h.service.listTeams({ after: text });
    }
  });

  test('a __proto__ key in metadata does not pollute prototypes', async () => {
    const metadata = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}');
    const team = await h.service.createTeam({ team_id: 'proto', metadata }, ACTOR);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(team.metadata), Object.prototype);
    assert.equal((team.metadata as Record<string, unknown>).ok, 1);
  });
});
