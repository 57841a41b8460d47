// Virtual keys: generate, update, rotate, the status transitions (revoke, block, unblock) and
// delete. Secrets leave this module only in the return value of generate and rotate.
//
// Every change is a compare-and-swap on the key as read, so a revoke can never be undone by a
// PATCH, rotate or block that read the key before it: the later writer finds the key changed
// and is refused (409), or, for a status transition, decides again on the revoked key.

import { newKeyId, newSecret } from '../identity/key-secret.ts';
import type { KeyStatus, VirtualKey } from '../identity/records.ts';
import { KEY_DEFAULTS, keyGenerate, keyPatch, keyRotate } from './admin-schemas.ts';
import type { Actor, KeyWithSecret } from './admin-service.ts';
import { durationSeconds } from './duration.ts';
import { conflict, notFound, rereadOnChange, type AccessDeps, type ObjectAccess } from './object-access.ts';
import { compact, type Fields, type KindSpec, type ObjectCrud } from './object-crud.ts';
import { invalidField, parseInput } from './parse-input.ts';

export interface KeyAdminDeps extends AccessDeps {
  rotationGraceSeconds: number;
}

type Transition = 'revoke' | 'block' | 'unblock';
const TARGET: Readonly<Record<Transition, KeyStatus>> = { revoke: 'revoked', block: 'blocked', unblock: 'active' };

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

export function createKeyAdmin(deps: KeyAdminDeps, access: ObjectAccess, crud: ObjectCrud) {
  function refuseRevoked(key: VirtualKey, action: string): void {
    if (key.status === 'revoked') {
      throw conflict(`The key "${key.key_id}" is revoked, so it cannot be ${action}. Revocation is permanent: generate a new key.`);
    }
  }

  /**
   * Rules that span fields or need the clock or the store: tenant_id XOR allowed_tenants,
   * duration XOR expires_at, expiry in the future, the team exists. Returns the fields with
   * `duration` turned into `expires_at` (UTC).
   */
  async function checkFields(given: Fields): Promise<Fields> {
    if (present(given.tenant_id) && present(given.allowed_tenants)) {
      throw invalidField('allowed_tenants', 'Send either tenant_id (bind the key to one tenant) or allowed_tenants (a set of tenants), not both.');
    }
    if (given.duration !== undefined && given.expires_at !== undefined) {
      throw invalidField('duration', 'Send either duration (e.g. "30d" from now) or expires_at (a date-time), not both.');
    }
    const { duration, ...fields } = given;
    const now = deps.now().getTime();
    if (typeof duration === 'string') fields.expires_at = new Date(now + durationSeconds(duration)! * 1000).toISOString();
    else if (typeof fields.expires_at === 'string') {
      const at = Date.parse(fields.expires_at);
      if (at <= now) throw invalidField('expires_at', `expires_at must be in the future; "${fields.expires_at}" has passed.`);
      fields.expires_at = new Date(at).toISOString();
    }
    if (typeof fields.team_id === 'string' && !(await access.find('team', fields.team_id))) {
      throw notFound('team', fields.team_id, 'team_id');
    }
    return fields;
  }

  /** A team declared in config has no row; any other team must still be stored when the key is written. */
  const placement = (key: VirtualKey) => ({ teamMustExist: !deps.declared.teams.has(key.team_id) });

  const spec: KindSpec<'key'> = {
    kind: 'key',
    placement,
    patch: keyPatch,
    defaults: KEY_DEFAULTS,
    async prepare(given, before) {
      refuseRevoked(before, 'updated');
      const fields = await checkFields(given);
      const tenant = fields.tenant_id === undefined ? before.tenant_id : fields.tenant_id;
      const allowed = fields.allowed_tenants === undefined ? before.allowed_tenants : fields.allowed_tenants;
      if (present(tenant) && present(allowed)) {
        throw invalidField(fields.tenant_id === undefined ? 'allowed_tenants' : 'tenant_id',
          'A key is bound to one tenant (tenant_id) or to a set (allowed_tenants), not both. Clear the other with null in the same request.');
      }
      return fields;
    },
  };

  async function generate(input: unknown, actor: Actor): Promise<KeyWithSecret> {
    const fields = await checkFields(parseInput(keyGenerate, input, 'key'));
    const secret = newSecret();
    const now = deps.now().toISOString();
    const key = compact({
      key_id: newKeyId(),
      key_name: secret.preview,
      ...structuredClone(KEY_DEFAULTS),
      ...fields,
      status: 'active',
      created_by: actor.id,
      source: 'api',
      created_at: now,
      updated_at: now,
    }) as unknown as VirtualKey;
    await access.commit({
      action: 'key.generate', kind: 'key', id: key.key_id, before: null, after: key, actor,
      write: (audit) => deps.store.createKey(key, secret.hash, audit, placement(key)),
      onConflict: (reason) => (reason === 'exists' ? conflict(`A key with key_id "${key.key_id}" already exists. Retry.`) : undefined),
    });
    return { ...key, key: secret.secret };
  }

  async function rotate(id: string, input: unknown, actor: Actor): Promise<KeyWithSecret> {
    access.refuseDeclared('key', id);
    const { grace_period } = parseInput(keyRotate, input ?? {}, 'rotation');
    const before = await access.mutable('key', id);
    refuseRevoked(before, 'rotated');
    const grace = grace_period === undefined ? deps.rotationGraceSeconds : durationSeconds(grace_period)!;
    const now = deps.now();
    const previousValidUntil = new Date(now.getTime() + grace * 1000).toISOString();
    const secret = newSecret();
    const after: VirtualKey = {
      ...before,
      key_name: secret.preview,
      rotated_at: now.toISOString(),
      rotation_grace_seconds: grace,
      updated_at: now.toISOString(),
    };
    await access.commit({
      action: 'key.rotate', kind: 'key', id, before, after, actor,
      // Compare-and-swap on `before`: a key revoked meanwhile gets no new secret ('changed' → 409).
      write: (audit) => deps.store.rotateKey(after, secret.hash, previousValidUntil, { ...audit, before }),
    });
    return { ...after, key: secret.secret };
  }

  /**
   * revoke, block, unblock. Moving to the status the key already has is a no-op success. The
   * decision depends only on the current status, so when the key changed between read and write
   * it is simply made again on the newer version (a revoke is never lost to a concurrent edit;
   * a block that finds the key revoked meanwhile is refused as usual).
   */
  async function transition(id: string, action: Transition, actor: Actor): Promise<VirtualKey> {
    return rereadOnChange(async (retry) => {
      const before = await access.mutable('key', id);
      const status = TARGET[action];
      if (before.status === status) return before;
      refuseRevoked(before, `${action}ed`);
      const after: VirtualKey = { ...before, status, updated_at: deps.now().toISOString() };
      await access.commit({
        action: `key.${action}`, kind: 'key', id, before, after, actor,
        write: (audit) => deps.store.update('key', after, { ...audit, before }),
        retryOnChange: retry,
      });
      return after;
    });
  }

  return {
    generate,
    rotate,
    transition,
    update: (id: string, patch: unknown, actor: Actor) => crud.update(spec, id, patch, actor),
  };
}
