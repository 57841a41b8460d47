// Create, update (PATCH) and delete, written once for teams, tenants and keys. Each kind supplies
// its schemas, how a record is built from create input, and any extra checks.

import type { z } from 'zod';
import type { GatewayError } from '../errors/gateway-error.ts';
import type { AuditEntry, ObjectKind, ObjectTypes } from '../identity/records.ts';
import type { KeyPlacement } from '../stores/identity-store.ts';
import type { Actor } from './admin-service.ts';
import { conflict, ID_FIELD, idOf, type AccessDeps, type ObjectAccess } from './object-access.ts';
import { parseInput } from './parse-input.ts';

export type Fields = Record<string, unknown>;

export interface Stamps {
  source: 'api';
  created_at: string;
  updated_at: string;
}

/** What update needs to know about a kind. */
export interface KindSpec<K extends ObjectKind> {
  kind: K;
  patch: z.ZodType<Fields>;
  /** Fields always present in a record; null in a patch resets them to these values. */
  defaults: Readonly<Fields>;
  /** Checks a validated patch against the stored record; returns the field changes to apply. */
  prepare?(given: Fields, before: ObjectTypes[K]): Promise<Fields>;
  /** Keys: whether the store must find the key's team row at commit. */
  placement?(after: ObjectTypes[K]): KeyPlacement;
}

/** Kinds created by plain create (teams, tenants; keys have generate). */
export interface CreatableSpec<K extends ObjectKind> extends KindSpec<K> {
  create: z.ZodType<Fields>;
  /** The new record, from validated create input. */
  build(given: Fields, stamps: Stamps): ObjectTypes[K];
}

/** The object without its undefined fields, so records never carry `"x": undefined`. */
export function compact<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
}

/** PATCH semantics: absent = unchanged, null = cleared (or reset to the default), anything else = set. */
export function applyPatch<T>(before: T, patch: Fields, defaults: Readonly<Fields>): T {
  const next: Fields = { ...(before as Fields) };
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value !== null) next[field] = value;
    else if (field in defaults) next[field] = structuredClone(defaults[field]);
    else delete next[field];
  }
  return next as T;
}

export function createObjectCrud(deps: AccessDeps, access: ObjectAccess) {
  function stamps(): Stamps {
    const now = deps.now().toISOString();
    return { source: 'api', created_at: now, updated_at: now };
  }

  async function create<K extends ObjectKind>(spec: CreatableSpec<K>, input: unknown, actor: Actor): Promise<ObjectTypes[K]> {
    const given = parseInput(spec.create, input, spec.kind);
    const object = spec.build(given, stamps());
    const id = idOf(spec.kind, object);
    access.refuseDeclared(spec.kind, id);
    await access.commit({
      action: `${spec.kind}.create`, kind: spec.kind, id, before: null, after: object, actor,
      write: (audit) => deps.store.create(spec.kind, object, audit),
      onConflict: (reason) =>
        reason === 'exists' ? conflict(`A ${spec.kind} with ${ID_FIELD[spec.kind]} "${id}" already exists. Pick another id, or PATCH the existing one.`) : undefined,
    });
    return object;
  }

  async function update<K extends ObjectKind>(spec: KindSpec<K>, id: string, input: unknown, actor: Actor): Promise<ObjectTypes[K]> {
    access.refuseDeclared(spec.kind, id);
    const given = parseInput(spec.patch, input, `${spec.kind} update`);
    const before = await access.mutable(spec.kind, id);
    const changes = spec.prepare ? await spec.prepare(given, before) : given;
    const after = applyPatch(before, { ...changes, updated_at: deps.now().toISOString() }, spec.defaults);
    await access.commit({
      action: `${spec.kind}.update`, kind: spec.kind, id, before, after, actor,
      // Compare-and-swap on `before`: 'missing' is a 404, 'changed' a 409 asking to read again.
      write: (audit) => deps.store.update(spec.kind, after, { ...audit, before } as AuditEntry & { before: ObjectTypes[K] }, spec.placement?.(after)),
    });
    return after;
  }

  /**
   * Deletes a stored object. `guard` may refuse early with a friendly message (for example a team
   * that still has keys); `inUse` is the error when the store itself refuses ('in_use', decided
   * atomically with the delete), which is what makes the refusal certain.
   */
  async function remove<K extends ObjectKind>(
    kind: K,
    id: string,
    actor: Actor,
    options: { guard?: (before: ObjectTypes[K]) => Promise<void>; inUse?: () => Promise<GatewayError> } = {},
  ): Promise<void> {
    const before = await access.mutable(kind, id);
    await options.guard?.(before);
    await access.commit({
      action: `${kind}.delete`, kind, id, before, after: null, actor,
      write: (audit) => deps.store.remove(kind, id, audit),
      onConflict: (reason) => (reason === 'in_use' ? options.inUse?.() : undefined),
    });
  }

  return { create, update, remove };
}

export type ObjectCrud = ReturnType<typeof createObjectCrud>;
