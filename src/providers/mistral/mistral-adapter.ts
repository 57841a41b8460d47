import { openAICompatibleAdapter } from '../shared/openai-compatible.ts';

// Mistral's chat API has no logit_bias, logprobs or user fields and rejects unknown ones.
export const mistralAdapter = openAICompatibleAdapter({
  name: 'mistral',
  genAiProviderName: 'mistral_ai',
  defaultApiBase: 'https://api.mistral.ai/v1',
  unsupportedParams: ['logit_bias', 'logprobs', 'top_logprobs', 'user'],
});
