import type { Deployment } from '../providers/types.ts';

export interface AliasConfig {
  readonly name: string;
  readonly description?: string;
  readonly deployments: readonly Deployment[];
}

/** The validated, resolved and frozen configuration every other module reads. */
export interface GatewayConfig {
  readonly source: { readonly file: string; readonly format: 'native' | 'litellm' };
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly maxBodyBytes: number;
    readonly accessLog: boolean;
    readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
    readonly shutdownGraceMs: number;
    readonly keepAliveTimeoutMs: number;
  };
  /** Undefined when no master key is configured: the gateway then runs without auth, loopback only. */
  readonly masterKey?: string;
  readonly dropParams: boolean;
  readonly upstream: { readonly connectionsPerOrigin: number; readonly keepAliveTimeoutMs: number };
  readonly aliases: ReadonlyMap<string, AliasConfig>;
  /** Aliases switched off because a variable in their requires_env is unset. */
  readonly disabledAliases: ReadonlyMap<string, readonly string[]>;
  /** Non-fatal findings (LiteLLM keys not supported yet, settings not enforced yet). */
  readonly warnings: readonly string[];
}
