// The only place that lists providers. Central code looks adapters up here by name.
import type { ProviderAdapter } from './types.ts';
import { openaiAdapter } from './openai/openai-adapter.ts';
import { azureAdapter } from './azure/azure-adapter.ts';
import { openrouterAdapter } from './openrouter/openrouter-adapter.ts';
import { groqAdapter } from './groq/groq-adapter.ts';
import { mistralAdapter } from './mistral/mistral-adapter.ts';
import { togetherAdapter } from './together/together-adapter.ts';
import { vllmAdapter } from './vllm/vllm-adapter.ts';
import { ollamaAdapter } from './ollama/ollama-adapter.ts';
import { openaiCompatibleAdapter } from './openai_compatible/openai-compatible-adapter.ts';
import { anthropicAdapter } from './anthropic/anthropic-adapter.ts';
import { simulatorAdapter } from './simulator/simulator-adapter.ts';

export const PROVIDERS = {
  openai: openaiAdapter,
  azure: azureAdapter,
  openrouter: openrouterAdapter,
  groq: groqAdapter,
  mistral: mistralAdapter,
  together: togetherAdapter,
  vllm: vllmAdapter,
  ollama: ollamaAdapter,
  openai_compatible: openaiCompatibleAdapter,
  anthropic: anthropicAdapter,
  simulator: simulatorAdapter,
} as const satisfies Record<string, ProviderAdapter>;

export type ProviderName = keyof typeof PROVIDERS;
export const PROVIDER_NAMES = Object.keys(PROVIDERS) as [ProviderName, ...ProviderName[]];

export function providerFor(name: string): ProviderAdapter {
  const adapter = (PROVIDERS as Record<string, ProviderAdapter>)[name];
  if (!adapter) throw new Error(`unknown provider ${name}`);
  return adapter;
}
