// The SQLite schema of the identity store, as versioned migrations, and the runner that applies
// them. BEGIN IMMEDIATE takes the write lock before reading schema_migrations, so several
// processes migrating one file at once apply each version exactly once (the others wait on
// busy_timeout, then find nothing left to do).
//
// Timestamps are canonical ISO-8601 text (toISOString), which sorts in time order.

import type { DatabaseSync } from 'node:sqlite';
import type { MigrationReport } from '../identity-store.ts';
import { pendingMigrations, type Migration } from '../identity-rows.ts';

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'identity: teams, tenants, keys, key_secrets, audit_log, changes',
    sql: `
      CREATE TABLE teams (
        team_id TEXT PRIMARY KEY,
        doc TEXT NOT NULL CHECK (json_valid(doc)),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE tenants (
        tenant_id TEXT PRIMARY KEY,
        doc TEXT NOT NULL CHECK (json_valid(doc)),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE keys (
        key_id TEXT PRIMARY KEY,
        team_id TEXT NOT NULL,
        status TEXT NOT NULL,
        doc TEXT NOT NULL CHECK (json_valid(doc)),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX keys_team_id ON keys (team_id, key_id);
      CREATE INDEX keys_status ON keys (status, key_id);
      CREATE TABLE key_secrets (
        secret_hash TEXT PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
        expires_at TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      ) STRICT;
      CREATE INDEX key_secrets_key_id ON key_secrets (key_id);
      CREATE INDEX key_secrets_expires_at ON key_secrets (expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        object_type TEXT NOT NULL CHECK (object_type IN ('team', 'tenant', 'key')),
        object_id TEXT NOT NULL,
        request_id TEXT,
        before_doc TEXT CHECK (before_doc IS NULL OR json_valid(before_doc)),
        after_doc TEXT CHECK (after_doc IS NULL OR json_valid(after_doc))
      ) STRICT;
      CREATE INDEX audit_log_actor ON audit_log (actor, seq);
      CREATE INDEX audit_log_action ON audit_log (action, seq);
      CREATE INDEX audit_log_object ON audit_log (object_type, object_id, seq);
      CREATE INDEX audit_log_at ON audit_log (at);
      CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('team', 'tenant', 'key')),
        object_id TEXT NOT NULL,
        at_ms INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX changes_at_ms ON changes (at_ms);
    `,
  },
  {
    version: 2,
    name: 'limit policies: limit_policies, and kind "limit" in audit_log and changes',
    // SQLite cannot alter a CHECK constraint: the two tables are rebuilt with the wider one.
    sql: `
      CREATE TABLE limit_policies (
        scope TEXT PRIMARY KEY,
        doc TEXT NOT NULL CHECK (json_valid(doc)),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE audit_log_v2 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        object_type TEXT NOT NULL CHECK (object_type IN ('team', 'tenant', 'key', 'limit')),
        object_id TEXT NOT NULL,
        request_id TEXT,
        before_doc TEXT CHECK (before_doc IS NULL OR json_valid(before_doc)),
        after_doc TEXT CHECK (after_doc IS NULL OR json_valid(after_doc))
      ) STRICT;
      INSERT INTO audit_log_v2 SELECT * FROM audit_log;
      -- Keep the AUTOINCREMENT counter, which may be past the last row (pruned or emptied tables).
      DELETE FROM sqlite_sequence WHERE name = 'audit_log_v2';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'audit_log_v2', seq FROM sqlite_sequence WHERE name = 'audit_log';
      DROP TABLE audit_log;
      ALTER TABLE audit_log_v2 RENAME TO audit_log;
      CREATE INDEX audit_log_actor ON audit_log (actor, seq);
      CREATE INDEX audit_log_action ON audit_log (action, seq);
      CREATE INDEX audit_log_object ON audit_log (object_type, object_id, seq);
      CREATE INDEX audit_log_at ON audit_log (at);
      CREATE TABLE changes_v2 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('team', 'tenant', 'key', 'limit')),
        object_id TEXT NOT NULL,
        at_ms INTEGER NOT NULL
      ) STRICT;
      INSERT INTO changes_v2 SELECT * FROM changes;
      -- Change-feed cursors on other processes hold the old seq: numbering must go on from it.
      DELETE FROM sqlite_sequence WHERE name = 'changes_v2';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'changes_v2', seq FROM sqlite_sequence WHERE name = 'changes';
      DROP TABLE changes;
      ALTER TABLE changes_v2 RENAME TO changes;
      CREATE INDEX changes_at_ms ON changes (at_ms);
    `,
  },
];

const CREATE_SCHEMA_MIGRATIONS = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ) STRICT`;

export function runSqliteMigrations(db: DatabaseSync, migrations: readonly Migration[] = SQLITE_MIGRATIONS): MigrationReport {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(CREATE_SCHEMA_MIGRATIONS);
    const rows = db.prepare('SELECT version FROM schema_migrations').all();
    const pending = pendingMigrations(migrations, new Set(rows.map((r) => Number(r.version))));
    const record = db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)');
    for (const migration of pending) {
      db.exec(migration.sql);
      record.run(migration.version, migration.name);
    }
    const version = currentVersion(db);
    db.exec('COMMIT');
    return { applied: pending.map((m) => m.version), version };
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

/** 0 on an empty database. */
export function readSqliteSchemaVersion(db: DatabaseSync): number {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  return table ? currentVersion(db) : 0;
}

function currentVersion(db: DatabaseSync): number {
  const row = db.prepare('SELECT coalesce(max(version), 0) AS version FROM schema_migrations').get();
  return Number(row?.version ?? 0);
}
