// The admin service over HTTP: the same AdminService the gateway serves at /admin/*, called from
// another process (the CLI's --url mode). Error envelopes come back as GatewayErrors with the
// server's code, so callers handle local and remote failures alike. The admin key is sent only
// in the Authorization header and never appears in an error message.

import { Agent, request } from 'undici';
import { ERROR_CODES, type ErrorCode } from '../errors/codes.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { AuditEntry, Team, Tenant, VirtualKey } from '../identity/records.ts';
import type { AdminService, KeyListQuery, KeyWithSecret, Page } from './admin-service.ts';
import type { LedgerEvent } from '../ledger/ledger-event.ts';
import type { GuardrailEventRow } from '../ledger/ledger-sink.ts';
import type { LedgerAdmin, SpendReport } from './ledger-admin.ts';

export interface RemoteAdminOptions {
  /** The gateway's base URL, e.g. http://127.0.0.1:4000 (a path prefix is kept). */
  url: string;
  /** Master key or an admin-role virtual key; without one, requests go unauthenticated. */
  adminKey?: string;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
}

export interface RemoteAdminService extends AdminService {
  /** The cost ledger's reports and audit queries (always as JSON). */
  readonly ledger: LedgerAdmin;
  /** Closes the connections to the gateway. */
  close(): Promise<void>;
}

/** The gateway could not be reached at all (refused, DNS, timeout) or did not answer like Tollgate. */
export class AdminApiUnreachable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AdminApiUnreachable';
  }
}

// Used when the server sends a code this build does not know (a newer gateway).
const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'invalid_api_key',
  403: 'admin_required',
  404: 'resource_not_found',
  409: 'resource_conflict',
  503: 'store_unavailable',
};

/** The URL without user:password, for messages. */
function displayUrl(url: URL): string {
  const copy = new URL(url);
  copy.username = '';
  copy.password = '';
  return copy.toString().replace(/\/$/, '');
}

function seg(id: string): string {
  return encodeURIComponent(id);
}

function queryString(query: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function toGatewayError(status: number, body: unknown, hasKey: boolean): GatewayError | undefined {
  const error = (body as { error?: { message?: unknown; code?: unknown; param?: unknown } } | null)?.error;
  if (!error || typeof error.message !== 'string') return undefined;
  const known = typeof error.code === 'string' && Object.hasOwn(ERROR_CODES, error.code);
  const code = known ? (error.code as ErrorCode) : CODE_BY_STATUS[status] ?? 'internal_error';
  const hint = status === 401 && !hasKey ? ' (no admin key was sent: pass --admin-key or set TOLLGATE_ADMIN_KEY)' : '';
  return new GatewayError(code, error.message + hint, typeof error.param === 'string' ? { param: error.param } : {});
}

export function createRemoteAdminService(options: RemoteAdminOptions): RemoteAdminService {
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new AdminApiUnreachable(`"${options.url}" is not a valid URL; pass the gateway's base URL, e.g. http://127.0.0.1:4000.`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new AdminApiUnreachable(`${displayUrl(base)} is not an http(s) URL.`);
  }
  const shown = displayUrl(base);
  const prefix = base.pathname.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const agent = new Agent({ headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs } });

  async function call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const target = new URL(base.origin);
    const [pathname, search = ''] = path.split('?');
    target.pathname = `${prefix}/admin${pathname}`;
    target.search = search;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.adminKey) headers.authorization = `Bearer ${options.adminKey}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await request(target, { method, headers, body: body === undefined ? null : JSON.stringify(body), dispatcher: agent });
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new AdminApiUnreachable(`cannot reach the Tollgate admin API at ${shown} (${reason}). Check --url / TOLLGATE_URL and that the gateway is running.`, { cause: err });
    }
    const text = await res.body.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (res.statusCode >= 200 && res.statusCode < 300 && parsed !== undefined) return parsed as T;
    const error = toGatewayError(res.statusCode, parsed, Boolean(options.adminKey));
    if (error) throw error;
    throw new AdminApiUnreachable(`${shown} answered ${method} ${target.pathname} with HTTP ${res.statusCode} and no Tollgate response; is this a Tollgate gateway?`);
  }

  const get = <T>(path: string) => call<T>('GET', path);
  const post = <T>(path: string, body: unknown = {}) => call<T>('POST', path, body);
  const patch = <T>(path: string, body: unknown) => call<T>('PATCH', path, body);
  const del = async (path: string) => {
    await call<unknown>('DELETE', path);
  };

  return {
    createTeam: (input) => post<Team>('/teams', input),
    listTeams: (query) => get<Page<Team>>(`/teams${queryString(query)}`),
    getTeam: (id) => get<Team>(`/teams/${seg(id)}`),
    updateTeam: (id, input) => patch<Team>(`/teams/${seg(id)}`, input),
    deleteTeam: (id) => del(`/teams/${seg(id)}`),

    createTenant: (input) => post<Tenant>('/tenants', input),
    listTenants: (query) => get<Page<Tenant>>(`/tenants${queryString(query)}`),
    getTenant: (id) => get<Tenant>(`/tenants/${seg(id)}`),
    updateTenant: (id, input) => patch<Tenant>(`/tenants/${seg(id)}`, input),
    deleteTenant: (id) => del(`/tenants/${seg(id)}`),

    generateKey: (input) => post<KeyWithSecret>('/keys', input),
    listKeys: (query: KeyListQuery) => get<Page<VirtualKey>>(`/keys${queryString({ ...query })}`),
    getKey: (id) => get<VirtualKey>(`/keys/${seg(id)}`),
    updateKey: (id, input) => patch<VirtualKey>(`/keys/${seg(id)}`, input),
    rotateKey: (id, input) => post<KeyWithSecret>(`/keys/${seg(id)}/rotate`, input ?? {}),
    revokeKey: (id) => post<VirtualKey>(`/keys/${seg(id)}/revoke`),
    blockKey: (id) => post<VirtualKey>(`/keys/${seg(id)}/block`),
    unblockKey: (id) => post<VirtualKey>(`/keys/${seg(id)}/unblock`),
    deleteKey: (id) => del(`/keys/${seg(id)}`),

    queryAudit: (query) => get<Page<AuditEntry>>(`/audit${queryString(query)}`),

    ledger: {
      spend: (query) => get<SpendReport>(`/spend${queryString({ ...query, format: undefined })}`),
      requests: (query) => get<Page<LedgerEvent>>(`/requests${queryString(query)}`),
      request: (id) => get<LedgerEvent>(`/requests/${seg(id)}`),
      guardrailEvents: (query) => get<Page<GuardrailEventRow>>(`/guardrail-events${queryString(query)}`),
    },

    close: () => agent.close(),
  };
}
