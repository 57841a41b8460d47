import { openAICompatibleAdapter } from '../shared/openai-compatible.ts';

// Groq rejects these OpenAI fields with a 400, and n other than 1 (GroqCloud OpenAI-compatibility notes).
export const groqAdapter = openAICompatibleAdapter({
  name: 'groq',
  genAiProviderName: 'groq',
  defaultApiBase: 'https://api.groq.com/openai/v1',
  unsupportedParams: ['logprobs', 'top_logprobs', 'logit_bias'],
  onlyValues: { n: 1 },
});
