// Starts a real Tollgate gateway in-process for end-to-end tests: config parsed from YAML,
// listening on 127.0.0.1 on a free port, logging into memory instead of stdout.

import type { GatewayConfig } from '../../src/config/gateway-config.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DATABASE_URL } from '../../src/config/identity-schema.ts';
import { DEFAULT_LEDGER_URL, DEFAULT_SPOOL_DIR } from '../../src/config/ledger-schema.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { startGateway, type RunningGateway } from '../../src/server.ts';

export interface TestGateway {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** url + '/v1', the OpenAI SDK's baseURL. */
  readonly baseURL: string;
  readonly config: GatewayConfig;
  readonly gateway: RunningGateway;
  /** Every log line written so far, parsed (buffered lines are flushed first). */
  logs(): Array<Record<string, any>>;
  /** Every log line written so far, as raw text. */
  logText(): string;
  /** Resolves with the access-log line of `requestId` once it is written (the line is written when the response closes). */
  accessLog(requestId: string, timeoutMs?: number): Promise<Record<string, any>>;
  shutdown(): Promise<void>;
}

/**
 * `env` replaces process.env for `os.environ/NAME` references and TOLLGATE_MASTER_KEY, so the
 * developer's own environment never leaks into a test. Shutdown grace is capped at 200 ms so a
 * test that leaves a request hanging does not stall the suite.
 */
export async function startTestGateway(yaml: string, env: Record<string, string> = {}, options: { now?: () => number } = {}): Promise<TestGateway> {
  const parsed = parseConfig(yaml, 'test-gateway.yaml', { env, overrides: { host: '127.0.0.1', port: 0 } });
  // Each test gateway gets its own in-memory SQLite database unless the YAML names one.
  const database = parsed.database.url === DEFAULT_DATABASE_URL ? { ...parsed.database, url: 'sqlite::memory:' } : parsed.database;
  // Likewise its own in-memory ledger and its own spool folder (one process per spool folder).
  const spool = parsed.ledger.spoolDir === DEFAULT_SPOOL_DIR ? await mkdtemp(join(tmpdir(), 'tollgate-test-spool-')) : undefined;
  const defaultSinks = parsed.ledger.sinks.length === 1 && parsed.ledger.sinks[0] === DEFAULT_LEDGER_URL;
  const ledger = { ...parsed.ledger, ...(defaultSinks ? { sinks: ['sqlite::memory:'] } : {}), ...(spool ? { spoolDir: spool } : {}) };
  const config: GatewayConfig = { ...parsed, database, ledger, server: { ...parsed.server, shutdownGraceMs: Math.min(parsed.server.shutdownGraceMs, 200) } };
  let text = '';
  const logger = createLogger({ level: 'debug', write: (batch) => { text += batch; }, flushMs: 5 });
  const gateway = await startGateway({ config, logger, ...(options.now ? { now: options.now } : {}) });

  function logText(): string {
    logger.flush();
    return text;
  }
  function logs(): Array<Record<string, any>> {
    return logText().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>);
  }

  return {
    url: gateway.url,
    baseURL: `${gateway.url}/v1`,
    config,
    gateway,
    logs,
    logText,
    async accessLog(requestId, timeoutMs = 1_000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const line = logs().find((l) => l.msg === 'request' && l.request_id === requestId);
        if (line) return line;
        if (performance.now() > deadline) throw new Error(`no access-log line for request ${requestId} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    async shutdown() {
      await gateway.shutdown();
      logger.flush();
      if (spool) await rm(spool, { recursive: true, force: true });
    },
  };
}
