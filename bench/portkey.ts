/**
 * The peer gateway: Portkey, installed on demand into a cached temp folder (never into the
 * project), pinned to @hono/node-server 1.13.5 because its streaming breaks without that pin.
 *   BENCH_PORTKEY_VERSION=x.y.z   gateway version to install (default below; "latest" allowed)
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { chatBody, delayPrefix } from './chat-requests.ts';
import type { TargetSpec } from './load-protocol.ts';
import { freePort, startProcess, stopProcess, waitForHttp } from './processes.ts';
import type { GatewayHandle } from './tollgate.ts';

const DEFAULT_VERSION = '1.15.2';
const HONO_NODE_SERVER_PIN = '1.13.5';
const INSTALL_TIMEOUT_MS = 180_000;
const READY_TIMEOUT_MS = 20_000;

const run = promisify(execFile);

function installedVersion(dir: string, pkg: string): string | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

function entryPoint(dir: string): string {
  return path.join(dir, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
}

/** Install (or reuse the cached install of) the peer; returns the gateway version. */
export async function ensurePortkey(dir: string, log: (line: string) => void): Promise<string> {
  const wanted = process.env.BENCH_PORTKEY_VERSION || DEFAULT_VERSION;
  const have = installedVersion(dir, '@portkey-ai/gateway');
  const pinOk = installedVersion(dir, '@hono/node-server') === HONO_NODE_SERVER_PIN;
  if (have && pinOk && existsSync(entryPoint(dir)) && (wanted === 'latest' || wanted === have)) return have;

  log(`installing @portkey-ai/gateway@${wanted} into ${dir} …`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify(
      { name: 'tollgate-bench-portkey', private: true, overrides: { '@hono/node-server': HONO_NODE_SERVER_PIN } },
      null,
      2,
    ),
  );
  // --ignore-scripts: its only install script is patch-package, and the package ships no patches.
  await run('npm', ['install', `@portkey-ai/gateway@${wanted}`, '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
    cwd: dir,
    timeout: INSTALL_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  const version = installedVersion(dir, '@portkey-ai/gateway');
  if (!version || !existsSync(entryPoint(dir))) throw new Error('npm install finished but the gateway entry point is missing');
  const pinned = installedVersion(dir, '@hono/node-server');
  if (pinned !== HONO_NODE_SERVER_PIN) throw new Error(`@hono/node-server is ${pinned}, expected the ${HONO_NODE_SERVER_PIN} pin`);
  return version;
}

function portkeyTarget(port: number, upstreamPort: number, delayMs: number): TargetSpec {
  const headers = (apiBase: string): Record<string, string> => ({
    'content-type': 'application/json',
    authorization: 'Bearer x',
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': apiBase,
  });
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  const route = '/v1/chat/completions';
  return {
    name: 'portkey',
    origin: `http://127.0.0.1:${port}`,
    plain: { path: route, headers: headers(`${upstream}/v1`), body: chatBody('gpt-4o-mini', false) },
    delayed: { path: route, headers: headers(`${upstream}${delayPrefix(delayMs)}/v1`), body: chatBody('gpt-4o-mini', false) },
    stream: { path: route, headers: headers(`${upstream}/v1`), body: chatBody('gpt-4o-mini', true) },
  };
}

/** Start the installed peer with the same Node binary as the bench. */
export async function startPortkey(dir: string, upstreamPort: number, delayMs: number): Promise<GatewayHandle> {
  const port = await freePort();
  const child = startProcess('portkey', process.execPath, [entryPoint(dir), `--port=${port}`, '--headless'], {
    cwd: dir,
  });
  try {
    await waitForHttp(child, `http://127.0.0.1:${port}/`, READY_TIMEOUT_MS);
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  return { process: child, target: portkeyTarget(port, upstreamPort, delayMs) };
}
