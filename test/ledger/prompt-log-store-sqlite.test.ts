// The prompt log store contract on SQLite (a file per test in a temp dir, and :memory:), plus
// what only SQLite shows: the table shares a file with the identity store without their
// migrations mixing, deleted prompts are overwritten in the file, and the URL forms.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { openPromptLogStore } from '../../src/ledger/prompt-log/open-prompt-log-store.ts';
import { latestPromptLogVersion } from '../../src/ledger/prompt-log/prompt-log-migrations.ts';
import { openIdentityStore, latestSchemaVersion } from '../../src/stores/open-identity-store.ts';
import { promptLogStoreContract, promptRow } from './prompt-log-store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-prompt-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

promptLogStoreContract('SQLite file', async () => {
  const url = `sqlite:${join(dir, `prompts-${++files}.db`)}`;
  const file = url.slice('sqlite:'.length);
  const store = await openPromptLogStore({ url });
  return {
    store,
    openSibling: () => openPromptLogStore({ url }),
    cleanup: async () => {
      await store.close();
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    },
  };
});

promptLogStoreContract('SQLite :memory:', async () => {
  const store = await openPromptLogStore({ url: 'sqlite::memory:' });
  return { store, cleanup: () => store.close() };
});

test('SQLite: the prompt log and the identity store share a file, each with its own migrations', async () => {
  const url = `sqlite:${join(dir, 'shared.db')}`;
  const identity = await openIdentityStore({ url });
  const prompts = await openPromptLogStore({ url });
  try {
    assert.equal((await identity.migrate()).version, latestSchemaVersion(identity));
    assert.deepEqual(await prompts.migrate(), { applied: [1], version: latestPromptLogVersion('sqlite') });
    assert.equal(await identity.schemaVersion(), latestSchemaVersion(identity));
    assert.equal(await prompts.schemaVersion(), 1);
    await prompts.save([promptRow('r1')]);
    assert.ok(await prompts.get('r1'));
  } finally {
    await identity.close();
    await prompts.close();
  }
});

test('SQLite: a deleted prompt is overwritten in the database file (secure_delete)', async () => {
  const file = join(dir, 'secure.db');
  const store = await openPromptLogStore({ url: `sqlite:${file}` });
  const marker = 'UNMISTAKABLE-PROMPT-TEXT-0123456789';
  try {
    await store.migrate();
    await store.save([promptRow('secret-row', { prompt: JSON.stringify({ content: marker.repeat(50) }), completion: marker })]);
    assert.equal(await store.deleteBy({ requestId: 'secret-row' }), 1);
  } finally {
    await store.close();
  }
  // Closing checkpoints the WAL into the file.
  const bytes = Buffer.concat([file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f)));
  assert.equal(bytes.includes(Buffer.from(marker)), false, 'the deleted text is gone from the file');
});

test('openPromptLogStore: sqlite:PATH is relative to the working directory, parents created', async () => {
  const file = join(dir, 'nested', 'deeper', 'prompts.db');
  const store = await openPromptLogStore({ url: `sqlite:${relative(process.cwd(), file)}` });
  assert.equal(store.backend, 'sqlite');
  await store.migrate();
  await store.close();
  assert.ok(existsSync(file));
});

test('openPromptLogStore: postgres:// opens PostgreSQL without connecting; other URLs are refused without their password', async () => {
  const pgStore = await openPromptLogStore({ url: 'postgres://u:p@127.0.0.1:1/db', schema: 'prompts' });
  assert.equal(pgStore.backend, 'postgres');
  await pgStore.close();
  await assert.rejects(openPromptLogStore({ url: 'postgres://127.0.0.1/db', schema: 'Bad-Name' }), /schema must match/);
  for (const url of ['mysql://bob:hunter2@db/gw', 'jsonl:ledger', 'sqlite:', 'prompts.db']) {
    await assert.rejects(openPromptLogStore({ url }), (error: Error) => {
      assert.match(error.message, /accepted forms: postgres:\/\/.*sqlite::memory:/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
  }
});
