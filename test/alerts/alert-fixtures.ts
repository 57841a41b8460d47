// Shared pieces of the alert tests: finished calls built from a few fields, an engine with an
// injected clock and a captured log, and a webhook receiver on a loopback port.

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AlertEngine, type AlertEngineOptions } from '../../src/alerts/alert-engine.ts';
import type { Alert } from '../../src/alerts/alert.ts';
import { parseAlertSettings } from '../../src/alerts/alert-settings.ts';
import type { LedgerEvent, LedgerStatus } from '../../src/ledger/ledger-event.ts';
import { createLogger } from '../../src/logging/logger.ts';
import type { AttemptMark, FinishedCall } from '../../src/telemetry/finished-call.ts';
import { ledgerEvent } from '../helpers/fake-ledger-reader.ts';

export const T0 = Date.UTC(2026, 5, 10, 12, 0, 0);

export interface CallSpec {
  status?: LedgerStatus;
  httpStatus?: number;
  errorCode?: string | null;
  provider?: string | null;
  tenant?: string | null;
  costUsd?: number;
  latencyMs?: number;
  ttftMs?: number | null;
  stream?: boolean;
  attempts?: number;
  fallbackUsed?: boolean;
  /** Upstream attempts in the request timeline. */
  tried?: Array<{ provider: string; outcome: 'ok' | 'failed'; code?: string; httpStatus?: number }>;
}

export function finishedCall(spec: CallSpec = {}): FinishedCall {
  const status = spec.status ?? 'success';
  const base = ledgerEvent({ at: new Date(T0).toISOString(), status, provider: spec.provider === undefined ? 'openai' : spec.provider, tenant: spec.tenant === undefined ? null : spec.tenant, cost: spec.costUsd ?? 0 });
  const event: LedgerEvent = {
    ...base,
    stream: spec.stream ?? false,
    latency_ms: { ...base.latency_ms, total: spec.latencyMs ?? 100, ttft: spec.ttftMs ?? null },
    outcome: {
      ...base.outcome,
      http_status: spec.httpStatus ?? (status === 'success' ? 200 : status === 'rate_limited' ? 429 : 502),
      error_code: spec.errorCode !== undefined ? spec.errorCode : status === 'success' ? null : status === 'rate_limited' ? 'rate_limited' : 'upstream_error',
      attempts: spec.attempts ?? (status === 'rate_limited' ? 0 : 1),
      fallback_used: spec.fallbackUsed ?? false,
    },
  };
  const attempts: AttemptMark[] = (spec.tried ?? []).map((a, i) => ({
    spanId: `span${i}`, alias: 'chat', deployment: `${a.provider}#${i}`, provider: a.provider, model: 'm', start: 0, end: 1, outcome: a.outcome,
    ...(a.code ? { code: a.code } : {}), ...(a.httpStatus ? { httpStatus: a.httpStatus } : {}),
  }));
  return { event, timeline: { stages: [], attempts }, receivedAt: 0, endedAt: event.latency_ms.total, receivedAtEpochMs: T0, spanId: 'span' };
}

export interface EngineHarness {
  readonly engine: AlertEngine;
  readonly clock: { now: number };
  /** Alerts sent (firing and resolved), in order. */
  readonly alerts: Alert[];
  logs(): Array<Record<string, any>>;
  text(): string;
  /** Observes `count` calls made from `spec`. */
  observe(count: number, spec?: CallSpec): void;
}

/** An engine with a clock at T0; `raw` is an `alerts:` section as in YAML. */
export function engineHarness(raw: Record<string, unknown> = {}, over: Partial<Omit<AlertEngineOptions, 'settings' | 'logger'>> = {}): EngineHarness {
  let logs = '';
  const logger = createLogger({ level: 'debug', write: (text) => { logs += text; }, flushMs: 60_000 });
  const clock = { now: T0 };
  const alerts: Alert[] = [];
  const engine = new AlertEngine({
    settings: parseAlertSettings(raw),
    logger,
    now: () => clock.now,
    onAlert: (alert) => alerts.push(alert),
    delivery: { backoffMs: 5 },
    ...over,
  });
  return {
    engine, clock, alerts,
    logs() {
      logger.flush();
      return logs.trim() ? logs.trim().split('\n').map((line) => JSON.parse(line)) : [];
    },
    text() {
      logger.flush();
      return logs;
    },
    observe(count, spec = {}) {
      const call = finishedCall(spec);
      for (let i = 0; i < count; i++) engine.observe(call);
    },
  };
}

export interface Receiver {
  readonly url: string;
  readonly requests: Array<{ path: string; headers: IncomingHttpHeaders; body: any }>;
  /** Answers for the next requests, in order; after them `fallback`. */
  readonly script: Array<number | 'hang'>;
  close(): Promise<void>;
}

/** A webhook receiver on a loopback port: answers `status` (200), or never answers ('hang'). */
export async function webhookReceiver(fallback: number | 'hang' = 200): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const script: Receiver['script'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const answer = script.shift() ?? fallback;
      if (answer === 'hang') return;
      res.writeHead(answer).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
