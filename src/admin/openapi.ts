// The admin API's OpenAPI 3.1 document, generated from the operation list and the same zod
// schemas the service validates with. Rendered once, when the router is built.

import { z } from 'zod';
import { keyGenerate, keyPatch, keyRotate, noFields, teamCreate, teamPatch, tenantCreate, tenantPatch } from './admin-schemas.ts';
import { openApiDocument, type AdminOperation } from './admin-operations.ts';
import { guardrailEventPageSchema, guardrailEventSchema, ledgerEventSchema, requestPageSchema, spendReportSchema } from './ledger-schemas.ts';
import {
  auditEntry, auditPage, errorEnvelope, keyDeleted, keyPage, keyRecord, keyWithSecret, teamDeleted, teamPage, teamRecord, tenantDeleted, tenantPage, tenantRecord,
} from './record-schemas.ts';

const COMPONENTS: Record<string, z.ZodType> = {
  Team: teamRecord, TeamCreate: teamCreate, TeamPatch: teamPatch, TeamPage: teamPage, TeamDeleted: teamDeleted,
  Tenant: tenantRecord, TenantCreate: tenantCreate, TenantPatch: tenantPatch, TenantPage: tenantPage, TenantDeleted: tenantDeleted,
  Key: keyRecord, KeyWithSecret: keyWithSecret, KeyGenerate: keyGenerate, KeyPatch: keyPatch, KeyPage: keyPage, KeyDeleted: keyDeleted,
  KeyRotate: keyRotate, Empty: noFields,
  AuditEntry: auditEntry, AuditPage: auditPage,
  SpendReport: spendReportSchema, LedgerEvent: ledgerEventSchema, RequestPage: requestPageSchema,
  GuardrailEvent: guardrailEventSchema, GuardrailEventPage: guardrailEventPageSchema,
  OpenApiDocument: openApiDocument,
  Error: errorEnvelope,
};

type Json = Record<string, unknown>;

function withoutDialect(schema: Json): Json {
  const { $schema: _dialect, $id: _id, ...rest } = schema;
  return rest;
}

function componentSchemas(): { schemas: Record<string, Json>; refOf: Map<z.ZodType, string> } {
  const registry = z.registry<{ id: string }>();
  const refOf = new Map<z.ZodType, string>();
  for (const [name, schema] of Object.entries(COMPONENTS)) {
    registry.add(schema, { id: name });
    refOf.set(schema, `#/components/schemas/${name}`);
  }
  const out = z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}`, unrepresentable: 'any' }) as { schemas: Record<string, Json> };
  const schemas = Object.fromEntries(Object.entries(out.schemas).map(([name, schema]) => [name, withoutDialect(schema)]));
  return { schemas, refOf };
}

function schemaRef(schema: z.ZodType, refOf: Map<z.ZodType, string>): Json {
  const ref = refOf.get(schema);
  return ref ? { $ref: ref } : withoutDialect(z.toJSONSchema(schema, { unrepresentable: 'any' }) as Json);
}

function jsonContent(schema: Json): Json {
  return { 'application/json': { schema } };
}

function parameters(op: AdminOperation): Json[] {
  const params: Json[] = [];
  const pathParam = /\{(\w+)\}/.exec(op.path)?.[1];
  if (pathParam) params.push({ name: pathParam, in: 'path', required: true, schema: { type: 'string' } });
  for (const [name, field] of Object.entries(op.query?.shape ?? {})) {
    const schema = withoutDialect(z.toJSONSchema(field as z.ZodType, { unrepresentable: 'any', io: 'input' }) as Json);
    const { description, ...rest } = schema;
    params.push({ name, in: 'query', required: false, schema: rest, ...(description ? { description } : {}) });
  }
  return params;
}

function errorResponses(op: AdminOperation): Json {
  const codes = ['400', '401', '403'];
  if (op.path.includes('{')) codes.push('404');
  if (op.method !== 'GET') codes.push('409', '503');
  for (const status of op.errors ?? []) if (!codes.includes(String(status))) codes.push(String(status));
  return Object.fromEntries(codes.sort().map((code) => [code, { $ref: '#/components/responses/Error' }]));
}

function operation(op: AdminOperation, refOf: Map<z.ZodType, string>): Json {
  const done = op.status === 201 ? 'Created.' : 'OK.';
  const content = jsonContent(schemaRef(op.response, refOf));
  if (op.csv) content['text/csv'] = { schema: { type: 'string', description: 'With format=csv: a header row, then one row per group.' } };
  const ok: Json = { description: op.secret ? `${done} Carries the secret, once; sent with Cache-Control: no-store.` : done, content };
  return {
    operationId: op.id,
    summary: op.summary,
    tags: [op.tag],
    parameters: parameters(op),
    ...(op.body ? { requestBody: { required: op.bodyRequired === true, content: jsonContent(schemaRef(op.body, refOf)) } } : {}),
    responses: { [String(op.status)]: ok, ...errorResponses(op) },
  };
}

/** The OpenAPI 3.1 document for `operations`, as JSON text. */
export function renderOpenApi(operations: ReadonlyArray<AdminOperation>): string {
  const { schemas, refOf } = componentSchemas();
  const paths: Record<string, Json> = {};
  for (const op of operations) {
    paths[op.path] = { ...paths[op.path], [op.method.toLowerCase()]: operation(op, refOf) };
  }
  return JSON.stringify({
    openapi: '3.1.0',
    info: {
      title: 'Tollgate admin API',
      version: '1',
      description: 'Teams, tenants, virtual keys, limits, the audit log and the cost ledger (spend reports, request audit). Needs the master key or a virtual key with role admin. Errors use the OpenAI error envelope.',
    },
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas,
      responses: { Error: { description: 'An error in the OpenAI error envelope; `code` is stable.', content: jsonContent({ $ref: '#/components/schemas/Error' }) } },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The master key, or a virtual key (sk-tg-…) with role admin.' } },
    },
  });
}
