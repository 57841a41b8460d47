// Whether one request may use the response cache, and how: the modes of its alias, team and
// tenant, the request's own controls, and what is never cached by default. Pure.
//
// Modes: `off` anywhere wins (a tenant's `never` too, and no request can turn it on); otherwise
// `default_off` anywhere means the request must opt in; otherwise the cache is on. Skipped by
// default: tool-calling turns (tools offered, or a tool result in the conversation), n > 1, and
// an explicit temperature above cache.max_temperature (sampling the client asked to vary). A
// request without a temperature is cached: the gateway cannot tell it wants variety.

import type { AliasCacheSettings, CacheMode, CacheSettings } from '../config/cache-schema.ts';
import type { CacheNamespace } from './cache-store.ts';
import type { CacheControls } from './cache-controls.ts';

/** Who is asking: the namespace owner is the tenant, else the team, else the key. */
export interface CacheCaller {
  readonly tenantId?: string;
  readonly teamId?: string;
  readonly keyId?: string;
}

export type CacheSkipReason =
  | 'mode_off' | 'tenant_never' | 'not_opted_in' | 'tool_call' | 'n_above_1' | 'temperature' | 'no_cache_no_store' | 'no_owner';

export type CacheDecision =
  | { readonly use: false; readonly reason: CacheSkipReason }
  | {
    readonly use: true;
    readonly ns: CacheNamespace;
    /** Look the request up (false with no-cache). */
    readonly lookup: boolean;
    /** Store a miss's answer (false with no-store). */
    readonly store: boolean;
    readonly ttlMs: number;
    /** A hit must be at most this old. */
    readonly maxAgeMs: number;
    readonly semantic: boolean;
    readonly threshold: number;
  };

/** The parts of a chat request the skip rules read (OpenAI and Anthropic shapes). */
export interface CacheableShape {
  readonly tools?: unknown;
  readonly functions?: unknown;
  readonly n?: unknown;
  readonly temperature?: unknown;
  readonly messages?: unknown;
}

function strictest(modes: readonly (CacheMode | undefined)[]): CacheMode {
  if (modes.includes('off')) return 'off';
  if (modes.includes('default_off')) return 'default_off';
  return 'on';
}

function hasToolTurn(messages: unknown): boolean {
  if (!Array.isArray(messages)) return false;
  for (const m of messages) {
    if (!m || typeof m !== 'object') continue;
    const message = m as { role?: unknown; tool_calls?: unknown; content?: unknown };
    if (message.role === 'tool' || message.role === 'function') return true;
    if (Array.isArray(message.tool_calls) && message.tool_calls.length > 0) return true;
    // Anthropic: tool_use / tool_result content blocks.
    if (Array.isArray(message.content)) {
      for (const block of message.content) {
        const type = (block as { type?: unknown } | null)?.type;
        if (type === 'tool_use' || type === 'tool_result') return true;
      }
    }
  }
  return false;
}

function skipRule(body: CacheableShape, maxTemperature: number): CacheSkipReason | undefined {
  const tools = body.tools ?? body.functions;
  if ((Array.isArray(tools) && tools.length > 0) || hasToolTurn(body.messages)) return 'tool_call';
  if (typeof body.n === 'number' && body.n > 1) return 'n_above_1';
  if (typeof body.temperature === 'number' && body.temperature > maxTemperature) return 'temperature';
  return undefined;
}

export function decideCache(
  settings: CacheSettings, alias: string, caller: CacheCaller, controls: CacheControls, body: CacheableShape,
): CacheDecision {
  const own: AliasCacheSettings | undefined = settings.aliases.get(alias);
  const tenantMode = caller.tenantId === undefined ? undefined : settings.tenants.get(caller.tenantId);
  if (tenantMode === 'never') return { use: false, reason: 'tenant_never' };
  const mode = strictest([own?.mode ?? settings.mode, caller.teamId === undefined ? undefined : settings.teams.get(caller.teamId), tenantMode]);
  if (mode === 'off') return { use: false, reason: 'mode_off' };
  if (mode === 'default_off' && !controls.optIn) return { use: false, reason: 'not_opted_in' };
  const skip = skipRule(body, settings.maxTemperature);
  if (skip) return { use: false, reason: skip };
  const lookup = !controls.noCache && controls.maxAgeMs !== 0;
  const store = !controls.noStore;
  if (!lookup && !store) return { use: false, reason: 'no_cache_no_store' };
  const owner = caller.tenantId !== undefined ? `tenant:${caller.tenantId}`
    : caller.teamId !== undefined ? `team:${caller.teamId}`
      : caller.keyId !== undefined ? `key:${caller.keyId}` : undefined;
  if (owner === undefined) return { use: false, reason: 'no_owner' };
  const base = controls.version ?? settings.namespaceVersion;
  // A body namespace narrows the version; the separator cannot occur in a version token.
  const version = controls.namespace === undefined ? base : `${base} ${controls.namespace}`;
  return {
    use: true,
    ns: { owner, alias, version },
    lookup,
    store,
    ttlMs: controls.ttlMs ?? own?.ttlMs ?? settings.ttlMs,
    maxAgeMs: controls.maxAgeMs ?? Infinity,
    semantic: own?.semantic ?? settings.semantic.enabled,
    threshold: own?.threshold ?? settings.semantic.threshold,
  };
}
