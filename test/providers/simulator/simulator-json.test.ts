import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { simulateChat, toChunks, toCompletion } from '../../../src/providers/simulator/simulator-chat.ts';
import type { ChatRequest } from '../../../src/providers/types.ts';
import { simulatorFetch } from './sim-helpers.ts';

const REQ: ChatRequest = { model: 'sim-1', messages: [{ role: 'user', content: 'Describe a person.' }] };

const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    age: { type: 'integer', minimum: 18, maximum: 30 },
    score: { type: 'number', minimum: 0, maximum: 1 },
    active: { type: 'boolean' },
    role: { type: 'string', enum: ['admin', 'viewer'] },
    tags: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 4 },
    address: { type: 'object', properties: { city: { type: 'string' }, zip: { type: ['string', 'null'] } }, required: ['city', 'zip'], additionalProperties: false },
    history: { type: 'array', items: { type: 'object', properties: { year: { type: 'integer' } }, required: ['year'] }, minItems: 1 },
  },
  required: ['name', 'age', 'score', 'active', 'role', 'tags', 'address', 'history'],
  additionalProperties: false,
};

function schemaReq(schema: unknown, extra: Partial<ChatRequest> = {}): ChatRequest {
  return { ...REQ, response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema } }, ...extra };
}

function content(req: ChatRequest, output = 20): string {
  return toCompletion(simulateChat(req, output, 0)).choices[0]!.message.content!;
}

test('json_schema: the content is an object that satisfies the schema, nested objects and arrays included', () => {
  const value = JSON.parse(content(schemaReq(PERSON)));
  assert.deepEqual(Object.keys(value), PERSON.required);
  assert.equal(typeof value.name, 'string');
  assert.ok(value.name.length > 0);
  assert.ok(Number.isInteger(value.age) && value.age >= 18 && value.age <= 30, `age ${value.age}`);
  assert.ok(typeof value.score === 'number' && value.score >= 0 && value.score <= 1, `score ${value.score}`);
  assert.equal(typeof value.active, 'boolean');
  assert.ok(['admin', 'viewer'].includes(value.role));
  assert.ok(Array.isArray(value.tags) && value.tags.length >= 2 && value.tags.length <= 4);
  assert.ok(value.tags.every((t: unknown) => typeof t === 'string'));
  assert.deepEqual(Object.keys(value.address), ['city', 'zip']);
  assert.ok(value.address.zip === null || typeof value.address.zip === 'string');
  assert.ok(value.history.length >= 1 && value.history.every((h: { year: unknown }) => Number.isInteger(h.year)));
});

test('json_schema: deterministic for the same request, different for another prompt', () => {
  assert.equal(content(schemaReq(PERSON)), content(structuredClone(schemaReq(PERSON))));
  const other = content({ ...schemaReq(PERSON), messages: [{ role: 'user', content: 'Another person, please.' }] });
  assert.notEqual(other, content(schemaReq(PERSON)));
});

test('json_schema: $ref/$defs, anyOf, const, formats and numeric bounds', () => {
  const schema = {
    type: 'object',
    $defs: { point: { type: 'object', properties: { x: { type: 'number', exclusiveMinimum: 5, exclusiveMaximum: 6 } }, required: ['x'] } },
    properties: {
      p: { $ref: '#/$defs/point' },
      maybe: { anyOf: [{ type: 'null' }, { type: 'integer', multipleOf: 7, minimum: 1 }] },
      lit: { const: 'fixed' },
      when: { type: 'string', format: 'date-time' },
      email: { type: 'string', format: 'email' },
      id: { type: 'string', format: 'uuid' },
      short: { type: 'string', maxLength: 3, minLength: 2 },
    },
  };
  const value = JSON.parse(content(schemaReq(schema)));
  assert.ok(value.p.x > 5 && value.p.x < 6, `x ${value.p.x}`);
  assert.ok(Number.isInteger(value.maybe) && value.maybe % 7 === 0 && value.maybe >= 1, `maybe ${value.maybe}`);
  assert.equal(value.lit, 'fixed');
  assert.ok(!Number.isNaN(Date.parse(value.when)) && /T.*Z$/.test(value.when));
  assert.match(value.email, /^[a-z0-9.]+@example\.com$/);
  assert.match(value.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(value.short.length >= 2 && value.short.length <= 3, `short ${value.short}`);
});

test('json_schema: a recursive schema terminates', () => {
  const tree = { type: 'object', properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#' } } }, required: ['name', 'children'] };
  const value = JSON.parse(content(schemaReq(tree)));
  assert.equal(typeof value.name, 'string');
  assert.ok(Array.isArray(value.children));
});

test('json_object still gives a simple object', () => {
  const value = JSON.parse(content({ ...REQ, response_format: { type: 'json_object' } }, 12));
  assert.equal(typeof value.answer, 'string');
});

test('JSON mode never exceeds max_tokens, punctuation included; truncation says length', () => {
  for (const response_format of [{ type: 'json_object' }, { type: 'json_schema', json_schema: { name: 'p', schema: PERSON } }]) {
    const full = simulateChat({ ...REQ, response_format }, 20, 0);
    const fullTokens = full.usage.completion_tokens;
    for (let limit = 1; limit <= fullTokens + 2; limit++) {
      const sim = simulateChat({ ...REQ, response_format, max_tokens: limit }, 20, 0);
      const c = toCompletion(sim);
      assert.ok(sim.usage.completion_tokens <= limit, `${response_format.type} max_tokens ${limit}: ${sim.usage.completion_tokens} tokens`);
      const streamed = toChunks(sim, false).filter((ch) => typeof ch.choices[0]?.delta.content === 'string' && ch.choices[0].delta.content !== '').length;
      assert.ok(streamed <= limit, `${streamed} streamed tokens for max_tokens ${limit}`);
      if (limit < fullTokens) {
        assert.equal(c.choices[0]!.finish_reason, 'length', `${response_format.type} max_tokens ${limit}`);
        assert.ok(toCompletion(full).choices[0]!.message.content!.startsWith(c.choices[0]!.message.content!), 'a truncation is a prefix');
      } else {
        assert.equal(c.choices[0]!.finish_reason, 'stop');
        JSON.parse(c.choices[0]!.message.content!);
      }
    }
  }
  const five = simulateChat({ ...REQ, response_format: { type: 'json_object' }, max_tokens: 5 }, 32, 0);
  assert.equal(five.usage.completion_tokens, 5);
  assert.equal(five.choices[0]!.finishReason, 'length');
});

test('the official SDK parses a zodResponseFormat answer', async () => {
  const Person = z.object({
    name: z.string(),
    age: z.number().int().min(0).max(120),
    email: z.string().email(),
    when: z.string().datetime(),
    kind: z.enum(['cat', 'dog']),
    tags: z.array(z.string()).min(1),
    home: z.object({ street: z.string(), unit: z.number().nullable() }),
    nick: z.string().nullable(),
  });
  const client = new OpenAI({ apiKey: 'sk-test', baseURL: 'http://simulator.invalid/v1', fetch: simulatorFetch(), maxRetries: 0 });
  const completion = await client.chat.completions.parse({ model: 'sim-1', messages: [{ role: 'user', content: 'Describe a pet owner.' }], response_format: zodResponseFormat(Person, 'person') });
  const parsed = completion.choices[0]!.message.parsed;
  assert.ok(parsed);
  assert.deepEqual(Person.parse(parsed), parsed);
});
