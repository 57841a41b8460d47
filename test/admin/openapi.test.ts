import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import { ADMIN_OPERATIONS } from '../../src/admin/admin-operations.ts';
import { createAdminRouter } from '../../src/admin/admin-routes.ts';
import { keyGenerate, teamCreate } from '../../src/admin/admin-schemas.ts';
import type { AdminService } from '../../src/admin/admin-service.ts';
import { renderOpenApi } from '../../src/admin/openapi.ts';
import { ERROR_CODES } from '../../src/errors/codes.ts';
import { ClientWatchSlot, createRequestContext } from '../../src/pipeline/request-context.ts';
import type { LimitAdmin } from '../../src/admin/limit-admin.ts';

const DOC = JSON.parse(renderOpenApi(ADMIN_OPERATIONS));

/** The routes the admin API promises (docs/api.md); the document must describe each. */
const ROUTES = [
  'GET /admin/teams', 'POST /admin/teams', 'GET /admin/teams/{team_id}', 'PATCH /admin/teams/{team_id}', 'DELETE /admin/teams/{team_id}',
  'GET /admin/tenants', 'POST /admin/tenants', 'GET /admin/tenants/{tenant_id}', 'PATCH /admin/tenants/{tenant_id}', 'DELETE /admin/tenants/{tenant_id}',
  'GET /admin/keys', 'POST /admin/keys', 'GET /admin/keys/{key_id}', 'PATCH /admin/keys/{key_id}', 'DELETE /admin/keys/{key_id}',
  'POST /admin/keys/{key_id}/rotate', 'POST /admin/keys/{key_id}/revoke', 'POST /admin/keys/{key_id}/block', 'POST /admin/keys/{key_id}/unblock',
  'GET /admin/keys/{key_id}/spend', 'GET /admin/teams/{team_id}/spend', 'GET /admin/tenants/{tenant_id}/spend', 'GET /admin/spend/global',
  'GET /admin/spend', 'GET /admin/requests', 'GET /admin/requests/{request_id}', 'GET /admin/guardrail-events', 'GET /admin/prompts/{request_id}', 'DELETE /admin/prompts',
  'GET /admin/limits', 'POST /admin/limits', 'GET /admin/limits/{scope}', 'PATCH /admin/limits/{scope}', 'DELETE /admin/limits/{scope}',
  'GET /admin/audit', 'GET /admin/openapi.json',
];

function collectRefs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) collectRefs(item, out);
  else if (value && typeof value === 'object') {
    for (const [name, child] of Object.entries(value)) {
      if (name === '$ref' && typeof child === 'string') out.push(child);
      else collectRefs(child, out);
    }
  }
  return out;
}

test('OpenAPI 3.1 with a bearer security scheme applied to everything', () => {
  assert.equal(DOC.openapi, '3.1.0');
  assert.ok(DOC.info.title && DOC.info.version);
  assert.deepEqual(DOC.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', description: DOC.components.securitySchemes.bearer.description });
  assert.deepEqual(DOC.security, [{ bearer: [] }]);
});

test('every route is under paths, with a unique operationId, and nothing else is', () => {
  const documented = Object.entries(DOC.paths).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${path}`));
  assert.deepEqual(documented.sort(), [...ROUTES].sort());
  const ids = Object.values(DOC.paths).flatMap((ops) => Object.values(ops as Record<string, { operationId: string }>).map((o) => o.operationId));
  assert.equal(new Set(ids).size, ids.length);
});

test('path parameters are declared, query parameters come from the zod schemas', () => {
  const item = DOC.paths['/admin/keys/{key_id}'].get;
  assert.deepEqual(item.parameters, [{ name: 'key_id', in: 'path', required: true, schema: { type: 'string' } }]);
  const list = DOC.paths['/admin/keys'].get.parameters.map((p: { name: string }) => p.name);
  assert.deepEqual(list, ['limit', 'after', 'team_id', 'status']);
  const audit = DOC.paths['/admin/audit'].get.parameters.map((p: { name: string }) => p.name);
  assert.deepEqual(audit, ['actor', 'action', 'object_type', 'object_id', 'since', 'until', 'limit', 'before_seq']);
  const spend = DOC.paths['/admin/spend'].get.parameters.map((p: { name: string }) => p.name);
  assert.deepEqual(spend, ['group_by', 'from', 'to', 'tenant', 'feature', 'model', 'key', 'team', 'provider', 'format']);
  const requests = DOC.paths['/admin/requests'].get.parameters.map((p: { name: string }) => p.name);
  assert.deepEqual(requests, ['from', 'to', 'tenant', 'feature', 'model', 'key', 'team', 'user', 'status', 'limit', 'cursor']);
  const guardrail = DOC.paths['/admin/guardrail-events'].get.parameters.map((p: { name: string }) => p.name);
  assert.deepEqual(guardrail, ['verdict', 'tenant_id', 'team_id', 'key_id', 'alias', 'detector', 'from', 'to', 'limit', 'cursor']);
  const limit = DOC.paths['/admin/teams'].get.parameters.find((p: { name: string }) => p.name === 'limit');
  assert.deepEqual(limit.schema, { type: 'integer', minimum: 1, maximum: 1000 });
});

test('request bodies are the strict zod schemas; responses and errors are referenced', () => {
  const create = DOC.components.schemas.TeamCreate;
  assert.equal(create.additionalProperties, false);
  assert.deepEqual(Object.keys(create.properties), Object.keys(teamCreate.shape));
  assert.deepEqual(DOC.components.schemas.KeyGenerate.required, ['team_id']);
  assert.deepEqual(Object.keys(DOC.components.schemas.KeyGenerate.properties).sort(), Object.keys(keyGenerate.shape).sort());
  assert.ok(DOC.components.schemas.KeyWithSecret.properties.key);
  assert.equal(DOC.components.schemas.Key.properties.key, undefined);
  assert.deepEqual(DOC.components.schemas.Error.properties.error.properties.code.enum, Object.keys(ERROR_CODES));

  const generate = DOC.paths['/admin/keys'].post;
  assert.equal(generate.requestBody.content['application/json'].schema.$ref, '#/components/schemas/KeyGenerate');
  assert.equal(generate.responses['201'].content['application/json'].schema.$ref, '#/components/schemas/KeyWithSecret');
  assert.equal(generate.responses['400'].$ref, '#/components/responses/Error');
  const report = DOC.paths['/admin/spend'].get;
  assert.equal(report.operationId, 'getSpendReport');
  assert.equal(report.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/SpendReport');
  assert.equal(report.responses['200'].content['text/csv'].schema.type, 'string');
  assert.deepEqual(Object.keys(report.responses).sort(), ['200', '400', '401', '403', '404', '503']);
  assert.equal(DOC.paths['/admin/spend/global'].get.operationId, 'getGlobalSpend');
  assert.equal(DOC.paths['/admin/requests/{request_id}'].get.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/LedgerEvent');
  assert.ok(DOC.components.schemas.LedgerEvent.properties.outcome);
  const outcome = DOC.components.schemas.LedgerEvent.properties.outcome;
  assert.deepEqual(outcome.properties.guardrail_detectors.type, 'array');
  assert.ok(outcome.required.includes('guardrail_verdict') && outcome.required.includes('guardrail_detectors'));
  const guardrail = DOC.paths['/admin/guardrail-events'].get;
  assert.equal(guardrail.operationId, 'listGuardrailEvents');
  assert.equal(guardrail.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/GuardrailEventPage');
  assert.deepEqual(Object.keys(guardrail.responses).sort(), ['200', '400', '401', '403', '404', '503']);
  assert.deepEqual(Object.keys(DOC.components.schemas.GuardrailEvent.properties), [
    'request_id', 'event_id', 'timestamp', 'tenant_id', 'team_id', 'key_id', 'alias', 'endpoint', 'status', 'guardrail_verdict', 'guardrail_detectors', 'error_code',
  ]);
  assert.deepEqual(DOC.components.schemas.GuardrailEvent.properties.guardrail_verdict.enum, ['flag', 'redact', 'block']);
  for (const ref of collectRefs(DOC)) {
    const [, section, name] = /^#\/components\/(schemas|responses)\/(.+)$/.exec(ref) ?? [];
    assert.ok(section && DOC.components[section][name!], `unresolved $ref ${ref}`);
  }
});

test('GET /admin/openapi.json serves the same document, rendered once', async () => {
  const router = createAdminRouter({} as AdminService, { maxBodyBytes: 1024, limits: {} as LimitAdmin, spend: { read: async () => { throw new Error('unused'); }, global: () => ({}) } });
  const bodies: string[] = [];
  for (let i = 0; i < 2; i++) {
    let status = 0;
    let headers: Record<string, string> = {};
    const res = {
      writeHead: (s: number, h: Record<string, string>) => { status = s; headers = h; },
      end: (body: string) => bodies.push(body),
    } as unknown as ServerResponse;
    const req = { method: 'GET', url: '/admin/openapi.json', headers: {} } as IncomingMessage;
    await router(createRequestContext({}, 0, new ClientWatchSlot()), req, res, '/admin/openapi.json', { id: 'master' });
    assert.equal(status, 200);
    assert.equal(headers['content-type'], 'application/json');
  }
  assert.equal(bodies[0], bodies[1]);
  assert.deepEqual(JSON.parse(bodies[0]!), DOC);
});
