// A private Redis server for tests that kill and restart Redis: `redis-server` on its own port
// on 127.0.0.1, with no persistence (--save "" --appendonly no) in a temp working directory, so
// the machine's shared Redis is never touched. Stopping it is SIGKILL, as a crash would be; its
// data is gone, and start() brings up an empty server on the same port.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './free-port.ts';

const BINARY = process.env.TOLLGATE_TEST_REDIS_SERVER || 'redis-server';
const START_TIMEOUT_MS = 10_000;

/**
 * Why a throwaway server cannot be started here, or undefined when it can. With CI set, a
 * missing binary is a failure, not a skip: callers pass the reason to assert.fail.
 */
export function throwawayRedisUnavailable(): string | undefined {
  const probe = spawnSync(BINARY, ['--version'], { encoding: 'utf8', timeout: 5_000 });
  if (probe.error) return `no usable ${BINARY} binary (${probe.error.message})`;
  if (probe.status !== 0) return `${BINARY} --version exited with ${probe.status}: ${probe.stderr}`;
  return undefined;
}

export interface ThrowawayRedis {
  readonly port: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** Whether the server process is running. */
  readonly running: boolean;
  /** Starts the server (again) on the same port; resolves once it answers PING with PONG. */
  start(): Promise<void>;
  /** Kills the server (SIGKILL, as a crash) and resolves once the process has exited. */
  stop(): Promise<void>;
  /** Everything the server wrote so far. */
  log(): string;
  /** Stops the server if it runs and removes its directory. Safe to call more than once. */
  destroy(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A test process that dies without its finally blocks still takes its servers down with it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export async function startThrowawayRedis(): Promise<ThrowawayRedis> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  let destroyed = false;

  const server: ThrowawayRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    async start() {
      if (child) throw new Error(`throwaway Redis on port ${port} is already running`);
      if (destroyed) throw new Error('throwaway Redis was destroyed');
      const proc = spawn(BINARY, [
        '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', dir, '--daemonize', 'no', '--protected-mode', 'no', '--logfile', '',
      ], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      live.add(proc);
      proc.stdout!.setEncoding('utf8').on('data', (text: string) => { output += text; });
      proc.stderr!.setEncoding('utf8').on('data', (text: string) => { output += text; });
      let gone: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
      exited = new Promise<void>((resolve) => {
        proc.once('error', (error) => {
          gone = { code: null, signal: null, error };
          resolve();
        });
        proc.once('exit', (code, signal) => {
          gone = { code, signal };
          resolve();
        });
      }).finally(() => {
        live.delete(proc);
        if (child === proc) child = undefined;
      });
      const deadline = performance.now() + START_TIMEOUT_MS;
      for (;;) {
        if (gone) {
          throw new Error(`redis-server on port ${port} exited during startup (code ${gone.code}, signal ${gone.signal}${gone.error ? `, ${gone.error.message}` : ''})\n--- server output ---\n${output}`);
        }
        if (await pong(port)) return;
        if (performance.now() > deadline) {
          await server.stop();
          throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms\n--- server output ---\n${output}`);
        }
        await delay(20);
      }
    },
    async stop() {
      const proc = child;
      if (!proc) return;
      proc.kill('SIGKILL');
      await exited;
    },
    log: () => output,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        await server.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };

  try {
    await server.start();
  } catch (error) {
    await server.destroy().catch(() => {});
    throw error;
  }
  return server;
}

/** Whether a Redis server on 127.0.0.1:port answers an inline PING with +PONG (within 500 ms). */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let reply = '';
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.setEncoding('utf8').on('data', (text: string) => {
      reply += text;
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

