// Background health checks: every router.health_checks.interval_ms, one cheap real request
// per deployment with `health_check: true` (a one-token chat, or a one-word embedding for
// embedding models), through the provider's own adapter and the gateway's own transport.
// Results go to DeploymentHealth.recordCheck: a failed check keeps the deployment out of
// rotation until a later check passes. Probes run concurrently across deployments, a
// deployment's probe never overlaps its previous one, and nothing here ever throws into the
// process.

import type { GatewayConfig } from '../config/gateway-config.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { Logger } from '../logging/logger.ts';
import { scrub, type TransportFor } from '../pipeline/dispatch.ts';
import { providerFor } from '../providers/registry.ts';
import type { Deployment, ProviderAdapter, UpstreamRequest, UpstreamResponse } from '../providers/types.ts';
import type { DeploymentHealth } from './deployment-health.ts';

/** Bytes of a probe's answer kept (for the error text); the rest is read and thrown away. */
const MAX_KEPT_BODY = 64 * 1024;
/** Bytes read at most; a longer answer is cut off (the connection is dropped). */
const MAX_READ_BODY = 1 << 20;
/** Longest error text recorded for a failed check. */
const MAX_ERROR = 300;
const TIMEOUT = Symbol('health check timeout');
const STOPPED = Symbol('health checks stopped');
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

export interface HealthCheckerOptions {
  readonly config: GatewayConfig;
  readonly health: DeploymentHealth;
  readonly transportFor: TransportFor;
  readonly logger: Logger;
  /** Epoch ms, for the checks' timestamps. */
  readonly now?: () => number;
}

export interface HealthChecker {
  /**
   * Runs one round now and resolves when every probe of it has been recorded. A deployment
   * whose previous probe is still running is not probed again (its running probe is awaited).
   * Does nothing when health checks are disabled or stopped.
   */
  checkNow(): Promise<void>;
  /** Clears the timer and aborts the probes in flight (their results are not recorded). */
  stop(): void;
}

/**
 * Starts the background checks when `config.router.healthChecks.enabled`: a first round right
 * away (not awaited: startup is not blocked), then one every intervalMs. Timers are unref'ed.
 */
export function startHealthChecks(options: HealthCheckerOptions): HealthChecker {
  const { config, health, transportFor, logger } = options;
  const now = options.now ?? Date.now;
  const { enabled, intervalMs, timeoutMs } = config.router.healthChecks;
  const targets = enabled ? [...config.aliases.values()].flatMap((alias) => alias.deployments).filter((dep) => dep.healthCheck) : [];
  const running = new Map<string, Promise<void>>();
  const controllers = new Set<AbortController>();
  let stopped = !enabled || targets.length === 0;
  let timer: NodeJS.Timeout | undefined;

  async function probe(dep: Deployment): Promise<void> {
    const controller = new AbortController();
    controllers.add(controller);
    const deadline = setTimeout(() => controller.abort(TIMEOUT), timeoutMs);
    deadline.unref();
    const started = performance.now();
    let outcome: { ok: boolean; error?: string };
    try {
      outcome = await attempt(dep, controller.signal);
    } catch (err) {
      outcome = { ok: false, error: thrownError(err, dep, controller.signal, timeoutMs) };
    } finally {
      clearTimeout(deadline);
      controllers.delete(controller);
    }
    if (controller.signal.aborted && controller.signal.reason === STOPPED) return; // stopped: says nothing about the deployment
    const latencyMs = performance.now() - started;
    health.recordCheck(dep.id, { ok: outcome.ok, at: now(), latencyMs, ...(outcome.error !== undefined ? { error: outcome.error } : {}) });
    if (logger.enabled('debug')) {
      logger.debug('health check', { deployment: dep.id, ok: outcome.ok, latency_ms: Math.round(latencyMs * 10) / 10, ...(outcome.error !== undefined ? { error: outcome.error } : {}) });
    }
  }

  async function attempt(dep: Deployment, signal: AbortSignal): Promise<{ ok: boolean; error?: string }> {
    const adapter = providerFor(dep.provider);
    const request = probeRequest(adapter, dep);
    if (!request) return { ok: false, error: `provider ${dep.provider} has no embeddings API to probe` };
    const response = await transportFor(adapter).send(request, { signal, deployment: dep, headersTimeoutMs: timeoutMs, bodyTimeoutMs: timeoutMs });
    const text = await drain(response, signal);
    if (response.status < 400) return { ok: true };
    return { ok: false, error: statusError(adapter, dep, response, text) };
  }

  function probeOnce(dep: Deployment): Promise<void> {
    const pending = running.get(dep.id);
    if (pending) return pending; // the previous probe is still running: skip this round
    const started = probe(dep)
      .catch((err: unknown) => logger.error('health check failed unexpectedly', { deployment: dep.id, error: scrub(String((err as Error)?.stack ?? err), dep) }))
      .finally(() => running.delete(dep.id));
    running.set(dep.id, started);
    return started;
  }

  async function round(): Promise<void> {
    if (stopped) return;
    try {
      await Promise.all(targets.map(probeOnce));
    } catch (err) {
      logger.error('health check round failed unexpectedly', { error: String((err as Error)?.stack ?? err) });
    }
  }

  if (!stopped) {
    logger.info('health checks started', { deployments: targets.length, interval_ms: intervalMs, timeout_ms: timeoutMs });
    timer = setInterval(() => void round(), intervalMs);
    timer.unref();
    void round();
  }

  return {
    checkNow: round,
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      stopped = true;
      for (const controller of controllers) controller.abort(STOPPED);
      controllers.clear();
    },
  };
}

/** The cheapest real request the deployment serves: a one-token chat, or a one-word embedding. */
function probeRequest(adapter: ProviderAdapter, dep: Deployment): UpstreamRequest | undefined {
  if (dep.modelInfo.mode === 'embedding') {
    return adapter.embeddings?.toRequest({ model: dep.alias, input: 'ping' }, dep);
  }
  return adapter.chat.toRequest({ model: dep.alias, messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }, dep);
}

/**
 * Reads the answer to its end, keeping its first MAX_KEPT_BODY bytes as text. Past
 * MAX_READ_BODY the body is destroyed and what was kept is returned.
 */
function drain(response: UpstreamResponse, signal: AbortSignal): Promise<string> {
  const body = response.body;
  return new Promise((resolve, reject) => {
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let read = 0;
    const done = (err?: unknown) => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined) reject(err);
      else resolve(Buffer.concat(kept, keptBytes).toString('utf8'));
    };
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (keptBytes < MAX_KEPT_BODY) {
        const piece = chunk.length > MAX_KEPT_BODY - keptBytes ? chunk.subarray(0, MAX_KEPT_BODY - keptBytes) : chunk;
        kept.push(piece);
        keptBytes += piece.length;
      }
      if (read > MAX_READ_BODY) {
        done();
        body.destroy();
      }
    };
    const onEnd = () => done();
    const onError = (err: Error) => done(err);
    const onClose = () => done(new Error('the answer ended before its end'));
    const onAbort = () => {
      done(signal.reason);
      body.destroy();
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A short, credential-free description of an error status, as the provider's adapter reads it. */
function statusError(adapter: ProviderAdapter, dep: Deployment, response: UpstreamResponse, text: string): string {
  let detail: string;
  let code: string;
  try {
    const failure = adapter.mapError(response.status, text, response.headers);
    code = failure.code;
    // A provider's auth error may quote (part of) the credential, so its text is not kept.
    detail = failure.code === 'upstream_auth_failed' ? 'the provider rejected the deployment\'s credentials (check its api_key)' : failure.message;
  } catch {
    code = 'upstream_error';
    detail = 'unreadable error answer';
  }
  return shorten(scrub(`${response.status} ${code}: ${detail}`, dep));
}

/** The error code of a thrown error (ECONNREFUSED, timeout, ...), never its credential-bearing detail. */
function thrownError(err: unknown, dep: Deployment, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted && signal.reason === TIMEOUT) return `timeout: no answer within ${timeoutMs} ms`;
  if (err instanceof GatewayError) return shorten(scrub(`${err.code}: ${err.message}`, dep)); // e.g. the adapter refused to build the request
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return `timeout: no answer within ${timeoutMs} ms (${code})`;
  if (typeof code === 'string' && code) return shorten(scrub(code, dep));
  const message = err instanceof Error ? err.message : String(err);
  return shorten(scrub(message || 'unknown error', dep));
}

function shorten(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX_ERROR ? `${line.slice(0, MAX_ERROR)}…` : line;
}
