// The ledger.prompt_logging config fragment: off by default, opt-in by team or tenant id,
// bounded retention and length.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_PROMPT_MAX_CHARS, DEFAULT_PROMPT_RETENTION_DAYS, promptLogSchema } from '../../src/config/prompt-log-schema.ts';

test('default: nothing listed, so nothing is logged; 30 days, 100 000 characters', () => {
  const defaults = { teams: [], tenants: [], retention_days: 30, max_chars: 100_000 };
  assert.deepEqual(promptLogSchema.parse(undefined), defaults);
  assert.deepEqual(promptLogSchema.parse({}), defaults);
  assert.equal(DEFAULT_PROMPT_RETENTION_DAYS, 30);
  assert.equal(DEFAULT_PROMPT_MAX_CHARS, 100_000);
});

test('teams and tenants by id; numbers may come from os.environ strings', () => {
  assert.deepEqual(promptLogSchema.parse({ teams: ['support', 'team_ab12'], tenants: ['acme'], retention_days: '90', max_chars: '20000' }), {
    teams: ['support', 'team_ab12'],
    tenants: ['acme'],
    retention_days: 90,
    max_chars: 20_000,
  });
  assert.equal(promptLogSchema.parse({ retention_days: 1 }).retention_days, 1);
  assert.equal(promptLogSchema.parse({ retention_days: 3650 }).retention_days, 3650);
});

test('refused: retention outside 1..3650 days, fractional days, odd lengths, bad ids, unknown fields', () => {
  const bad: Array<[unknown, string]> = [
    [{ retention_days: 0 }, 'retention_days'],
    [{ retention_days: 3651 }, 'retention_days'],
    [{ retention_days: 1.5 }, 'retention_days'],
    [{ retention_days: 'forever' }, 'retention_days'],
    [{ max_chars: 10 }, 'max_chars'],
    [{ max_chars: 1e9 }, 'max_chars'],
    [{ max_chars: 1000.5 }, 'max_chars'],
    [{ teams: ['has space'] }, 'teams'],
    [{ tenants: [''] }, 'tenants'],
    [{ teams: 'support' }, 'teams'],
    [{ enabled: true }, ''],
  ];
  for (const [input, field] of bad) {
    const result = promptLogSchema.safeParse(input);
    assert.equal(result.success, false, JSON.stringify(input));
    if (field) assert.equal(result.error!.issues[0]!.path[0], field, JSON.stringify(input));
  }
});
