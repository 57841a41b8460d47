// The storage contract for teams, tenants, virtual keys, their secrets and the audit log.
// Two backends implement it: SQLite (node:sqlite, the embedded default) and PostgreSQL.
// test/stores/identity-store.contract.ts runs every method against both.
//
// Every mutation takes the audit entry that describes it and writes object, audit entry and a
// change-feed row in ONE transaction, so the audit log and cache invalidation can never miss a
// change that happened.

import type { AuditEntry, AuditQuery, Change, ObjectKind, ObjectTypes, VirtualKey } from '../identity/records.ts';

export interface ListQuery {
  /** Page size, 1..1000. */
  limit: number;
  /** Return objects whose id sorts after this one (ids ascending). */
  after?: string;
  /** Keys only. */
  team_id?: string;
  /** Keys only. */
  status?: VirtualKey['status'];
}

/** A key found by the hash of a presented secret. */
export interface KeyMatch {
  key: VirtualKey;
  /** ISO-8601: when this particular secret stops working (a rotated-out secret in its grace period). */
  secret_expires_at?: string;
}

export interface MigrationReport {
  /** Versions applied by this call (empty when the schema was already current). */
  applied: number[];
  /** The schema version after the call. */
  version: number;
}

/**
 * Why a write was refused:
 * - exists: a create named an id that is taken;
 * - missing: an update or delete found no object with that id;
 * - changed: the stored object is no longer the one the caller read (a concurrent change won);
 * - in_use: a team still has keys;
 * - team_missing: a key was to be placed in a stored team that no longer exists.
 */
export type ConflictReason = 'exists' | 'missing' | 'changed' | 'in_use' | 'team_missing';

/** For writes that place a key in a team (create, or an update that moves it). */
export interface KeyPlacement {
  /**
   * The key's team must exist as a stored row when the write commits: StoreConflict
   * 'team_missing' otherwise. False for teams declared in config, which have no row.
   */
  readonly teamMustExist: boolean;
}

export class StoreConflict extends Error {
  readonly reason: ConflictReason;
  constructor(message: string, reason: ConflictReason) {
    super(message);
    this.name = 'StoreConflict';
    this.reason = reason;
  }
}

/** Thrown when the database cannot be reached or fails; the message never includes credentials. */
export class StoreUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailable';
  }
}

export interface IdentityStore {
  readonly backend: 'sqlite' | 'postgres';
  /** Applies pending migrations; safe to run from several processes at once. */
  migrate(): Promise<MigrationReport>;
  /** The schema version currently applied (0 on an empty database). */
  schemaVersion(): Promise<number>;

  get<K extends ObjectKind>(kind: K, id: string): Promise<ObjectTypes[K] | undefined>;
  list<K extends ObjectKind>(kind: K, query: ListQuery): Promise<Array<ObjectTypes[K]>>;
  /** Inserts; StoreConflict if the id exists. */
  create<K extends ObjectKind>(kind: K, object: ObjectTypes[K], audit: AuditEntry): Promise<void>;
  /**
   * Compare-and-swap: replaces the object only while the stored one still equals `audit.before`
   * (the version the caller read and changed). StoreConflict 'missing' if the id does not exist,
   * 'changed' if another write got there first: the caller re-reads and decides again, so a
   * concurrent revoke can never be overwritten by an update based on the key before it.
   */
  update<K extends ObjectKind>(kind: K, object: ObjectTypes[K], audit: AuditEntry & { before: ObjectTypes[K] }, placement?: KeyPlacement): Promise<void>;
  /**
   * Deletes (a key's secrets go with it); StoreConflict 'missing' if the id does not exist. A team
   * that still has keys is not deleted: StoreConflict 'in_use', decided in the same statement.
   */
  remove(kind: ObjectKind, id: string, audit: AuditEntry): Promise<void>;
  /** How many keys belong to the team (any status). */
  countKeys(teamId: string): Promise<number>;

  /**
   * Creates a key together with the SHA-256 (hex) of its first secret. With
   * `placement.teamMustExist`, the team row is checked (and held) in the same transaction, so a
   * concurrent team delete cannot leave the key without its team.
   */
  createKey(key: VirtualKey, secretHash: string, audit: AuditEntry, placement?: KeyPlacement): Promise<void>;
  /**
   * Rotation: adds a new secret, makes every older secret expire at `previousValidUntil`
   * (now = immediately), and stores the updated key record, with the same compare-and-swap on
   * `audit.before` as update (nothing is written if the key changed meanwhile).
   */
  rotateKey(key: VirtualKey, newSecretHash: string, previousValidUntil: string, audit: AuditEntry & { before: VirtualKey }): Promise<void>;
  /** The key whose secret (current, or rotated out but not yet expired) has this hash. */
  findKeyBySecretHash(secretHash: string): Promise<KeyMatch | undefined>;

  appendAudit(entry: AuditEntry): Promise<void>;
  /** Newest first. */
  queryAudit(query: AuditQuery): Promise<AuditEntry[]>;

  /**
   * Change-feed rows with seq > afterSeq, in seq order, at most `limit`. Seqs are assigned at
   * insert and may commit out of order, so a reader tracks gaps (see identity/change-feed.ts).
   */
  changesAfter(afterSeq: number, limit: number): Promise<Change[]>;
  /** The highest change-feed seq committed so far (0 when empty): where a new reader starts. */
  lastChangeSeq(): Promise<number>;
  /** Deletes change-feed rows older than `beforeMs` and secrets expired before it. */
  prune(beforeMs: number): Promise<void>;

  close(): Promise<void>;
}
