// The prompt logger: who is logged (nothing by default), what is stored (redacted, truncated,
// with its expiry), batching off the request path, the bounded queue, store failures, deletion
// that also reaches entries not stored yet, the purge timer, and close.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import type { Logger, LogLevel } from '../../src/logging/logger.ts';
import { openPromptLogStore } from '../../src/ledger/prompt-log/open-prompt-log-store.ts';
import { createPromptLogger, type PromptLogEntry, type PromptLogger, type PromptLoggerOptions, type PromptLogSettings } from '../../src/ledger/prompt-log/prompt-logger.ts';
import type { PromptLogRow, PromptLogStore } from '../../src/ledger/prompt-log/prompt-log-store.ts';
import { StoreUnavailable } from '../../src/stores/identity-store.ts';

interface Line {
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown>;
}

function captureLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const log = (level: LogLevel) => (msg: string, fields: Record<string, unknown> = {}) => void lines.push({ level, msg, fields });
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), enabled: () => true, flush: () => undefined };
}

const SETTINGS: PromptLogSettings = { teams: ['team-logged'], tenants: ['tenant-logged'], retentionDays: 30, maxChars: 2000 };
const T0 = Date.parse('2030-06-01T12:00:00.000Z');
const DAY = 86_400_000;
const USER = '0123456789abcdef0123456789abcdef';

function entry(requestId: string, fields: Partial<PromptLogEntry> = {}): PromptLogEntry {
  return {
    requestId,
    timestamp: new Date(T0).toISOString(),
    teamId: 'team-logged',
    tenantId: null,
    keyId: 'key_1',
    userHash: USER,
    alias: 'gpt-4o',
    prompt: { model: 'gpt-4o', messages: [{ role: 'user', content: `question ${requestId}` }] },
    completion: `answer ${requestId}`,
    ...fields,
  };
}

interface Harness {
  prompts: PromptLogger;
  store: PromptLogStore;
  log: ReturnType<typeof captureLogger>;
  clock: { now: number };
}

async function start(options: Partial<PromptLoggerOptions> & { wrap?: (store: PromptLogStore) => PromptLogStore } = {}): Promise<Harness> {
  const inner = await openPromptLogStore({ url: 'sqlite::memory:' });
  await inner.migrate();
  const store = options.wrap ? options.wrap(inner) : inner;
  const log = captureLogger();
  const clock = { now: T0 };
  const prompts = createPromptLogger({ store, settings: SETTINGS, logger: log, now: () => clock.now, flushIntervalMs: 10, ...options });
  return { prompts, store, log, clock };
}

/** A store whose saves wait for `release()`, to hold a batch in flight. */
function gatedSaves(store: PromptLogStore): PromptLogStore & { saving: Promise<void>; release: () => void; saves: number } {
  let release!: () => void;
  let started!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const saving = new Promise<void>((resolve) => (started = resolve));
  const wrapped = Object.create(store) as PromptLogStore & { saving: Promise<void>; release: () => void; saves: number };
  wrapped.saves = 0;
  wrapped.saving = saving;
  wrapped.release = release;
  wrapped.save = async (rows: readonly PromptLogRow[]) => {
    wrapped.saves++;
    started();
    await gate;
    return store.save(rows);
  };
  for (const method of ['get', 'deleteBy', 'purgeExpired', 'close', 'migrate', 'schemaVersion'] as const) (wrapped as unknown as Record<string, unknown>)[method] = (store[method] as (...a: unknown[]) => unknown).bind(store);
  return wrapped;
}

describe('prompt logger: who is logged', () => {
  test('nothing listed: nothing is wanted, nothing stored', async () => {
    const { prompts, store } = await start({ settings: { ...SETTINGS, teams: [], tenants: [] } });
    try {
      assert.equal(prompts.active, false);
      assert.equal(prompts.wants({ teamId: 'team-logged', tenantId: 'tenant-logged' }), false);
      prompts.record(entry('r1'));
      await prompts.flush();
      assert.equal(await store.get('r1'), undefined);
      assert.equal(prompts.stats().stored, 0);
    } finally {
      await prompts.close();
    }
  });

  test('a call is logged when its team or its tenant is listed', async () => {
    const { prompts, store } = await start();
    try {
      assert.equal(prompts.active, true);
      assert.equal(prompts.wants({ teamId: 'team-logged' }), true);
      assert.equal(prompts.wants({ teamId: 'other', tenantId: 'tenant-logged' }), true);
      assert.equal(prompts.wants({ teamId: 'other', tenantId: 'other' }), false);
      assert.equal(prompts.wants({ teamId: null, tenantId: null }), false);
      assert.equal(prompts.wants({}), false);
      assert.equal(prompts.wants({ teamId: 'TEAM-LOGGED' }), false, 'ids are exact');
      prompts.record(entry('by-team'));
      prompts.record(entry('by-tenant', { teamId: 'other', tenantId: 'tenant-logged' }));
      prompts.record(entry('neither', { teamId: 'other', tenantId: 'other' }));
      await prompts.flush();
      assert.ok(await store.get('by-team'));
      assert.ok(await store.get('by-tenant'));
      assert.equal(await store.get('neither'), undefined);
    } finally {
      await prompts.close();
    }
  });
});

describe('prompt logger: what is stored', () => {
  test('the row: redacted prompt JSON and completion, ids, and the expiry after retention_days', async () => {
    const { prompts, store } = await start();
    try {
      prompts.record(
        entry('req-1', {
          tenantId: 'tenant-logged',
          prompt: { model: 'gpt-4o', user: 'raw-user-42', messages: [{ role: 'user', content: 'I am jane@example.com, card 4111 1111 1111 1111' }] },
          completion: 'Noted, jane@example.com. Call +1 415 555 0132.',
        }),
      );
      await prompts.flush();
      const row = await store.get('req-1');
      assert.deepEqual(row, {
        request_id: 'req-1',
        ts: '2030-06-01T12:00:00.000Z',
        expires_at: new Date(T0 + 30 * DAY).toISOString(),
        tenant_id: 'tenant-logged',
        team_id: 'team-logged',
        key_id: 'key_1',
        user_id_hash: USER,
        model_alias: 'gpt-4o',
        prompt: '{"model":"gpt-4o","messages":[{"role":"user","content":"I am [EMAIL], card [CARD]"}]}',
        completion: 'Noted, [EMAIL]. Call [PHONE].',
      });
      assert.deepEqual(prompts.stats().redactions, { EMAIL: 2, CARD: 1, PHONE: 1 });
    } finally {
      await prompts.close();
    }
  });

  test('long prompts and completions are cut to max_chars; epoch-ms timestamps are accepted', async () => {
    const { prompts, store } = await start();
    try {
      prompts.record(entry('long', { timestamp: T0 + 5, prompt: { messages: [{ role: 'user', content: 'blah '.repeat(10_000) }] }, completion: 'yes '.repeat(10_000) }));
      await prompts.flush();
      const row = (await store.get('long'))!;
      assert.ok(row.prompt.length <= SETTINGS.maxChars);
      assert.ok(JSON.parse(row.prompt).messages[0].content.endsWith('…[TRUNCATED]'));
      assert.equal(row.completion.length, SETTINGS.maxChars);
      assert.ok(row.completion.endsWith('…[TRUNCATED]'));
      assert.equal(row.ts, new Date(T0 + 5).toISOString());
    } finally {
      await prompts.close();
    }
  });
});

describe('prompt logger: batching off the request path', () => {
  test('record() returns at once; entries are stored by the timer, in batches', async () => {
    let batches = 0;
    const { prompts, store } = await start({
      batchSize: 10,
      flushIntervalMs: 30,
      wrap: (inner) => {
        const wrapped = gatedSaves(inner);
        wrapped.release();
        const save = wrapped.save;
        wrapped.save = (rows) => (batches++, save(rows));
        return wrapped;
      },
    });
    try {
      const started = performance.now();
      for (let i = 0; i < 25; i++) prompts.record(entry(`b${i}`, { prompt: { content: 'x '.repeat(5000) } }));
      assert.ok(performance.now() - started < 50, 'record does no redaction or I/O');
      assert.equal(await store.get('b0'), undefined, 'not stored synchronously');
      for (let i = 0; i < 100 && prompts.stats().stored < 25; i++) await sleep(10);
      assert.equal(prompts.stats().stored, 25);
      assert.equal(batches, 3, 'batches of at most 10');
    } finally {
      await prompts.close();
    }
  });

  test('a full queue drops further entries, counts them and warns once', async () => {
    const { prompts, store, log } = await start({ batchSize: 2, maxQueued: 5, wrap: gatedSaves });
    const gated = store as ReturnType<typeof gatedSaves>;
    try {
      for (let i = 0; i < 5; i++) prompts.record(entry(`q${i}`));
      await gated.saving;
      // Two entries are in the held batch: three wait, room for two more.
      for (let i = 5; i < 12; i++) prompts.record(entry(`q${i}`));
      assert.equal(prompts.stats().dropped, 5);
      gated.release();
      await prompts.flush();
      assert.equal(prompts.stats().stored, 7);
      const warnings = log.lines.filter((l) => l.level === 'warn');
      assert.equal(warnings.length, 1);
      assert.deepEqual(warnings[0]!.fields, { dropped: 5, max_queued: 5 });
    } finally {
      await prompts.close();
    }
  });

  test('a store failure drops the batch with an error log (no content), and later batches are stored', async () => {
    let fail = true;
    const { prompts, store, log } = await start({
      wrap: (inner) => {
        const wrapped = gatedSaves(inner);
        wrapped.release();
        const save = wrapped.save;
        wrapped.save = async (rows) => {
          if (fail) throw new StoreUnavailable('PostgreSQL at db:5432 is unavailable: ECONNREFUSED');
          return save(rows);
        };
        return wrapped;
      },
    });
    try {
      prompts.record(entry('lost', { prompt: { content: 'secret plans jane@example.com' } }));
      await prompts.flush();
      fail = false;
      prompts.record(entry('kept'));
      await prompts.flush();
      assert.equal(await store.get('lost'), undefined);
      assert.ok(await store.get('kept'));
      assert.deepEqual({ stored: prompts.stats().stored, failed: prompts.stats().failed }, { stored: 1, failed: 1 });
      const errors = log.lines.filter((l) => l.level === 'error');
      assert.equal(errors.length, 1);
      assert.match(String(errors[0]!.fields.error), /unavailable/);
      assert.equal(JSON.stringify(log.lines).includes('secret plans'), false);
    } finally {
      await prompts.close();
    }
  });

  test('record() never throws; an entry that cannot be prepared is counted and logged', async () => {
    const { prompts, store, log } = await start();
    try {
      const hostile = { toJSON() { throw new Error('boom'); } };
      assert.doesNotThrow(() => prompts.record(entry('bad', { prompt: hostile })));
      assert.doesNotThrow(() => prompts.record({ requestId: '' } as PromptLogEntry));
      assert.doesNotThrow(() => prompts.record(null as unknown as PromptLogEntry));
      prompts.record(entry('good'));
      await prompts.flush();
      assert.equal(await store.get('bad'), undefined);
      assert.ok(await store.get('good'));
      assert.equal(prompts.stats().failed, 1);
      assert.ok(log.lines.some((l) => l.level === 'error' && l.fields.request_id === 'bad'));
    } finally {
      await prompts.close();
    }
  });
});

describe('prompt logger: get and delete', () => {
  test('get() waits for an entry still queued', async () => {
    const { prompts, log } = await start({ flushIntervalMs: 60_000 });
    try {
      prompts.record(entry('queued'));
      assert.equal((await prompts.get('queued'))?.completion, 'answer queued');
      assert.equal(await prompts.get('missing', 'master'), undefined);
      assert.ok(log.lines.some((l) => l.msg === 'prompt log: prompt read' && l.fields.actor === 'master' && l.fields.found === false));
    } finally {
      await prompts.close();
    }
  });

  test('deleteBy reaches stored rows and entries still queued, and counts both', async () => {
    const { prompts, store, log } = await start({ flushIntervalMs: 60_000 });
    try {
      const other = 'ffffffffffffffffffffffffffffffff';
      prompts.record(entry('s1'));
      prompts.record(entry('s2', { userHash: other, tenantId: 'tenant-logged' }));
      await prompts.flush();
      prompts.record(entry('q1'));
      prompts.record(entry('q2', { userHash: other }));
      assert.equal(await prompts.deleteBy({ userHash: USER }, 'master'), 2);
      await prompts.flush();
      assert.equal(await store.get('s1'), undefined);
      assert.equal(await store.get('q1'), undefined);
      assert.ok(await store.get('s2'));
      assert.ok(await store.get('q2'));
      assert.equal(await prompts.deleteBy({ tenantId: 'tenant-logged' }), 1);
      assert.equal(await prompts.deleteBy({ requestId: 'q2' }), 1);
      assert.equal(await prompts.deleteBy({ requestId: 'q2' }), 0);
      assert.equal(prompts.stats().deleted, 4);
      assert.ok(log.lines.some((l) => l.msg === 'prompt log: prompts deleted on request' && l.fields.by === 'userHash' && l.fields.deleted === 2 && l.fields.actor === 'master'));
      await assert.rejects(prompts.deleteBy({} as never), TypeError);
    } finally {
      await prompts.close();
    }
  });

  test('a deletion while a batch is being saved runs after the save: the row does not come back', async () => {
    const { prompts, store } = await start({ batchSize: 1, wrap: gatedSaves });
    const gated = store as ReturnType<typeof gatedSaves>;
    try {
      prompts.record(entry('inflight'));
      await gated.saving;
      const deleting = prompts.deleteBy({ requestId: 'inflight' });
      await sleep(20);
      gated.release();
      assert.equal(await deleting, 1);
      await prompts.flush();
      assert.equal(await store.get('inflight'), undefined);
    } finally {
      await prompts.close();
    }
  });

  test('a deletion while a batch is being redacted cancels its entries there', async () => {
    const { prompts, store } = await start({ batchSize: 10, flushIntervalMs: 60_000 });
    try {
      let deleting: Promise<number> | undefined;
      // Redacting the first entry's prompt starts a deletion of the second entry's user.
      const trigger = { toJSON: () => ((deleting = prompts.deleteBy({ userHash: 'ffffffffffffffffffffffffffffffff' })), { content: 'first' }) };
      prompts.record(entry('first', { prompt: trigger }));
      prompts.record(entry('second', { userHash: 'ffffffffffffffffffffffffffffffff' }));
      await prompts.flush();
      assert.equal(await deleting, 1);
      assert.ok(await store.get('first'));
      assert.equal(await store.get('second'), undefined);
    } finally {
      await prompts.close();
    }
  });
});

describe('prompt logger: retention', () => {
  test('expired rows are purged at start and on the timer, counted and logged', async () => {
    const store = await openPromptLogStore({ url: 'sqlite::memory:' });
    await store.migrate();
    const row = (id: string, expires: number): PromptLogRow => ({
      request_id: id, ts: new Date(T0 - 40 * DAY).toISOString(), expires_at: new Date(expires).toISOString(),
      tenant_id: null, team_id: 'team-logged', key_id: null, user_id_hash: null, model_alias: null, prompt: '{}', completion: '',
    });
    await store.save([row('old-1', T0 - DAY), row('old-2', T0 - 1), row('later', T0 + DAY)]);
    const log = captureLogger();
    const clock = { now: T0 };
    const prompts = createPromptLogger({ store, settings: SETTINGS, logger: log, now: () => clock.now, purgeIntervalMs: 20 });
    try {
      for (let i = 0; i < 50 && prompts.stats().purged < 2; i++) await sleep(5);
      assert.equal(prompts.stats().purged, 2);
      assert.ok(log.lines.some((l) => l.level === 'info' && l.msg === 'prompt log: expired prompts purged' && l.fields.deleted === 2));
      assert.ok(await store.get('later'));
      clock.now = T0 + DAY;
      for (let i = 0; i < 100 && prompts.stats().purged < 3; i++) await sleep(5);
      assert.equal(prompts.stats().purged, 3);
      assert.equal(await store.get('later'), undefined);
      assert.equal(await prompts.purge(), 0);
    } finally {
      await prompts.close();
    }
  });

  test('a failed purge is logged and the timer goes on', async () => {
    let failures = 0;
    const { prompts, log } = await start({
      purgeIntervalMs: 10,
      wrap: (inner) => {
        const wrapped = gatedSaves(inner);
        wrapped.purgeExpired = async () => {
          failures++;
          throw new StoreUnavailable('down');
        };
        return wrapped;
      },
    });
    try {
      for (let i = 0; i < 100 && failures < 3; i++) await sleep(5);
      assert.ok(failures >= 3);
      assert.ok(log.lines.some((l) => l.level === 'error' && l.msg === 'prompt log purge failed'));
    } finally {
      await prompts.close();
    }
  });
});

describe('prompt logger: close', () => {
  test('close stores what is queued, closes the store, and later records are ignored', async () => {
    let closed = false;
    const { prompts, store } = await start({
      flushIntervalMs: 60_000,
      wrap: (inner) => {
        const wrapped = gatedSaves(inner);
        wrapped.release();
        wrapped.close = async () => {
          closed = true;
        };
        return wrapped;
      },
    });
    prompts.record(entry('last'));
    await prompts.close();
    assert.equal(closed, true);
    assert.ok(await store.get('last'));
    prompts.record(entry('after'));
    await prompts.close();
    assert.equal(await store.get('after'), undefined);
  });
});
