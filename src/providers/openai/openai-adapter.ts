import { openAICompatibleAdapter } from '../shared/openai-compatible.ts';

export const openaiAdapter = openAICompatibleAdapter({
  name: 'openai',
  genAiProviderName: 'openai',
  defaultApiBase: 'https://api.openai.com/v1',
});
