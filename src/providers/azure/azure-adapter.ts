import { openAICompatibleAdapter } from '../shared/openai-compatible.ts';
import { parseApiBase } from '../shared/api-base.ts';

// Azure OpenAI: the deployment name is in the path, the version in ?api-version=,
// and the key goes in the api-key header. `model` is the Azure deployment name.
export const azureAdapter = openAICompatibleAdapter({
  name: 'azure',
  genAiProviderName: 'azure.ai.openai',
  modelInBody: false,
  endpointPath(dep, endpoint) {
    const base = parseApiBase(dep.apiBase ?? '');
    const version = encodeURIComponent(dep.apiVersion ?? '');
    return `${base.basePath.replace(/\/openai$/, "")}/openai/deployments/${encodeURIComponent(dep.model)}/${endpoint}?api-version=${version}`;
  },
  authHeaders: (dep): Record<string, string> => (dep.apiKey ? { 'api-key': dep.apiKey } : {}),
  validate(dep) {
    return dep.apiVersion ? [] : ['provider azure needs api_version (for example 2024-10-21)'];
  },
});
