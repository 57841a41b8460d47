// The /admin HTTP API: matches the path and method against the operation list, reads the query
// and body, calls the admin service and writes the JSON response. Authorization happens before
// (in app.ts); errors are thrown as GatewayError and written by the app.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors/gateway-error.ts';
import { readJsonBody } from '../http/read-json.ts';
import { baseHeaders, sendJson } from '../http/respond.ts';
import type { LedgerReader } from '../ledger/ledger-sink.ts';
import type { RequestContext } from '../pipeline/request-context.ts';
import { ADMIN_OPERATIONS, type AdminOperation, type CollectionOperationId, type OperationId } from './admin-operations.ts';
import { noFields } from './admin-schemas.ts';
import type { Actor, AdminService, Page } from './admin-service.ts';
import { renderOpenApi } from './openapi.ts';
import type { Limits } from '../identity/records.ts';
import type { SpendReader } from '../limits/spend-report.ts';
import type { LimitAdmin } from './limit-admin.ts';
import { parseInput } from './parse-input.ts';
import { createLedgerAdmin, type LedgerAdmin } from './ledger-admin.ts';
import { deletePromptLogs, getPromptLog } from './prompt-log-admin.ts';
import type { PromptLogger } from '../ledger/prompt-log/prompt-logger.ts';
import { spendCsv } from './spend-csv.ts';

export type AdminRouter = (ctx: RequestContext, req: IncomingMessage, res: ServerResponse, path: string, actor: Actor) => Promise<void>;

interface Call {
  /** The decoded `{param}` of the path ('' when the path has none). */
  id: string;
  /** The validated query string. */
  query: Record<string, unknown>;
  body: unknown;
  actor: Actor;
}

type Handler = (call: Call) => Promise<unknown>;

/** A body already rendered as JSON text. */
class JsonText {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** A body that is not JSON (a CSV export). */
class RawText {
  readonly text: string;
  readonly contentType: string;
  constructor(text: string, contentType: string) {
    this.text = text;
    this.contentType = contentType;
  }
}

interface Collection<T> {
  // The service's methods for one kind.
  list(query: Record<string, unknown>): Promise<Page<T>>;
  create(input: unknown, actor: Actor): Promise<T>;
  get(id: string): Promise<T>;
  update(id: string, patch: unknown, actor: Actor): Promise<T>;
  remove(id: string, actor: Actor): Promise<void>;
}

function collectionHandlers<N extends string, V extends string>(name: N, createVerb: V, idField: string, c: Collection<unknown>) {
  return {
    [`list${name}s`]: (call: Call) => c.list(call.query),
    [`${createVerb}${name}`]: (call: Call) => c.create(call.body, call.actor),
    [`get${name}`]: (call: Call) => c.get(call.id),
    [`update${name}`]: (call: Call) => c.update(call.id, call.body, call.actor),
    [`delete${name}`]: async (call: Call) => {
      await c.remove(call.id, call.actor);
      return { deleted: true, [idField]: call.id };
    },
  } as Record<CollectionOperationId<N, V>, Handler>;
}

/** revoke, block and unblock take no input; a body, when sent, must be an empty object. */
function withoutInput(action: (id: string, actor: Actor) => Promise<unknown>): Handler {
  return (call) => {
    if (call.body !== undefined) parseInput(noFields, call.body, 'request body');
    return action(call.id, call.actor);
  };
}

/** Where spend-so-far comes from: the limits counters, and the global scope's limits from config. */
export interface SpendSource {
  readonly read: SpendReader;
  /** The global scope's limits in effect (config, or set through /admin/limits). */
  readonly global: () => Readonly<Limits>;
}

function handlersFor(service: AdminService, limits: LimitAdmin, spend: SpendSource, ledger: LedgerAdmin, prompts: PromptLogger | undefined, openApi: () => JsonText): Record<OperationId, Handler> {
  return {
    ...collectionHandlers('Team', 'create', 'team_id', {
      list: (q) => service.listTeams(q), create: (i, a) => service.createTeam(i, a), get: (id) => service.getTeam(id),
      update: (id, p, a) => service.updateTeam(id, p, a), remove: (id, a) => service.deleteTeam(id, a),
    }),
    ...collectionHandlers('Tenant', 'create', 'tenant_id', {
      list: (q) => service.listTenants(q), create: (i, a) => service.createTenant(i, a), get: (id) => service.getTenant(id),
      update: (id, p, a) => service.updateTenant(id, p, a), remove: (id, a) => service.deleteTenant(id, a),
    }),
    ...collectionHandlers('Key', 'generate', 'key_id', {
      list: (q) => service.listKeys(q), create: (i, a) => service.generateKey(i, a), get: (id) => service.getKey(id),
      update: (id, p, a) => service.updateKey(id, p, a), remove: (id, a) => service.deleteKey(id, a),
    }),
    ...collectionHandlers('Limit', 'create', 'scope', {
      list: (q) => limits.list(q), create: (i, a) => limits.create(i, a), get: (id) => limits.get(id),
      update: (id, p, a) => limits.update(id, p, a), remove: (id, a) => limits.remove(id, a),
    }),
    rotateKey: (call) => service.rotateKey(call.id, call.body, call.actor),
    revokeKey: withoutInput((id, actor) => service.revokeKey(id, actor)),
    blockKey: withoutInput((id, actor) => service.blockKey(id, actor)),
    unblockKey: withoutInput((id, actor) => service.unblockKey(id, actor)),
    getKeySpend: async (call) => spend.read('key', call.id, await service.getKey(call.id)),
    getTeamSpend: async (call) => spend.read('team', call.id, await service.getTeam(call.id)),
    getTenantSpend: async (call) => spend.read('tenant', call.id, await service.getTenant(call.id)),
    getGlobalSpend: () => spend.read('global', 'global', spend.global()),
    getSpendReport: async (call) => {
      const report = await ledger.spend(call.query);
      return call.query.format === 'csv' ? new RawText(spendCsv(report), 'text/csv; charset=utf-8') : report;
    },
    listRequests: (call) => ledger.requests(call.query),
    getRequest: (call) => ledger.request(call.id),
    listGuardrailEvents: (call) => ledger.guardrailEvents(call.query),
    getPromptLog: (call) => getPromptLog(prompts, call.id, call.actor),
    deletePromptLogs: (call) => deletePromptLogs(prompts, call.query, call.actor),
    queryAudit: (call) => service.queryAudit(call.query),
    getOpenApi: async () => openApi(),
  };
}

interface PathEntry {
  pattern: RegExp;
  /** The name of the path's `{param}`, if it has one. */
  param?: string;
  methods: Map<string, AdminOperation>;
}

function compilePaths(operations: ReadonlyArray<AdminOperation>): PathEntry[] {
  const entries = new Map<string, PathEntry>();
  for (const op of operations) {
    let entry = entries.get(op.path);
    if (!entry) {
      const param = /\{(\w+)\}/.exec(op.path)?.[1];
      const source = op.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/, '([^/]+)');
      entry = { pattern: new RegExp(`^${source}$`), ...(param ? { param } : {}), methods: new Map() };
      entries.set(op.path, entry);
    }
    entry.methods.set(op.method, op);
  }
  return [...entries.values()];
}

function decodeSegment(raw: string, param: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new GatewayError('invalid_request', `The ${param} in the path is not valid percent-encoding: "${raw.slice(0, 100)}".`, { param });
  }
}

/** The query string as an object; a repeated name becomes an array (which no field accepts). */
function rawQuery(url: string | undefined): Record<string, string | string[]> {
  const q = url?.indexOf('?') ?? -1;
  const out: Record<string, string | string[]> = {};
  if (q === -1) return out;
  for (const [name, value] of new URLSearchParams(url!.slice(q + 1))) {
    const seen = out[name];
    out[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return out;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length !== undefined ? length !== '0' : req.headers['transfer-encoding'] !== undefined;
}

export interface AdminRouterOptions {
  maxBodyBytes: number;
  limits: LimitAdmin;
  spend: SpendSource;
  /** The cost ledger's reader (its first SQL sink); absent: the ledger endpoints answer 404 ledger_disabled. */
  ledger?: LedgerReader;
  /** Logged prompts (ledger.prompt_logging). */
  prompts?: PromptLogger;
}

export function createAdminRouter(service: AdminService, options: AdminRouterOptions): AdminRouter {
  const paths = compilePaths(ADMIN_OPERATIONS);
  // Rendered on first request, then kept: most gateways never serve it, and it is not small.
  let openApi: JsonText | undefined;
  const ledger = createLedgerAdmin(options.ledger);
  const handlers = handlersFor(service, options.limits, options.spend, ledger, options.prompts, () => (openApi ??= new JsonText(renderOpenApi(ADMIN_OPERATIONS))));

  return async function adminRouter(ctx, req, res, path, actor) {
    let entry: PathEntry | undefined;
    let match: RegExpExecArray | null = null;
    for (const candidate of paths) {
      match = candidate.pattern.exec(path);
      if (match) {
        entry = candidate;
        break;
      }
    }
    if (!entry || !match) {
      throw new GatewayError('route_not_found', `No admin endpoint at ${path.slice(0, 200)}. GET /admin/openapi.json lists them.`);
    }
    const op = entry.methods.get(req.method ?? '');
    if (!op) {
      const allowed = [...entry.methods.keys()].join(', ');
      res.setHeader('allow', allowed);
      throw new GatewayError('method_not_allowed', `${path.slice(0, 200)} takes ${allowed}, not ${req.method}.`);
    }
    const id = entry.param && match[1] !== undefined ? decodeSegment(match[1], entry.param) : '';
    const query = op.query ? parseInput(op.query, rawQuery(req.url), 'query string') : {};
    const body = op.body && (op.bodyRequired || hasBody(req)) ? (await readJsonBody(req, options.maxBodyBytes)).value : undefined;
    const result = await handlers[op.id as OperationId]({ id, query, body, actor });
    const headers = baseHeaders(ctx);
    if (op.secret) headers['cache-control'] = 'no-store';
    if (result instanceof RawText) {
      headers['content-type'] = result.contentType;
      headers['content-length'] = String(Buffer.byteLength(result.text));
      res.writeHead(op.status, headers);
      res.end(result.text);
      return;
    }
    sendJson(res, op.status, result instanceof JsonText ? result.text : JSON.stringify(result), headers);
  };
}
