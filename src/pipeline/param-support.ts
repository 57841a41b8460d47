import { GatewayError } from '../errors/gateway-error.ts';
import type { ChatRequest, Deployment, ProviderAdapter } from '../providers/types.ts';

/**
 * Drops or rejects top-level fields the chosen provider does not accept. With drop_params
 * the field is removed; without it the client gets unsupported_param naming the field.
 */
export function applyParamSupport(req: ChatRequest, adapter: ProviderAdapter, dep: Deployment): string[] {
  const dropped: string[] = [];
  for (const name of Object.keys(req)) {
    if (adapter.chat.supportsParam(name, req[name])) continue;
    if (req[name] === undefined || req[name] === null) continue;
    if (!dep.dropParams) {
      throw new GatewayError('unsupported_param', `The parameter "${name}" is not supported by ${dep.provider} (deployment ${dep.id}). Remove it, or set drop_params: true to drop unsupported parameters.`, { param: name });
    }
    delete req[name];
    dropped.push(name);
  }
  return dropped;
}
