// `tollgate drill --alias NAME`: the pre-release fallback gate "primary blocked → secondary
// succeeds". It sends one real request for the alias with its primary deployment blocked for
// that request only (x-gateway-drill-block, admins only) and reads back how the gateway routed
// it (x-gateway-route). Exit 0 when the request succeeded on another deployment, 1 when it did
// not (the fallback failed, or there is none), 2 for a usage mistake or an unknown alias.
//
// Two modes. Throwaway (--config FILE): an in-process gateway on 127.0.0.1, built from the file
// but with an in-memory identity store, no Redis and no background health checks, so the drill
// touches no shared state and the blocked primary gets no traffic at all; it is always shut
// down. Running (--url URL, or TOLLGATE_URL): the drill goes through that gateway with an admin
// key, and the primary comes from its GET /health/providers.

import { randomUUID } from 'node:crypto';
import type { Agent } from 'undici';
import { ConfigError } from '../config/config-error.ts';
import { DRILL_HEADER } from '../routing/drill-block.ts';
import { flag, flagHelp, JSON_FLAG, parseCommand, UsageError, type ParsedCommand } from './admin-flags.ts';
import { parseRoute, printResult, type DrillResult } from './drill-report.ts';
import { DrillAbort, drillAgent, NO_SECONDARY, send, withTarget, type Target } from './drill-target.ts';
import { authHeaders, endpoint, errorOf, type HttpAnswer } from './gateway-http.ts';
import type { CliIO } from './run-cli.ts';

const DRILL_FLAGS = [
  flag('alias', '', 'string', 'the alias (model name) to drill', 'NAME'),
  flag('config', '', 'string', 'start a throwaway gateway from FILE (in-memory store, no Redis); with --url, only read for model_info.mode', 'FILE'),
  flag('url', '', 'string', 'drill a running gateway instead (or set TOLLGATE_URL)', 'URL'),
  flag('admin-key', '', 'string', 'admin key for --url (or TOLLGATE_ADMIN_KEY, else TOLLGATE_MASTER_KEY)', 'KEY'),
  flag('embeddings', '', 'boolean', 'send an embeddings request (automatic when the primary has model_info.mode: embedding)'),
  JSON_FLAG,
];

export const DRILL_USAGE = `Usage:
  tollgate drill --config FILE --alias NAME [--json]
  tollgate drill --url URL [--admin-key KEY] --alias NAME [--json]

Blocks the alias's primary deployment (the first one in its lowest order tier) for one real
request and checks that another deployment or a fallback alias serves it. Exit 0: it did;
1: it did not (or the alias has no secondary); 2: usage mistake or unknown alias.
With --config alone the drill runs on a throwaway gateway built from FILE (same deployments,
keys and routing; in-memory database, no Redis, no health checks), shut down afterwards.

${flagHelp(DRILL_FLAGS)}`;

export async function runDrill(argv: string[], io: CliIO): Promise<number> {
  let values: ParsedCommand['values'];
  try {
    const parsed = parseCommand(argv, DRILL_FLAGS);
    values = parsed.values;
    if (values.help) {
      io.out(DRILL_USAGE);
      return 0;
    }
    if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}".`);
    if (typeof values.alias !== 'string' || values.alias === '') throw new UsageError('drill needs --alias NAME (the alias to drill).');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`${err.message}\n\n${DRILL_USAGE}`);
    return 2;
  }
  const alias = values.alias as string;
  const config = values.config as string | undefined;
  const flagUrl = values.url as string | undefined;
  // An explicit --config wins over TOLLGATE_URL from the environment; --url wins over both.
  const url = flagUrl ?? (config ? undefined : io.env.TOLLGATE_URL);
  if (values['admin-key'] !== undefined && !url) {
    io.err(`--admin-key applies only with --url URL (or TOLLGATE_URL); a throwaway gateway uses the config's master key.\n\n${DRILL_USAGE}`);
    return 2;
  }
  if (!url && !config) {
    io.err(`say what to drill: --config FILE (a throwaway gateway from the config) or --url URL (a running gateway; or set TOLLGATE_URL).\n\n${DRILL_USAGE}`);
    return 2;
  }
  const agent = drillAgent();
  try {
    const adminKey = (values['admin-key'] as string | undefined) || io.env.TOLLGATE_ADMIN_KEY || io.env.TOLLGATE_MASTER_KEY;
    const how = { alias, url, adminKey, config, embeddings: values.embeddings === true, env: io.env };
    return await withTarget(how, agent, async (target) => printResult(await drill(target, agent), io, values.json === true));
  } catch (err) {
    if (err instanceof DrillAbort) {
      io.err(`error: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  } finally {
    await agent.close();
  }
}

// ── the drill ───────────────────────────────────────────────────────────────

/** A response header as one string. */
function header(answer: HttpAnswer, name: string): string | undefined {
  const v = answer.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

async function drill(target: Target, agent: Agent): Promise<DrillResult> {
  const path = target.embeddings ? '/v1/embeddings' : '/v1/chat/completions';
  const body = target.embeddings
    ? { model: target.alias, input: 'Tollgate fallback drill' }
    : { model: target.alias, messages: [{ role: 'user', content: 'Tollgate fallback drill: reply with OK.' }], max_tokens: 16 };
  const requestId = `drill-${randomUUID()}`;
  const started = performance.now();
  const answer = await send(agent, endpoint(target.url, path), 'POST', {
    'content-type': 'application/json',
    accept: 'application/json',
    'x-request-id': requestId,
    [DRILL_HEADER]: target.primary.deployment,
    ...authHeaders(target.adminKey),
  }, JSON.stringify(body));
  const latency = Math.round(performance.now() - started);
  const route = parseRoute(header(answer, 'x-gateway-route'), target.known);
  const servedBy = header(answer, 'x-gateway-deployment') ?? route.find((s) => s.outcome === 'ok')?.deployment;
  const attempts = Number(header(answer, 'x-gateway-attempts'));
  const fallbackAlias = header(answer, 'x-gateway-fallback-alias');
  const provider = header(answer, 'x-gateway-provider');
  const common = {
    mode: target.mode,
    ...(target.mode === 'running' ? { gateway: target.url } : {}),
    alias: target.alias,
    endpoint: path,
    request_id: header(answer, 'x-request-id') ?? requestId,
    primary: target.primary,
    status: answer.status,
    route,
    notes: target.notes,
  };
  if (answer.status === 200 && servedBy !== undefined) {
    const served = {
      deployment: servedBy,
      alias: fallbackAlias ?? route.find((s) => s.outcome === 'ok' && s.deployment === servedBy)?.alias ?? target.alias,
      ...(provider ? { provider } : {}),
      ...(Number.isFinite(attempts) ? { attempts } : {}),
      fallback_used: header(answer, 'x-gateway-fallback-used') === 'true',
      latency_ms: latency,
    };
    if (servedBy === target.primary.deployment) {
      return { ...common, ok: false, served, verdict: 'primary_served', message: `the blocked primary ${servedBy} served the request: the gateway ignored ${DRILL_HEADER} (is it older than this CLI?).` };
    }
    return { ...common, ok: true, served, verdict: 'passed', message: `with ${target.primary.deployment} blocked, ${servedBy}${served.alias !== target.alias ? ` (alias ${served.alias})` : ''} served the request.` };
  }
  const error = answer.status === 200 ? { code: 'unknown_deployment', message: 'the gateway answered 200 without saying which deployment served (no x-gateway-deployment).' } : errorOf(answer);
  const tried = route.some((s) => s.outcome !== 'blocked');
  const noSecondary = target.secondaries !== undefined ? target.secondaries === 0 : !tried && target.aliasDeployments <= 1 && answer.status !== 401 && answer.status !== 403;
  if (noSecondary) {
    return { ...common, ok: false, error, verdict: 'no_secondary', message: `${NO_SECONDARY} (alias "${target.alias}" has only ${target.primary.deployment}${target.secondaries === undefined ? ' and the gateway tried no fallback' : ''}).` };
  }
  return { ...common, ok: false, error, verdict: 'fallback_failed', message: `the fallback did not serve the request (HTTP ${answer.status} ${error.code}).` };
}
