// Every admin API operation, described once: method, path, schemas and status. The router
// dispatches on this list and the OpenAPI document is generated from it, so both always agree.

import { promptDeleteQuery, promptLogDeleted, promptLogRecord } from './prompt-log-admin.ts';
import { z } from 'zod';
import { auditQuery, keyGenerate, keyListQuery, keyPatch, keyRotate, limitCreate, limitPatch, listQuery, noFields, teamCreate, teamPatch, tenantCreate, tenantPatch } from './admin-schemas.ts';
import { guardrailEventPageSchema, guardrailEventsQuery, ledgerEventSchema, requestPageSchema, requestsQuery, spendQuery, spendReportSchema } from './ledger-schemas.ts';
import {
  auditPage, keyDeleted, keyPage, keyRecord, keyWithSecret, limitDeleted, limitPage, limitRecord, spendReport, teamDeleted, teamPage, teamRecord, tenantDeleted, tenantPage, tenantRecord,
} from './record-schemas.ts';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface AdminOperation<Id extends string = string> {
  readonly id: Id;
  readonly method: HttpMethod;
  /** OpenAPI path template; at most one `{param}`, a whole segment. */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  readonly bodyRequired?: boolean;
  readonly status: number;
  readonly response: z.ZodType;
  /** The response carries a secret: sent with cache-control: no-store. */
  readonly secret?: boolean;
  /** With format=csv the response is text/csv instead of JSON. */
  readonly csv?: boolean;
  /** Error statuses beyond the usual ones (e.g. 404 ledger_disabled, 503 store_unavailable for the ledger's). */
  readonly errors?: readonly number[];
}

interface CollectionSpec<N extends string, V extends string> {
  /** Team, Tenant, Key: operation ids are listTeams, createTeam, getTeam, updateTeam, deleteTeam. */
  name: N;
  /** The path segment: teams, tenants, keys. */
  plural: string;
  idParam: string;
  query: z.ZodObject;
  /** create, or generate for keys. */
  createVerb: V;
  create: z.ZodType;
  created: z.ZodType;
  patch: z.ZodType;
  record: z.ZodType;
  page: z.ZodType;
  deleted: z.ZodType;
  secret?: boolean;
}

export type CollectionOperationId<N extends string, V extends string> = `list${N}s` | `${V}${N}` | `get${N}` | `update${N}` | `delete${N}`;

/** list, create, get, update and delete of one collection: the same five routes for teams, tenants and keys. */
function collection<N extends string, V extends string>(c: CollectionSpec<N, V>): Array<AdminOperation<CollectionOperationId<N, V>>> {
  const base = `/admin/${c.plural}`;
  const item = `${base}/{${c.idParam}}`;
  const one = c.name.toLowerCase();
  const verb = c.createVerb.charAt(0).toUpperCase() + c.createVerb.slice(1);
  return [
    { id: `list${c.name}s`, method: 'GET', path: base, tag: c.plural, summary: `List ${c.plural} (config-declared and stored), ids ascending.`, query: c.query, status: 200, response: c.page },
    { id: `${c.createVerb}${c.name}`, method: 'POST', path: base, tag: c.plural, summary: `${verb} a ${one}.`, body: c.create, bodyRequired: true, status: 201, response: c.created, ...(c.secret ? { secret: true } : {}) },
    { id: `get${c.name}`, method: 'GET', path: item, tag: c.plural, summary: `Get one ${one}.`, status: 200, response: c.record },
    { id: `update${c.name}`, method: 'PATCH', path: item, tag: c.plural, summary: `Change a ${one}: absent fields stay, null clears.`, body: c.patch, bodyRequired: true, status: 200, response: c.record },
    { id: `delete${c.name}`, method: 'DELETE', path: item, tag: c.plural, summary: `Delete a ${one}.`, status: 200, response: c.deleted },
  ];
}

function spendOf<N extends string>(name: N, plural: string, idParam: string): AdminOperation<`get${N}Spend`> {
  return {
    id: `get${name}Spend`, method: 'GET', path: `/admin/${plural}/{${idParam}}/spend`, tag: 'spend', status: 200, response: spendReport,
    summary: `Spend so far of a ${name.toLowerCase()} in its current budget periods (settled and reserved).`,
  };
}

function keyAction<A extends string>(action: A, summary: string, body: z.ZodType, response: z.ZodType): AdminOperation<`${A}Key`> {
  return { id: `${action}Key`, method: 'POST', path: `/admin/keys/{key_id}/${action}`, tag: 'keys', summary, body, status: 200, response, ...(response === keyWithSecret ? { secret: true } : {}) };
}

/** The ledger's endpoints also answer 404 ledger_disabled and 503 store_unavailable. */
const LEDGER_ERRORS = [404, 503] as const;

export const openApiDocument = z.record(z.string(), z.unknown()).meta({ description: 'An OpenAPI 3.1 document.' });

export const ADMIN_OPERATIONS = [
  ...collection({ name: 'Team', plural: 'teams', idParam: 'team_id', query: listQuery, create: teamCreate, createVerb: 'create', created: teamRecord, patch: teamPatch, record: teamRecord, page: teamPage, deleted: teamDeleted }),
  ...collection({ name: 'Tenant', plural: 'tenants', idParam: 'tenant_id', query: listQuery, create: tenantCreate, createVerb: 'create', created: tenantRecord, patch: tenantPatch, record: tenantRecord, page: tenantPage, deleted: tenantDeleted }),
  ...collection({ name: 'Key', plural: 'keys', idParam: 'key_id', query: keyListQuery, create: keyGenerate, createVerb: 'generate', created: keyWithSecret, patch: keyPatch, record: keyRecord, page: keyPage, deleted: keyDeleted, secret: true }),
  ...collection({ name: 'Limit', plural: 'limits', idParam: 'scope', query: listQuery, create: limitCreate, createVerb: 'create', created: limitRecord, patch: limitPatch, record: limitRecord, page: limitPage, deleted: limitDeleted }),
  keyAction('rotate', 'New secret for the key; the old one keeps working for grace_period. Returns the secret once.', keyRotate, keyWithSecret),
  keyAction('revoke', 'Revoke the key for good.', noFields, keyRecord),
  keyAction('block', 'Block the key until it is unblocked (no-op when blocked).', noFields, keyRecord),
  keyAction('unblock', 'Unblock the key (no-op when active).', noFields, keyRecord),
  spendOf('Key', 'keys', 'key_id'),
  spendOf('Team', 'teams', 'team_id'),
  spendOf('Tenant', 'tenants', 'tenant_id'),
  { id: 'getGlobalSpend', method: 'GET', path: '/admin/spend/global', tag: 'spend', summary: 'Spend so far against the global budgets (limits.global).', status: 200, response: spendReport },
  {
    id: 'getSpendReport', method: 'GET', path: '/admin/spend', tag: 'ledger', query: spendQuery, status: 200, response: spendReportSchema, csv: true, errors: LEDGER_ERRORS,
    summary: 'Spend from the cost ledger: requests, tokens, cost and savings, grouped by any of tenant, feature, model, key, team, day, provider, deployment.',
  },
  { id: 'listRequests', method: 'GET', path: '/admin/requests', tag: 'ledger', query: requestsQuery, status: 200, response: requestPageSchema, errors: LEDGER_ERRORS, summary: 'Ledger events (one per model request), newest first.' },
  { id: 'getRequest', method: 'GET', path: '/admin/requests/{request_id}', tag: 'ledger', status: 200, response: ledgerEventSchema, errors: LEDGER_ERRORS, summary: 'The ledger event of one request.' },
  {
    id: 'listGuardrailEvents', method: 'GET', path: '/admin/guardrail-events', tag: 'ledger', query: guardrailEventsQuery, status: 200, response: guardrailEventPageSchema, errors: LEDGER_ERRORS,
    summary: 'Calls the guardrails flagged, redacted or blocked, from the cost ledger, newest first: who, the verdict and the detectors (never prompt text).',
  },
  { id: 'getPromptLog', method: 'GET', path: '/admin/prompts/{request_id}', tag: 'prompts', status: 200, response: promptLogRecord, secret: true, errors: [503],
    summary: 'The logged prompt and completion of one request (redacted), for teams and tenants in ledger.prompt_logging.' },
  { id: 'deletePromptLogs', method: 'DELETE', path: '/admin/prompts', tag: 'prompts', query: promptDeleteQuery, status: 200, response: promptLogDeleted,
    summary: "Delete logged prompts by request_id, user (the ledger's user_id_hash) or tenant: exactly one." },
  { id: 'queryAudit', method: 'GET', path: '/admin/audit', tag: 'audit', summary: 'Admin actions, newest first.', query: auditQuery, status: 200, response: auditPage },
  { id: 'getOpenApi', method: 'GET', path: '/admin/openapi.json', tag: 'meta', summary: 'This document.', status: 200, response: openApiDocument },
] as const satisfies ReadonlyArray<AdminOperation>;

export type OperationId = (typeof ADMIN_OPERATIONS)[number]['id'];
