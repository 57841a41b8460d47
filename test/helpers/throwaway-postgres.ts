// A private PostgreSQL server for tests that stop and restart the database: its own data
// directory in a temp dir and its own port on 127.0.0.1, so the machine's shared server is never
// touched. initdb refuses to run as root, so when the tests run as root every server command
// runs as the `postgres` OS user (runuser), in a directory chowned to it.

import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';

const run = promisify(execFile);
const PG_ROOT = '/usr/lib/postgresql';

/** The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl, or undefined. */
export function findPostgresBin(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(join(PG_ROOT, v, 'bin', 'initdb')) && existsSync(join(PG_ROOT, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions.length ? join(PG_ROOT, versions[0]!, 'bin') : undefined;
}

/**
 * Why a throwaway server cannot be started here, or undefined when it can. With CI set, a
 * missing server is a failure, not a skip: callers pass the reason to assert.fail.
 */
export function throwawayPostgresUnavailable(): string | undefined {
  if (!findPostgresBin()) return `no PostgreSQL server binaries (initdb, pg_ctl) under ${PG_ROOT}/*/bin`;
  if (isRoot()) {
    try {
      postgresUser();
    } catch {
      return 'running as root but there is no `postgres` OS user to run initdb as';
    }
  }
  return undefined;
}

export interface ThrowawayPostgres {
  readonly port: number;
  /** postgresql://user[:password]@127.0.0.1:port/postgres (trust auth: any password is accepted). */
  url(options?: { user?: string; password?: string; database?: string }): string;
  /** Starts the server (again) on the same port and data directory; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops the server; `immediate` kills it without a checkpoint, as a crash would. */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  /** The server's log so far. */
  log(): string;
  /** Stops the server if it runs and removes its directory. Safe to call more than once. */
  destroy(): Promise<void>;
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = findPostgresBin();
  if (!bin) throw new Error(throwawayPostgresUnavailable());
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'log');
  const owner = isRoot() ? postgresUser() : undefined;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const port = await freePort();
  let running = false;
  let destroyed = false;

  async function pg(command: string, args: string[]): Promise<void> {
    const file = join(bin!, command);
    try {
      if (owner) await run('runuser', ['-u', 'postgres', '--', file, ...args], { cwd: dir, timeout: 60_000 });
      else await run(file, args, { cwd: dir, timeout: 60_000 });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${command} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}\n--- server log ---\n${readLog()}`);
    }
  }
  function readLog(): string {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  }

  const server: ThrowawayPostgres = {
    port,
    url({ user = 'postgres', password, database = 'postgres' } = {}) {
      const auth = password === undefined ? user : `${user}:${encodeURIComponent(password)}`;
      return `postgresql://${auth}@127.0.0.1:${port}/${database}`;
    },
    async start() {
      // fsync=off is safe here: an immediate stop kills the server, not the OS, so written WAL
      // survives. Commits stay synchronous, or a crash right after a write would lose it.
      const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
      await pg('pg_ctl', ['-D', data, '-o', options, '-l', logFile, '-w', '-t', '30', 'start']);
      running = true;
    },
    async stop(mode = 'immediate') {
      await pg('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
      running = false;
    },
    log: readLog,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        if (running) await server.stop('immediate');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };

  try {
    await pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
    await server.start();
  } catch (err) {
    await server.destroy().catch(() => {});
    throw err;
  }
  return server;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function postgresUser(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('cannot resolve the postgres OS user');
  return { uid, gid };
}

