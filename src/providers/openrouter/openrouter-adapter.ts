import { openAICompatibleAdapter } from '../shared/openai-compatible.ts';

export const openrouterAdapter = openAICompatibleAdapter({
  name: 'openrouter',
  defaultApiBase: 'https://openrouter.ai/api/v1',
});
