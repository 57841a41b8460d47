// What every admin operation on teams, tenants and keys shares: reading through the declared
// objects (config wins over the store), paging over both, refusing changes to declared objects,
// mapping store errors to gateway errors, and committing a change with its audit entry.
//
// Updates are compare-and-swap: the store writes only while the object is still the one read
// (`before`). When another request changed it meanwhile, the store says so ('changed') and the
// caller gets a 409 telling it to read again, or, for operations that are safe to decide again
// on the newer version (status transitions), the whole read-decide-write is retried.

import type { DeclaredIdentity } from '../identity/declared.ts';
import type { AuditEntry, IdentityObject, ObjectKind, ObjectTypes } from '../identity/records.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import { LIMIT_SCOPE, OBJECT_ID } from '../identity/ids.ts';
import { StoreConflict, StoreUnavailable, type ConflictReason, type IdentityStore, type ListQuery } from '../stores/identity-store.ts';
import type { Actor, ChangeNotifier, Page } from './admin-service.ts';

export interface AccessDeps {
  store: IdentityStore;
  declared: DeclaredIdentity;
  notify: ChangeNotifier;
  now: () => Date;
}

export const ID_FIELD = { team: 'team_id', tenant: 'tenant_id', key: 'key_id', limit: 'scope' } as const;
const LIST_PATH = { team: '/admin/teams', tenant: '/admin/tenants', key: '/admin/keys', limit: '/admin/limits' } as const;
/** What an id of each kind can look like: anything else is not looked up at all. */
const ID_PATTERN = { team: OBJECT_ID, tenant: OBJECT_ID, key: OBJECT_ID, limit: LIMIT_SCOPE } as const;

export function idOf(kind: ObjectKind, object: IdentityObject): string {
  return (object as unknown as Record<string, string>)[ID_FIELD[kind]]!;
}

export function notFound(kind: ObjectKind, id: string, param?: string): GatewayError {
  return new GatewayError('resource_not_found', `No ${kind} with ${ID_FIELD[kind]} "${id}" exists. List them with GET ${LIST_PATH[kind]}.`, param ? { param } : {});
}

export function conflict(message: string): GatewayError {
  return new GatewayError('resource_conflict', message);
}

/** The 409 for an object another request changed while this one was running. */
export function changedMeanwhile(kind: ObjectKind, id: string): GatewayError {
  return conflict(`The ${kind} "${id}" was changed by another request while this one was running; read it again and retry.`);
}

/** What a StoreConflict means for a change to this object, unless the change says otherwise. */
export function conflictFor(kind: ObjectKind, id: string, reason: ConflictReason): GatewayError {
  switch (reason) {
    case 'exists':
      return conflict(`A ${kind} with ${ID_FIELD[kind]} "${id}" already exists. Pick another id.`);
    case 'missing':
      return notFound(kind, id);
    case 'changed':
      return changedMeanwhile(kind, id);
    case 'in_use':
      return conflict(`The ${kind} "${id}" is still in use, so it cannot be deleted.`);
    case 'team_missing':
      return new GatewayError('resource_not_found', `The team for ${kind} "${id}" was deleted while this request was running. List teams with GET /admin/teams.`, { param: 'team_id' });
  }
}

export type ConflictMapper = (reason: ConflictReason) => GatewayError | Promise<GatewayError>;

/**
 * Runs a store call; StoreConflict becomes `onConflict(reason)` (or propagates when there is
 * none), StoreUnavailable a 503. Anything else propagates.
 */
export async function storeCall<T>(call: () => Promise<T>, onConflict?: ConflictMapper): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof StoreConflict && onConflict) throw await onConflict(err.reason);
    if (err instanceof StoreUnavailable) {
      throw new GatewayError('store_unavailable', `The identity store is unavailable: ${err.message} Retry when the database is back.`, { cause: err });
    }
    throw err;
  }
}

export interface Commit<K extends ObjectKind> {
  action: string;
  kind: K;
  id: string;
  before: ObjectTypes[K] | null;
  after: ObjectTypes[K] | null;
  actor: Actor;
  /** The store write; receives the audit entry to write in the same transaction. */
  write: (audit: AuditEntry) => Promise<void>;
  /** The error for a StoreConflict; undefined (or no mapper) falls back to conflictFor. */
  onConflict?: (reason: ConflictReason) => GatewayError | Promise<GatewayError> | undefined;
  /**
   * When the store reports 'changed', throw RetryRead so that rereadOnChange runs the whole
   * operation again on the newer version, instead of failing with a 409.
   */
  retryOnChange?: boolean;
}

/** Thrown by commit (retryOnChange) when the object changed after it was read. */
class RetryRead extends Error {
  constructor() {
    super('the object changed after it was read');
    this.name = 'RetryRead';
  }
}

/** How many times an operation that may decide again is run before a 'changed' becomes a 409. */
export const CHANGE_ATTEMPTS = 5;

/**
 * Runs `work` (read, decide, commit) again while its commit finds the object changed meanwhile,
 * at most CHANGE_ATTEMPTS times; `retry` is false on the last attempt, whose 'changed' is a 409.
 */
export async function rereadOnChange<T>(work: (retry: boolean) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt < CHANGE_ATTEMPTS);
    } catch (err) {
      if (!(err instanceof RetryRead)) throw err;
    }
  }
}

export function createObjectAccess(deps: AccessDeps) {
  function declaredMap<K extends ObjectKind>(kind: K): ReadonlyMap<string, ObjectTypes[K]> {
    const maps = { team: deps.declared.teams, tenant: deps.declared.tenants, key: deps.declared.keys, limit: deps.declared.limits };
    return maps[kind] as unknown as ReadonlyMap<string, ObjectTypes[K]>;
  }

  /** The object with this id: the declared one if there is one, else the stored one. */
  async function find<K extends ObjectKind>(kind: K, id: string): Promise<ObjectTypes[K] | undefined> {
    // An id no object can have (a NUL, a space, 200 characters) is not looked up at all.
    if (!ID_PATTERN[kind].test(id)) return undefined;
    return declaredMap(kind).get(id) ?? (await storeCall(() => deps.store.get(kind, id)));
  }

  async function get<K extends ObjectKind>(kind: K, id: string): Promise<ObjectTypes[K]> {
    const found = await find(kind, id);
    if (!found) throw notFound(kind, id);
    return found;
  }

  /** The stored object a mutation may change: declared objects are refused, missing ones are a 404. */
  async function mutable<K extends ObjectKind>(kind: K, id: string): Promise<ObjectTypes[K]> {
    refuseDeclared(kind, id);
    const stored = ID_PATTERN[kind].test(id) ? await storeCall(() => deps.store.get(kind, id)) : undefined;
    if (!stored) throw notFound(kind, id);
    return stored;
  }

  function refuseDeclared(kind: ObjectKind, id: string): void {
    if (declaredMap(kind).has(id)) {
      throw new GatewayError('managed_by_config', `The ${kind} "${id}" is declared in the config file, so it is read-only through the API. Change it in the config file and redeploy.`);
    }
  }

  /** Declared and stored objects together, ids ascending, one page after `query.after`. */
  async function list<K extends ObjectKind>(kind: K, query: ListQuery, matches: (object: ObjectTypes[K]) => boolean = () => true): Promise<Page<ObjectTypes[K]>> {
    const declared = declaredMap(kind);
    const fromConfig = [...declared.values()]
      .filter((object) => (query.after === undefined || idOf(kind, object) > query.after) && matches(object))
      .sort((a, b) => (idOf(kind, a) < idOf(kind, b) ? -1 : 1));
    const data: Array<ObjectTypes[K]> = [];
    let buffer: Array<ObjectTypes[K]> = [];
    let cursor = query.after;
    let storeDone = false;
    while (data.length < query.limit) {
      if (buffer.length === 0 && !storeDone) {
        const batch = await storeCall(() => deps.store.list(kind, { ...query, after: cursor }));
        storeDone = batch.length < query.limit;
        if (batch.length > 0) cursor = idOf(kind, batch[batch.length - 1]!);
        buffer = batch.filter((object) => !declared.has(idOf(kind, object)));
        continue;
      }
      const nextStored = buffer[0];
      const nextDeclared = fromConfig[0];
      if (!nextStored && !nextDeclared) break;
      const takeDeclared = nextDeclared && (!nextStored || idOf(kind, nextDeclared) < idOf(kind, nextStored));
      data.push(takeDeclared ? fromConfig.shift()! : buffer.shift()!);
    }
    const last = data[data.length - 1];
    return data.length === query.limit && last ? { data, next: idOf(kind, last) } : { data };
  }

  /** Writes the change and its audit entry (one transaction in the store), then notifies the caches. */
  async function commit<K extends ObjectKind>(change: Commit<K>): Promise<void> {
    const audit: AuditEntry = {
      at: deps.now().toISOString(),
      actor: change.actor.id,
      action: change.action,
      object_type: change.kind,
      object_id: change.id,
      ...(change.actor.requestId ? { request_id: change.actor.requestId } : {}),
      before: change.before,
      after: change.after,
    };
    await storeCall(
      () => change.write(audit),
      async (reason) => {
        if (reason === 'changed' && change.retryOnChange) throw new RetryRead();
        return (await change.onConflict?.(reason)) ?? conflictFor(change.kind, change.id, reason);
      },
    );
    deps.notify(change.kind, change.id);
  }

  return { declaredMap, find, get, mutable, refuseDeclared, list, commit };
}

export type ObjectAccess = ReturnType<typeof createObjectAccess>;
