// What `tollgate drill` found: the route read back from x-gateway-route, and the result printed
// as text or (--json) as one JSON document.

import type { Known, Primary, Target } from './drill-target.ts';
import type { CliIO } from './run-cli.ts';

/** One entry of x-gateway-route. */
export interface RouteStep {
  readonly alias?: string;
  readonly deployment: string;
  readonly outcome: 'blocked' | 'ok' | 'failed' | 'skipped';
  readonly code?: string;
}

export interface DrillResult {
  readonly ok: boolean;
  readonly mode: Target['mode'];
  readonly gateway?: string;
  readonly alias: string;
  readonly endpoint: string;
  readonly request_id: string;
  readonly primary: Primary;
  readonly status: number;
  readonly route: readonly RouteStep[];
  readonly served?: { deployment: string; alias: string; provider?: string; attempts?: number; fallback_used: boolean; latency_ms: number };
  readonly error?: { code: string; message: string };
  readonly verdict: 'passed' | 'primary_served' | 'no_secondary' | 'fallback_failed';
  readonly message: string;
  readonly notes: readonly string[];
}

/** x-gateway-route: `p1:blocked, backup/b1:failed(upstream_error), backup/b2:ok`. */
export function parseRoute(value: string | undefined, known: readonly Known[]): RouteStep[] {
  if (!value) return [];
  const steps: RouteStep[] = [];
  for (const entry of value.split(', ')) {
    const m = /^(.*):(blocked|ok|failed|skipped)(?:\(([^()]*)\))?$/.exec(entry.trim());
    if (!m) continue;
    const [, where = '', outcome, code] = m;
    const extra = code ? { code } : {};
    if (outcome === 'blocked') {
      steps.push({ deployment: where, outcome, ...extra });
      continue;
    }
    const pair = known.find((k) => `${k.alias}/${k.deployment}` === where) ?? guessPair(where);
    steps.push({ ...pair, outcome: outcome as RouteStep['outcome'], ...extra });
  }
  return steps;
}

/** alias/deployment when the pair is not known: prefer a split where the id is the default `alias#N`. */
function guessPair(where: string): { alias?: string; deployment: string } {
  const cuts: number[] = [];
  for (let i = where.indexOf('/'); i !== -1; i = where.indexOf('/', i + 1)) cuts.push(i);
  if (cuts.length === 0) return { deployment: where };
  const cut = cuts.find((i) => where.slice(i + 1).startsWith(`${where.slice(0, i)}#`)) ?? cuts[0]!;
  return { alias: where.slice(0, cut), deployment: where.slice(cut + 1) };
}

/** Prints the result (text, or JSON with --json) and returns the exit code: 0 when the drill passed, else 1. */
export function printResult(result: DrillResult, io: CliIO, json: boolean): number {
  io.out(json ? JSON.stringify(result, null, 2) : asText(result));
  return result.ok ? 0 : 1;
}

function asText(result: DrillResult): string {
  const where = result.mode === 'running' ? `the gateway at ${result.gateway}` : 'a throwaway gateway';
  const lines = [`Fallback drill: alias "${result.alias}" through ${where} (POST ${result.endpoint}, request id ${result.request_id})`];
  for (const note of result.notes) lines.push(`  note: ${note}`);
  const p = result.primary;
  const about = [p.provider && p.model ? `${p.provider} ${p.model}` : p.provider ?? p.model, p.order !== undefined ? `order ${p.order}` : undefined].filter(Boolean).join(', ');
  lines.push(`  primary   ${p.deployment}${about ? ` (${about})` : ''}: blocked for this request`);
  const attempts = result.route.filter((s) => s.outcome !== 'blocked');
  for (const step of attempts) lines.push(`  attempt   ${step.alias ? `${step.alias}/` : ''}${step.deployment}: ${step.outcome}${step.code ? ` (${step.code})` : ''}`);
  if (attempts.length === 0 && result.route.length === 0 && result.status !== 200) lines.push('  attempt   (the gateway reported no route)');
  if (result.served) {
    const s = result.served;
    lines.push(`  served    ${s.deployment} (alias ${s.alias}${s.fallback_used ? ', a fallback' : ''})${s.attempts !== undefined ? `, ${s.attempts} attempt${s.attempts === 1 ? '' : 's'}` : ''}, ${s.latency_ms} ms`);
  }
  if (result.error) lines.push(`  error     HTTP ${result.status} ${result.error.code}: ${result.error.message}`);
  lines.push(`${result.ok ? 'PASS' : 'FAIL'}: ${result.message}`);
  return lines.join('\n');
}
