import { openAICompatibleAdapter } from '../shared/openai-compatible.ts';

// Any server that speaks OpenAI's wire format at its api_base (LM Studio, llama.cpp, TGI, ...).
export const openaiCompatibleAdapter = openAICompatibleAdapter({
  name: 'openai_compatible',
  requiresApiKey: false,
});
