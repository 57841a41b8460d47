import { openAICompatibleAdapter } from '../shared/openai-compatible.ts';

export const togetherAdapter = openAICompatibleAdapter({
  name: 'together',
  defaultApiBase: 'https://api.together.xyz/v1',
});
