import { openAICompatibleAdapter } from '../shared/openai-compatible.ts';
import { createSimulatorTransport } from './simulator-transport.ts';

// The built-in fake LLM: it speaks OpenAI's wire format over an in-process transport,
// so requests to it exercise the same translation, streaming and error paths as real ones.
export const simulatorAdapter = {
  ...openAICompatibleAdapter({ name: 'simulator', defaultApiBase: 'http://simulator.invalid/v1', requiresApiKey: false }),
  createTransport: () => createSimulatorTransport(),
};
