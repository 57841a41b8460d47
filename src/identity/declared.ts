import type { LimitPolicy, Team, Tenant, VirtualKey } from './records.ts';

/**
 * Teams, tenants, keys and limit policies declared in the config file (policy as code). They live in memory,
 * take precedence over a stored object with the same id, and are read-only through the API.
 * Declared keys carry the SHA-256 of their secret (read from os.environ/NAME at startup).
 */
export interface DeclaredIdentity {
  readonly teams: ReadonlyMap<string, Team>;
  readonly tenants: ReadonlyMap<string, Tenant>;
  readonly keys: ReadonlyMap<string, VirtualKey>;
  /** Global and deployment limits set in the config file, by scope. */
  readonly limits: ReadonlyMap<string, LimitPolicy>;
  /** secret hash → key id, for declared keys. */
  readonly keyHashes: ReadonlyMap<string, string>;
}

export const NO_DECLARED_IDENTITY: DeclaredIdentity = Object.freeze({
  teams: new Map(),
  tenants: new Map(),
  keys: new Map(),
  limits: new Map(),
  keyHashes: new Map(),
});
