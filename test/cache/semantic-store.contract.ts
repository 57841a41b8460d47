// The one contract every SemanticCacheStore backend passes (memory and Redis): the nearest
// entry at or above the threshold, expiry by the caller's clock, invalidation by owner and by
// owner + alias, stores from before an invalidation dropped, and namespaces that never leak
// into each other — identical prompts, similar prompts, look-alike names, concurrent stores
// from many owners. Vectors come from the lexical embedder; every time is injected.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CacheNamespace, SemanticCacheStore } from '../../src/cache/cache-store.ts';
import { LexicalEmbedder } from '../../src/cache/lexical-embedder.ts';

export interface OpenedSemanticStore {
  store: SemanticCacheStore;
  /** Closes the store and removes its entries. */
  cleanup: () => Promise<void>;
}

export const T0 = Date.UTC(2030, 0, 1);
export const MINUTE = 60_000;
const embedder = new LexicalEmbedder();
export const embed = (text: string) => embedder.embedSync(text);

export function ns(owner: string, alias = 'gpt', version = '0'): CacheNamespace {
  return { owner, alias, version };
}

/** Stores `value` under the generation a lookup sees now, as the pipeline does after a miss. */
export async function put(store: SemanticCacheStore, space: CacheNamespace, text: string, value: string, now = T0, ttlMs = 10 * MINUTE): Promise<void> {
  const { generation } = await store.lookup(space, embed(text), 0.95, now);
  await store.store(space, embed(text), value, ttlMs, now, generation);
}

export async function find(store: SemanticCacheStore, space: CacheNamespace, text: string, now = T0 + 1, threshold = 0.95): Promise<string | undefined> {
  return (await store.lookup(space, embed(text), threshold, now)).hit?.value;
}

/** Namespaces whose parts, joined naively, collide: each must stay apart. */
export const LOOKALIKES: readonly CacheNamespace[] = [
  ns('tenant:a', 'b:c', '0'),
  ns('tenant:a:b', 'c', '0'),
  ns('tenant', 'a:b:c', '0'),
  ns('tenant:a', 'b', 'c:0'),
  ns('tenant:a', 'b%3Ac', '0'),
  ns('tenant:a%3Ab', 'c', '0'),
  ns('tenant:{a}', 'b:c', '0'),
  ns('tenant:a', 'b|c', '0'),
  ns('tenant:a', '["b","c"]', '0'),
  ns('tenant:a","b', 'c', '0'),
  ns('team:a', 'b:c', '0'),
  ns('tenant:a', 'b:c', '1'),
  ns('tenant:a', 'b:c', ''),
  ns('tenant:a', '', 'b:c:0'),
];

const QUESTION = 'What is the capital of France?';

export function semanticStoreContract(name: string, open: () => Promise<OpenedSemanticStore>): void {
  const it = (title: string, work: (store: SemanticCacheStore) => Promise<void>) =>
    test(title, async () => {
      const opened = await open();
      try {
        await work(opened.store);
      } finally {
        await opened.cleanup();
      }
    });

  describe(`SemanticCacheStore contract: ${name}`, () => {
    it('a miss, then the stored answer for the same and near-duplicate prompts, with their similarity', async (store) => {
      const space = ns('tenant:a');
      const empty = await store.lookup(space, embed(QUESTION), 0.95, T0);
      assert.equal(empty.hit, undefined);
      assert.equal(typeof empty.generation, 'string');
      await store.store(space, embed(QUESTION), 'Paris', 10 * MINUTE, T0, empty.generation);
      const same = await store.lookup(space, embed(QUESTION), 0.95, T0 + 1);
      assert.equal(same.hit?.value, 'Paris');
      assert.ok(same.hit!.similarity > 0.9999 && same.hit!.similarity <= 1);
      assert.equal(same.generation, empty.generation);
      const near = await store.lookup(space, embed('what is the capital of france'), 0.95, T0 + 1);
      assert.equal(near.hit?.value, 'Paris');
      assert.ok(near.hit!.similarity >= 0.95 && near.hit!.similarity < 1);
      // Above the pair's similarity, or for another question, a miss.
      assert.equal(await find(store, space, 'what is the capital of france', T0 + 1, 0.9999), undefined);
      assert.equal(await find(store, space, 'What is the capital of Germany?'), undefined);
    });

    it('the nearest of several entries; storing the same prompt again replaces its answer', async (store) => {
      const space = ns('tenant:a');
      await put(store, space, 'Explain how a TCP three-way handshake works, step by step.', 'tcp');
      await put(store, space, 'Explain how a TLS handshake works, step by step.', 'tls');
      await put(store, space, 'Explain how a QUIC handshake works, step by step.', 'quic');
      assert.equal(await find(store, space, 'explain how a TLS handshake works step by step', T0 + 1, 0.9), 'tls');
      await put(store, space, 'Explain how a TLS handshake works, step by step.', 'tls, again', T0 + 2);
      assert.equal(await find(store, space, 'Explain how a TLS handshake works, step by step.', T0 + 3), 'tls, again');
    });

    it('expiry by the caller’s clock', async (store) => {
      const space = ns('tenant:a');
      await put(store, space, QUESTION, 'Paris', T0, MINUTE);
      assert.equal(await find(store, space, QUESTION, T0 + MINUTE - 1), 'Paris');
      assert.equal(await find(store, space, QUESTION, T0 + MINUTE), undefined);
      assert.equal(await find(store, space, QUESTION, T0 + 2 * MINUTE), undefined);
    });

    it('invalidation by owner covers every alias and version; by alias only that alias; other owners keep theirs', async (store) => {
      const spaces = [ns('tenant:a', 'gpt', '0'), ns('tenant:a', 'gpt', '7'), ns('tenant:a', 'claude'), ns('tenant:b', 'gpt')];
      for (const space of spaces) await put(store, space, QUESTION, `${space.owner}/${space.alias}/${space.version}`);
      const before = (await store.lookup(spaces[0], embed(QUESTION), 0.95, T0)).generation;
      await store.invalidate({ owner: 'tenant:a', alias: 'gpt' });
      assert.deepEqual(await Promise.all(spaces.map((s) => find(store, s, QUESTION))), [undefined, undefined, 'tenant:a/claude/0', 'tenant:b/gpt/0']);
      const after = (await store.lookup(spaces[0], embed(QUESTION), 0.95, T0)).generation;
      assert.notEqual(after, before);
      await store.invalidate({ owner: 'tenant:a' });
      assert.deepEqual(await Promise.all(spaces.map((s) => find(store, s, QUESTION))), [undefined, undefined, undefined, 'tenant:b/gpt/0']);
      // New entries after the invalidation are served.
      await put(store, spaces[0], QUESTION, 'fresh');
      assert.equal(await find(store, spaces[0], QUESTION), 'fresh');
    });

    it('a store made with the generation from before an invalidation is dropped', async (store) => {
      const space = ns('tenant:a');
      const { generation } = await store.lookup(space, embed(QUESTION), 0.95, T0);
      await store.invalidate({ owner: 'tenant:a', alias: 'gpt' });
      await store.store(space, embed(QUESTION), 'computed before the invalidation', 10 * MINUTE, T0, generation);
      assert.equal(await find(store, space, QUESTION), undefined);
      const owner = (await store.lookup(space, embed(QUESTION), 0.95, T0)).generation;
      await store.invalidate({ owner: 'tenant:a' });
      await store.store(space, embed(QUESTION), 'stale again', 10 * MINUTE, T0, owner);
      assert.equal(await find(store, space, QUESTION), undefined);
      await store.store(space, embed(QUESTION), 'made up', 10 * MINUTE, T0, 'not a generation');
      assert.equal(await find(store, space, QUESTION), undefined);
    });

    it('tenant isolation: an identical prompt in another owner, alias or version is a miss', async (store) => {
      await put(store, ns('tenant:a'), QUESTION, 'a’s answer');
      for (const other of [ns('tenant:b'), ns('team:a'), ns('key:a'), ns('tenant:a', 'claude'), ns('tenant:a', 'gpt', '1'), ns('tenant:A'), ns('tenant:a ')]) {
        assert.equal(await find(store, other, QUESTION, T0 + 1, 0.01), undefined, JSON.stringify(other));
      }
    });

    it('tenant isolation: namespaces whose names look alike never share entries', async (store) => {
      for (const [i, space] of LOOKALIKES.entries()) await put(store, space, QUESTION, `answer ${i}`);
      for (const [i, space] of LOOKALIKES.entries()) assert.equal(await find(store, space, QUESTION), `answer ${i}`, JSON.stringify(space));
      await store.invalidate({ owner: 'tenant:a', alias: 'b:c' });
      const left = await Promise.all(LOOKALIKES.map((space) => find(store, space, QUESTION)));
      LOOKALIKES.forEach((space, i) => assert.equal(left[i], space.owner === 'tenant:a' && space.alias === 'b:c' ? undefined : `answer ${i}`, JSON.stringify(space)));
    });

    it('tenant isolation: similar prompts of one owner are never found by another, whose own are', async (store) => {
      const prompts = Array.from({ length: 40 }, (_, i) => `Summarise ticket ${i} about the billing export failing for customer ${i * 7}`);
      for (const [i, prompt] of prompts.entries()) await put(store, ns('tenant:a'), prompt, `a-${i}`);
      for (const [i, prompt] of prompts.entries()) {
        assert.equal(await find(store, ns('tenant:a'), prompt.toLowerCase()), `a-${i}`);
        assert.equal(await find(store, ns('tenant:b'), prompt, T0 + 1, 0.01), undefined);
        assert.equal(await find(store, ns('tenant:b'), prompt.toLowerCase(), T0 + 1, 0.01), undefined);
      }
      await put(store, ns('tenant:b'), prompts[3], 'b-3');
      assert.equal(await find(store, ns('tenant:b'), prompts[3]), 'b-3');
      assert.equal(await find(store, ns('tenant:a'), prompts[3]), 'a-3');
    });

    it('tenant isolation: concurrent stores of the same prompts from many owners each find their own', async (store) => {
      const owners = Array.from({ length: 25 }, (_, i) => `tenant:t${i}`);
      const prompts = Array.from({ length: 8 }, (_, i) => `How do I rotate the API key number ${i} for the staging project?`);
      const generations = await Promise.all(owners.map((owner) => store.lookup(ns(owner), embed(prompts[0]), 0.95, T0).then((r) => r.generation)));
      await Promise.all(owners.flatMap((owner, o) => prompts.map((prompt, p) => store.store(ns(owner), embed(prompt), `${owner}#${p}`, 10 * MINUTE, T0, generations[o]))));
      const found = await Promise.all(owners.flatMap((owner) => prompts.map((prompt) => find(store, ns(owner), prompt))));
      assert.deepEqual(found, owners.flatMap((owner) => prompts.map((_, p) => `${owner}#${p}`)));
    });

    it('large and unusual values come back intact', async (store) => {
      const values = ['x'.repeat(300_000), 'a|b|c\n{"json": true}', '', 'émoji 🎉 \u0000 nul'];
      for (const [i, value] of values.entries()) await put(store, ns(`tenant:v${i}`), QUESTION, value);
      for (const [i, value] of values.entries()) assert.equal(await find(store, ns(`tenant:v${i}`), QUESTION), value);
    });
  });
}

/** Polls `check` until it returns true (every 10 ms, at most `timeoutMs`); fails with `what` otherwise. */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
