import { openAICompatibleAdapter } from '../shared/openai-compatible.ts';

// Ollama's OpenAI-compatible endpoints live under /v1 of the local server.
export const ollamaAdapter = openAICompatibleAdapter({
  name: 'ollama',
  defaultApiBase: 'http://127.0.0.1:11434/v1',
  requiresApiKey: false,
});
