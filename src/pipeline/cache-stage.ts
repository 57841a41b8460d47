// Cache stage, after auth and before policy: a request the response cache may answer is looked
// up (exact, then semantic); a hit is served from here (JSON, or replayed as a stream), spends
// no budget, and writes a ledger row with cache_hit and the cost it saved. A miss goes on to the
// router, and the route stores its answer afterwards (never on the response path).
//
// The alias and the caller's model ACL are checked before the lookup, so a cached answer is only
// ever served to a caller who may use the model. A hit counts toward rate limits only where
// cache.count_hits_toward_rpm is set (then it takes and settles an admission of zero tokens).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { cacheControls } from '../cache/cache-controls.ts';
import type { CacheEntry } from '../cache/cache-entry.ts';
import { decideCache, type CacheableShape, type CacheCaller } from '../cache/cache-decision.ts';
import { replayStream } from '../cache/completion-replay.ts';
import { exactCacheKey } from '../cache/request-hash.ts';
import type { CacheLookup, ResponseCache, SemanticQuery, UsedDecision } from '../cache/response-cache.ts';
import { attachmentKey, semanticText, type SemanticConversation } from '../cache/semantic-text.ts';
import type { GatewayConfig } from '../config/gateway-config.ts';
import { sendJson } from '../http/respond.ts';
import type { ChatCompletion, Deployment, Usage } from '../providers/types.ts';
import { usageFromOpenAI } from '../providers/shared/usage.ts';
import { authorizedAlias } from './model-access.ts';
import type { Policy } from './policy.ts';
import { header, type RequestContext } from './request-context.ts';
import { startStage } from './timeline-marks.ts';

export const CACHE_HEADER = 'x-gateway-cache';
export const SIMILARITY_HEADER = 'x-gateway-cache-similarity';

export interface CacheStageDeps {
  readonly config: GatewayConfig;
  readonly cache: ResponseCache | undefined;
  readonly policy: Policy;
}

export interface CacheRequest {
  readonly endpoint: 'chat' | 'messages';
  readonly body: Record<string, unknown> & CacheableShape;
  readonly stream: boolean;
  /** Streams: the client asked for the usage chunk. */
  readonly includeUsage: boolean;
  /** The conversation the semantic lookup embeds from (built only when it runs). */
  readonly conversation?: () => SemanticConversation;
  /** Writes a hit in the endpoint's own format (default: OpenAI chat.completion / its stream). */
  readonly serve?: (res: ServerResponse, entry: CacheEntry, headers: Record<string, string>) => void;
}

/** What the route does with a request the cache did not answer. */
export interface CacheMiss {
  /** `miss` or `skip`, for the x-gateway-cache header; undefined when the cache is off. */
  readonly header?: 'miss' | 'skip';
  /** Present when the answer should be stored: call it once the client has a complete answer. */
  readonly store?: (completion: ChatCompletion, usage: Usage | undefined, served: Deployment) => void;
}

export type CacheOutcome = { readonly served: true } | ({ readonly served: false } & CacheMiss);

const OFF: CacheOutcome = { served: false };

function callerOf(ctx: RequestContext): CacheCaller {
  const principal = ctx.principal;
  const key = principal.kind === 'virtual' ? principal.resolved.key : undefined;
  const keyId = key?.key_id ?? (principal.kind === 'master' ? 'master' : undefined);
  return {
    ...(ctx.tenantId !== undefined ? { tenantId: ctx.tenantId } : {}),
    ...(key ? { teamId: key.team_id } : {}),
    ...(keyId !== undefined ? { keyId } : {}),
  };
}

export async function cacheStage(deps: CacheStageDeps, ctx: RequestContext, req: IncomingMessage, res: ServerResponse, request: CacheRequest, model: string): Promise<CacheOutcome> {
  const cache = deps.cache;
  if (!cache) return OFF;
  const controls = cacheControls(req.headers, request.body);
  const alias = authorizedAlias(deps.config, ctx, model);
  const decision = decideCache(deps.config.cache, alias.name, callerOf(ctx), controls, request.body);
  if (!decision.use) {
    cache.skipped(decision.reason);
    return { served: false, header: 'skip' };
  }
  const key = exactCacheKey(alias.name, request.body, request.endpoint);
  let lookup: CacheLookup | undefined;
  if (decision.lookup) {
    const mark = startStage(ctx.timeline, 'cache');
    try {
      const conversation = request.conversation;
      lookup = await cache.lookup(decision, key, conversation && (() => semanticQuery(deps.config, alias.name, request, conversation())));
    } finally {
      mark.end = performance.now();
    }
    const hit = lookup.hit;
    if (hit) {
      const dep = servedBy(deps.config, hit.entry.deployment) ?? alias.deployments[0]!;
      await serveHit(deps, ctx, req, res, request, alias.name, dep, hit.entry, hit.similarity);
      return { served: true };
    }
  }
  if (!decision.store) return { served: false, header: 'miss' };
  return { served: false, header: 'miss', store: storer(cache, decision, key, lookup, alias.name) };
}

/**
 * The semantic lookup's text, and its scope: a digest of the parameters (everything but the
 * conversation) and of the system prompt when it is not embedded, and of the attachments, so a
 * semantic hit only ever crosses requests that differ in the wording of what was embedded.
 */
function semanticQuery(config: GatewayConfig, alias: string, request: CacheRequest, conversation: SemanticConversation): SemanticQuery | undefined {
  const options = { contextTurns: config.cache.semantic.contextTurns, includeSystem: config.cache.semantic.includeSystem };
  const text = semanticText(conversation, options);
  if (text === undefined) return undefined;
  // The body without its conversation, so the fields the exact key ignores (stream, user, …) are ignored here too.
  const scope = exactCacheKey(alias, {
    ...request.body, messages: undefined, system: options.includeSystem ? '' : conversation.system, semantic_attachments: attachmentKey(conversation, options),
  }, request.endpoint);
  return { text, scope: scope.slice(0, 32) };
}

/** The deployment that produced a cached answer (a fallback alias's, perhaps), while it is still configured. */
function servedBy(config: GatewayConfig, id: string): Deployment | undefined {
  for (const alias of config.aliases.values()) for (const dep of alias.deployments) if (dep.id === id) return dep;
  return undefined;
}

function storer(cache: ResponseCache, decision: UsedDecision, key: string, lookup: CacheLookup | undefined, alias: string): NonNullable<CacheMiss['store']> {
  return (completion, usage, served) => cache.store(decision, key, lookup, {
    v: 1, alias, deployment: served.id, provider: served.provider, completion, ...(usage ? { usage } : {}),
  });
}

async function serveHit(
  deps: CacheStageDeps, ctx: RequestContext, req: IncomingMessage, res: ServerResponse, request: CacheRequest,
  requested: string, dep: Deployment, entry: CacheEntry, similarity: number | undefined,
): Promise<void> {
  let rateHeaders: Readonly<Record<string, string>> = {};
  if (deps.config.cache.countHitsTowardRpm) {
    // Zero tokens and no budget: the hit only takes its place in the request windows.
    const admission = await deps.policy(ctx, requested, dep, () => ({ inputTokens: 0, maxOutputTokens: 0 }), header(req.headers, 'x-max-cost-usd'), false);
    rateHeaders = admission?.headers ?? {};
    admission?.settle({ accepted: false });
  }
  const usage = entry.usage ?? usageFromOpenAI(entry.completion.usage);
  const draft = ctx.ledger;
  if (draft) {
    draft.alias = requested;
    draft.stream = request.stream;
    draft.deployment = dep;
    draft.cacheHit = true;
    if (usage) draft.usage = usage;
    if (draft.capture) draft.capture.completion = entry.completion.choices.map((c) => c.message.content ?? '').join('\n');
  }
  ctx.served = { alias: dep.alias, deployment: dep.id, provider: dep.provider };
  const headers: Record<string, string> = {
    ...rateHeaders,
    'x-request-id': ctx.requestId,
    'x-gateway-model-resolved': dep.model,
    'x-gateway-provider': dep.provider,
    'x-gateway-deployment': dep.id,
    [CACHE_HEADER]: 'hit',
    ...(similarity !== undefined ? { [SIMILARITY_HEADER]: similarity.toFixed(4) } : {}),
    ...(usage ? { 'x-usage-total-tokens': String(usage.totalTokens) } : {}),
  };
  if (request.serve) return request.serve(res, entry, headers);
  if (!request.stream) return sendJson(res, 200, JSON.stringify(entry.completion), headers);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...headers });
  res.end(replayStream(entry.completion, request.includeUsage));
}
