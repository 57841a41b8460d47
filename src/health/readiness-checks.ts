// What GET /health/ready reports: each dependency's state, and the replica's overall status.
//
// - database: the identity store answers a cheap query (its schema version) within timeoutMs.
// - limits: the shared limits store (Redis) is reachable; while it is not, limits are enforced
//   per instance (fail open) or refused (fail closed), as limits.failure_mode says.
// - ledger: each sink is taking writes; a sink that failed has its events spooled to local disk
//   and replayed when it is back (nothing is lost, but reports lag).
// - deployments: how many upstream deployments are cooling down or unhealthy.
//
// A dependency that is down makes the replica "degraded", not unready: it keeps serving (keys
// from its cache, limits locally, ledger rows spooled), and failing every replica's readiness at
// once because a shared database blinked would turn a partial outage into a total one. Only
// draining for shutdown answers 503. The database check's answer is reused for a second
// (cachedCheck), so probes from several load balancers cost one query.

export type DependencyState = 'ok' | 'degraded' | 'down' | 'disabled';

export interface DependencyStatus {
  readonly status: DependencyState;
  /** What is wrong and what the gateway does about it, when status is not ok. */
  readonly detail?: string;
  readonly [extra: string]: unknown;
}

export interface DependencyCheck {
  readonly name: string;
  check(): Promise<DependencyStatus> | DependencyStatus;
}

export interface ReadinessReport {
  readonly status: 'ready' | 'degraded';
  readonly checks: Readonly<Record<string, DependencyStatus>>;
}

export interface ReadinessOptions {
  readonly checks: readonly DependencyCheck[];
  /** A check that takes longer counts as down. Default 1000. */
  readonly timeoutMs?: number;
}

/** Runs the checks in parallel, each bounded by timeoutMs. */
export function createReadiness(options: ReadinessOptions): () => Promise<ReadinessReport> {
  const timeoutMs = options.timeoutMs ?? 1000;
  return async () => {
    const results = await Promise.all(options.checks.map((check) => bounded(check, timeoutMs)));
    const checks: Record<string, DependencyStatus> = {};
    for (const [i, check] of options.checks.entries()) checks[check.name] = results[i];
    const degraded = results.some((result) => result.status === 'degraded' || result.status === 'down');
    return { status: degraded ? 'degraded' : 'ready', checks };
  };
}

/**
 * The check, asked at most once per `ms`: for checks that make a round trip (the database), so
 * that probes from several load balancers cost one query.
 */
export function cachedCheck(check: DependencyCheck, ms: number): DependencyCheck {
  let last: { at: number; result: Promise<DependencyStatus> } | undefined;
  return {
    name: check.name,
    check() {
      const now = performance.now();
      if (!last || now - last.at >= ms) last = { at: now, result: Promise.resolve().then(() => check.check()) };
      return last.result;
    },
  };
}

async function bounded(check: DependencyCheck, timeoutMs: number): Promise<DependencyStatus> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(() => check.check()),
      new Promise<DependencyStatus>((resolve) => {
        timer = setTimeout(() => resolve({ status: 'down', detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
        timer.unref();
      }),
    ]);
  } catch (error) {
    return { status: 'down', detail: String((error as Error)?.message ?? error) };
  } finally {
    clearTimeout(timer);
  }
}
