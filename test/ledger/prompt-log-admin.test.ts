// The admin handlers over logged prompts: GET /admin/prompts/{request_id} and
// DELETE /admin/prompts?request_id=|user=|tenant=, with their validation (400 invalid_request
// naming the parameter), 404 for a prompt that is not logged, 503 when the store is down; and
// the operation entries proposed for admin-operations.ts render in the OpenAPI document.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { ADMIN_OPERATIONS, type AdminOperation } from '../../src/admin/admin-operations.ts';
import { renderOpenApi } from '../../src/admin/openapi.ts';
import { parseInput } from '../../src/admin/parse-input.ts';
import { deletePromptLogs, getPromptLog, promptDeleteQuery, promptLogDeleted, promptLogRecord } from '../../src/admin/prompt-log-admin.ts';
import type { ErrorCode } from '../../src/errors/codes.ts';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { Logger } from '../../src/logging/logger.ts';
import { openPromptLogStore } from '../../src/ledger/prompt-log/open-prompt-log-store.ts';
import { createPromptLogger, type PromptLogger } from '../../src/ledger/prompt-log/prompt-logger.ts';
import { StoreUnavailable } from '../../src/stores/identity-store.ts';

const QUIET: Logger = { debug() {}, info() {}, warn() {}, error() {}, enabled: () => false, flush() {} };
const USER_A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const USER_B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const ACTOR = { id: 'master', requestId: 'req-admin-1' };

async function withPrompts(work: (prompts: PromptLogger) => Promise<void>): Promise<void> {
  const store = await openPromptLogStore({ url: 'sqlite::memory:' });
  await store.migrate();
  const prompts = createPromptLogger({ store, settings: { teams: ['t1'], tenants: [], retentionDays: 7, maxChars: 10_000 }, logger: QUIET, now: () => Date.parse('2030-01-01T00:00:00Z') });
  const record = (requestId: string, userHash: string, tenantId: string | null) =>
    prompts.record({
      requestId, timestamp: '2030-01-01T00:00:00.000Z', teamId: 't1', tenantId, keyId: 'key_1', userHash, alias: 'gpt-4o',
      prompt: { model: 'gpt-4o', messages: [{ role: 'user', content: `hi, I am ${requestId}@example.com` }] }, completion: 'hello',
    });
  record('req-1', USER_A, 'acme');
  record('req-2', USER_A, 'globex');
  record('req-3', USER_B, 'acme');
  record('req-4', USER_B, null);
  await prompts.flush();
  try {
    await work(prompts);
  } finally {
    await prompts.close();
  }
}

function gatewayError(code: ErrorCode, param?: string | null): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof GatewayError, `expected a GatewayError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (param !== undefined) assert.equal(error.param, param, error.message);
    return true;
  };
}

describe('GET /admin/prompts/{request_id}', () => {
  test('the logged prompt (parsed JSON, redacted) and completion, with its metadata', () =>
    withPrompts(async (prompts) => {
      const view = await getPromptLog(prompts, 'req-1', ACTOR);
      assert.deepEqual(view, {
        request_id: 'req-1',
        timestamp: '2030-01-01T00:00:00.000Z',
        expires_at: '2030-01-08T00:00:00.000Z',
        tenant_id: 'acme',
        team_id: 't1',
        key_id: 'key_1',
        user_id_hash: USER_A,
        model_alias: 'gpt-4o',
        prompt: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi, I am [EMAIL]' }] },
        completion: 'hello',
      });
      assert.ok(promptLogRecord.safeParse(view).success, 'matches the documented response');
    }));

  test('404 resource_not_found when nothing is logged for the request, or there is no prompt log', () =>
    withPrompts(async (prompts) => {
      await assert.rejects(getPromptLog(prompts, 'req-unknown', ACTOR), gatewayError('resource_not_found', 'request_id'));
      await assert.rejects(getPromptLog(undefined, 'req-1', ACTOR), gatewayError('resource_not_found'));
    }));

  test('400 invalid_request naming request_id for a malformed id', () =>
    withPrompts(async (prompts) => {
      for (const id of ['', 'has space', 'a'.repeat(129), 'semi;colon', 'slash/inside']) {
        await assert.rejects(getPromptLog(prompts, id, ACTOR), gatewayError('invalid_request', 'request_id'), JSON.stringify(id));
      }
    }));

  test('503 store_unavailable when the store is down', async () => {
    const down = { get: async () => { throw new StoreUnavailable('PostgreSQL at db:5432 is unavailable: ECONNREFUSED'); } } as unknown as PromptLogger;
    await assert.rejects(getPromptLog(down, 'req-1', ACTOR), gatewayError('store_unavailable'));
  });
});

describe('DELETE /admin/prompts', () => {
  test('by request_id, user (the user_id_hash) or tenant: {deleted: n}', () =>
    withPrompts(async (prompts) => {
      assert.deepEqual(await deletePromptLogs(prompts, { request_id: 'req-4' }, ACTOR), { deleted: 1 });
      assert.deepEqual(await deletePromptLogs(prompts, { request_id: 'req-4' }, ACTOR), { deleted: 0 });
      assert.deepEqual(await deletePromptLogs(prompts, { user: USER_A }, ACTOR), { deleted: 2 });
      assert.deepEqual(await deletePromptLogs(prompts, { tenant: 'acme' }, ACTOR), { deleted: 1 });
      await assert.rejects(getPromptLog(prompts, 'req-3', ACTOR), gatewayError('resource_not_found'));
      assert.ok(promptLogDeleted.safeParse({ deleted: 3 }).success);
    }));

  test('exactly one of request_id, user, tenant: 400 naming the parameter otherwise', () =>
    withPrompts(async (prompts) => {
      await assert.rejects(deletePromptLogs(prompts, {}, ACTOR), gatewayError('invalid_request', 'request_id'));
      await assert.rejects(deletePromptLogs(prompts, undefined, ACTOR), gatewayError('invalid_request', 'request_id'));
      await assert.rejects(deletePromptLogs(prompts, { request_id: 'req-1', user: USER_A }, ACTOR), gatewayError('invalid_request', 'user'));
      await assert.rejects(deletePromptLogs(prompts, { user: USER_A, tenant: 'acme' }, ACTOR), gatewayError('invalid_request', 'tenant'));
      // Nothing was deleted by the refused calls.
      assert.ok(await getPromptLog(prompts, 'req-1', ACTOR));
    }));

  test('malformed values and unknown parameters: 400 naming the parameter', () =>
    withPrompts(async (prompts) => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ user: 'alice@example.com' }, 'user'],
        [{ user: USER_A.toUpperCase() }, 'user'],
        [{ user: USER_A.slice(1) }, 'user'],
        [{ tenant: '' }, 'tenant'],
        [{ tenant: '-starts-with-dash' }, 'tenant'],
        [{ request_id: 'has space' }, 'request_id'],
        [{ request_id: ['req-1', 'req-2'] }, 'request_id'],
        [{ tenant_id: 'acme' }, 'tenant_id'],
      ];
      for (const [query, param] of cases) {
        await assert.rejects(deletePromptLogs(prompts, query, ACTOR), gatewayError('invalid_request', param), JSON.stringify(query));
      }
      const error = await deletePromptLogs(prompts, { user: 'alice' }, ACTOR).catch((e: Error) => e);
      assert.match((error as Error).message, /user_id_hash/);
    }));

  test('without a prompt log: input is still validated, and nothing is deleted', async () => {
    assert.deepEqual(await deletePromptLogs(undefined, { tenant: 'acme' }, ACTOR), { deleted: 0 });
    await assert.rejects(deletePromptLogs(undefined, {}, ACTOR), gatewayError('invalid_request', 'request_id'));
  });

  test('503 store_unavailable when the store is down', async () => {
    const down = { deleteBy: async () => { throw new StoreUnavailable('down'); } } as unknown as PromptLogger;
    await assert.rejects(deletePromptLogs(down, { tenant: 'acme' }, ACTOR), gatewayError('store_unavailable'));
  });

  test('the query schema takes what the router parses from a query string', () => {
    const parsed = parseInput(promptDeleteQuery, Object.fromEntries(new URLSearchParams(`user=${USER_A}`)), 'query string');
    assert.deepEqual(parsed, { user: USER_A });
  });
});

describe('the proposed admin operation entries', () => {
  const PROMPT_OPERATIONS = [
    {
      id: 'getPromptLog', method: 'GET', path: '/admin/prompts/{request_id}', tag: 'prompts', status: 200, response: promptLogRecord, secret: true, errors: [503],
      summary: 'The logged prompt and completion of one request (redacted), for teams and tenants in ledger.prompt_logging.',
    },
    {
      id: 'deletePromptLogs', method: 'DELETE', path: '/admin/prompts', tag: 'prompts', query: promptDeleteQuery, status: 200, response: promptLogDeleted,
      summary: 'Delete logged prompts by request_id, user (user_id_hash) or tenant: exactly one.',
    },
  ] as const satisfies ReadonlyArray<AdminOperation>;

  test('render in the OpenAPI document with their parameters and responses', () => {
    const doc = JSON.parse(renderOpenApi([...ADMIN_OPERATIONS, ...PROMPT_OPERATIONS]));
    const get = doc.paths['/admin/prompts/{request_id}'].get;
    assert.equal(get.operationId, 'getPromptLog');
    assert.deepEqual(get.parameters.map((p: { name: string }) => p.name), ['request_id']);
    assert.deepEqual(Object.keys(get.responses).sort(), ['200', '400', '401', '403', '404', '503']);
    assert.deepEqual(Object.keys(get.responses['200'].content['application/json'].schema.properties), Object.keys(promptLogRecord.shape));
    const del = doc.paths['/admin/prompts'].delete;
    assert.deepEqual(del.parameters.map((p: { name: string }) => p.name), ['request_id', 'user', 'tenant']);
    assert.ok(z.toJSONSchema(promptDeleteQuery, { io: 'input' }));
  });
});
