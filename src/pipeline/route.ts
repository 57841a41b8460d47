import type { AliasConfig, GatewayConfig } from '../config/gateway-config.ts';
import { hint } from '../config/did-you-mean.ts';
import { GatewayError } from '../errors/gateway-error.ts';

export type Random = () => number;

/**
 * Route stage: alias → its routing group. Unknown aliases get a did-you-mean, drawn only from the
 * aliases `visible` allows (a caller is never told of aliases it may not use).
 */
export function resolveAlias(config: GatewayConfig, model: string, visible: (alias: string) => boolean = () => true): AliasConfig {
  const alias = config.aliases.get(model);
  if (alias) return alias;
  const missing = config.disabledAliases.get(model);
  // Why an alias is switched off is told only to callers that may use it.
  if (missing && !visible(model)) throw new GatewayError('model_not_allowed', `You may not use the model "${model}". GET /v1/models lists the models you may use.`, { param: 'model' });
  if (missing) {
    throw new GatewayError('model_not_found', `The model "${model}" is configured but disabled because ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set on the gateway.`, { param: 'model' });
  }
  throw new GatewayError('model_not_found', `The model "${model}" does not exist on this gateway.${hint(model, [...config.aliases.keys()].filter(visible))} GET /v1/models lists the available models.`, { param: 'model' });
}
