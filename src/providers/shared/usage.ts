import type { OpenAIUsage, Usage } from '../types.ts';

/** A token count from a provider field: a finite positive number, else 0. */
export function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

/** Canonical usage from OpenAI's `usage` object (cached and reasoning tokens included). */
export function usageFromOpenAI(usage: OpenAIUsage | null | undefined): Usage | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  const inputTokens = count(usage.prompt_tokens);
  const outputTokens = count(usage.completion_tokens);
  return {
    inputTokens,
    outputTokens,
    cachedInputTokens: count(usage.prompt_tokens_details?.cached_tokens),
    cacheWriteTokens: count(usage.cache_creation_input_tokens),
    reasoningTokens: count(usage.completion_tokens_details?.reasoning_tokens),
    totalTokens: count(usage.total_tokens) || inputTokens + outputTokens,
  };
}
