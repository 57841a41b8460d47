import assert from 'node:assert/strict';
import { test } from 'node:test';
import { schemaValue } from '../../../src/providers/simulator/simulator-schema.ts';

test('schemaValue: deterministic per seed, varied across seeds', () => {
  const schema = { type: 'object', properties: { a: { type: 'string' }, b: { type: 'integer' } } };
  assert.deepEqual(schemaValue(schema, 5), schemaValue(structuredClone(schema), 5));
  const distinct = new Set(Array.from({ length: 20 }, (_, seed) => JSON.stringify(schemaValue(schema, seed))));
  assert.ok(distinct.size > 10, `${distinct.size} distinct values`);
});

test('schemaValue: allOf merges, prefixItems, multipleOf, minProperties, patterns', () => {
  for (let seed = 0; seed < 50; seed++) {
    const merged = schemaValue({ allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { properties: { b: { type: 'boolean' } }, required: ['b'] }] }, seed) as Record<string, unknown>;
    assert.deepEqual(Object.keys(merged), ['a', 'b']);
    const tuple = schemaValue({ type: 'array', prefixItems: [{ type: 'integer' }, { type: 'string' }], items: false }, seed) as unknown[];
    assert.ok(tuple.length <= 2 && (tuple.length < 1 || Number.isInteger(tuple[0])) && (tuple.length < 2 || typeof tuple[1] === 'string'));
    const price = schemaValue({ type: 'number', multipleOf: 0.01, exclusiveMinimum: 0, maximum: 5 }, seed) as number;
    assert.ok(price > 0 && price <= 5 && Math.abs(Math.round(price * 100) - price * 100) < 1e-9, `price ${price}`);
    const bag = schemaValue({ type: 'object', minProperties: 2, additionalProperties: { type: 'integer' } }, seed) as Record<string, unknown>;
    assert.ok(Object.keys(bag).length >= 2 && Object.values(bag).every(Number.isInteger));
    assert.match(schemaValue({ type: 'string', pattern: '^\\d{5}$' }, seed) as string, /^\d{5}$/);
    assert.match(schemaValue({ type: 'string', pattern: '^[A-Z]{3}$' }, seed) as string, /^[A-Z]{3}$/);
    assert.match(schemaValue({ type: 'string', format: 'date' }, seed) as string, /^\d{4}-\d\d-\d\d$/);
    const unique = schemaValue({ type: 'array', items: { type: 'string', enum: ['x', 'y', 'z'] }, minItems: 2, uniqueItems: true }, seed) as string[];
    assert.equal(new Set(unique).size, unique.length);
  }
});

test('schemaValue: nullable types give values near the top, nulls deep down', () => {
  assert.equal(typeof schemaValue({ type: ['null', 'string'] }, 1), 'string');
  const deep = { type: 'object', properties: { next: { anyOf: [{ $ref: '#' }, { type: 'null' }] } }, required: ['next'] };
  let node = schemaValue(deep, 3) as { next: unknown } | null;
  let depth = 0;
  while (node) [node, depth] = [node.next as { next: unknown } | null, depth + 1];
  assert.ok(depth > 1 && depth < 10, `depth ${depth}`);
});

test('schemaValue: never throws on odd schemas', () => {
  const odd: unknown[] = [null, undefined, true, false, 3, 'string', [], {}, { type: 'weird' }, { type: [] }, { enum: [] }, { $ref: '#/nowhere' }, { $ref: 'http://x/y' },
    { $ref: '#/$defs/a', $defs: { a: { $ref: '#/$defs/a' } } }, { $ref: '#/%E0%A4%A' }, { anyOf: 'x' }, { allOf: [null, 3, { type: 'integer' }] },
    { type: 'object', properties: null, required: [1, null, '__proto__', 'constructor'] }, { type: 'array', items: 3, minItems: -1, maxItems: 'x' },
    { type: 'integer', minimum: 10, maximum: 1 }, { type: 'number', multipleOf: -1 }, { type: 'string', minLength: 5, maxLength: 2, pattern: '(' },
    { type: 'string', format: 'uuid', pattern: '^impossible$' }, { type: 'number', minimum: Number.MAX_VALUE }];
  for (const schema of odd) {
    for (const seed of [0, 1, 2 ** 32 - 1]) JSON.stringify(schemaValue(schema, seed));
  }
  const proto = schemaValue({ type: 'object', required: ['__proto__'] }, 1) as object;
  assert.ok(Object.hasOwn(proto, '__proto__'), 'an own property, not a prototype');
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
});
