import { openAICompatibleAdapter } from '../shared/openai-compatible.ts';

// vLLM's OpenAI-compatible server: api_base is required, a key only if started with --api-key.
export const vllmAdapter = openAICompatibleAdapter({
  name: 'vllm',
  requiresApiKey: false,
});
