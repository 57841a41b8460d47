/**
 * Child processes of the bench: start them, wait until they answer, read their memory,
 * and make sure none outlives the run (exit, Ctrl-C, SIGTERM, uncaught errors).
 */
import { fork, spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

const OUTPUT_TAIL_BYTES = 8 * 1024;

export interface Tracked {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<string>;
  hasExited(): boolean;
  /** The last few KB of its stdout and stderr, for diagnostics. */
  outputTail(): string;
}

const children = new Set<Tracked>();

function track(name: string, proc: ChildProcess): Tracked {
  let tail = '';
  let done = false;
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<string>((resolve) => {
    proc.on('exit', (code, signal) => {
      done = true;
      resolve(signal ?? String(code));
    });
    proc.on('error', (err) => {
      done = true;
      tail += `\n[spawn error] ${err.message}`;
      resolve('spawn-error');
    });
  });
  if (proc.pid === undefined) done = true;
  const tracked: Tracked = {
    name,
    proc,
    pid: proc.pid ?? -1,
    exited,
    hasExited: () => done,
    outputTail: () => tail,
  };
  children.add(tracked);
  void exited.then(() => children.delete(tracked));
  return tracked;
}

/** Start a program (a gateway) with piped output. */
export function startProcess(name: string, command: string, args: string[], options: SpawnOptions = {}): Tracked {
  return track(name, spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Fork a bench module (TypeScript, same Node binary) with an IPC channel. */
export function forkModule(name: string, file: string, args: string[] = []): Tracked {
  return track(name, fork(file, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' }));
}

/** Wait for the first IPC message of a given type from a forked child. */
export function waitForMessage<T extends { type: string }>(child: Tracked, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${child.name}: no "${type}" message within ${timeoutMs} ms\n${child.outputTail()}`)), timeoutMs);
    const onMessage = (msg: T): void => {
      if (msg && msg.type === type) finish(null, msg);
    };
    const onExit = (): void => finish(new Error(`${child.name} exited before "${type}"\n${child.outputTail()}`));
    function finish(err: Error | null, msg?: T): void {
      clearTimeout(timer);
      child.proc.off('message', onMessage);
      child.proc.off('exit', onExit);
      if (err) reject(err);
      else resolve(msg as T);
    }
    child.proc.on('message', onMessage);
    child.proc.on('exit', onExit);
  });
}

function getStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, headers, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Poll GET url until it answers `status`; fails early if the process exits. */
export async function waitForHttp(child: Tracked, url: string, timeoutMs: number, status = 200, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    if (child.hasExited()) throw new Error(`${child.name} exited during start-up:\n${child.outputTail().trim()}`);
    last = await getStatus(url, headers);
    if (last === status) return;
    await sleep(100);
  }
  throw new Error(`${child.name}: ${url} did not answer ${status} within ${timeoutMs} ms (last: ${last || 'no answer'})\n${child.outputTail().trim()}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Rss {
  rssMb: number;
  peakMb: number;
}

/** VmRSS and VmHWM of a process from /proc, in MB (Linux only; NaN elsewhere). */
export function readRss(pid: number): Rss {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? Number(m[1]) : NaN;
    };
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  } catch {
    return { rssMb: NaN, peakMb: NaN };
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** SIGTERM, then SIGKILL after a grace period. */
export async function stopProcess(child: Tracked, graceMs = 2000): Promise<void> {
  if (child.hasExited()) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((child) => stopProcess(child)));
}

function killAllNow(): void {
  for (const child of children) {
    if (!child.hasExited()) child.proc.kill('SIGKILL');
  }
}

let installed = false;

/** Kill every child when the bench exits for any reason. */
export function killChildrenOnExit(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      console.error(`\nbench: ${signal}, stopping child processes`);
      killAllNow();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    console.error('bench: uncaught exception:', err);
    killAllNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    console.error('bench: unhandled rejection:', err);
    killAllNow();
    process.exit(1);
  });
}
