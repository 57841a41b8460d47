// The `guardrails:` config section: named policies (what each detector kind does, in and out,
// which external scanners run, fail open or closed), and which tenant, team or alias uses which.
// Off unless `guardrails.enabled`.
//
//   guardrails:
//     enabled: true
//     default_policy: standard           # absent: calls no policy names are not scanned
//     scanners:
//       - { type: lakera, name: lakera, api_key: os.environ/LAKERA_GUARD_API_KEY, timeout_ms: 500 }
//     policies:
//       standard:
//         input:  { injection: block, pii: redact, secret: block }
//         output: { pii: off, secret: redact, leak: flag }
//       customer-bot:
//         input:  { injection: block, pii: redact, secret: block }
//         output: { pii: redact, secret: block, leak: block }
//         scanners: [lakera]
//         fail_closed: true                # a scanner that is down refuses the call
//         restore_pii: true                # put the caller's own redacted values back in the answer
//       internal:
//         input:  { injection: flag, pii: off, secret: flag }
//     tenants: { shop-frontend: customer-bot }
//     teams:   { platform: internal }
//     aliases: { support-bot: customer-bot }
//
// A call's policy is its tenant's, else its team's, else its alias's, else default_policy.

import { z } from 'zod';
import { scannersSchema } from '../guardrails/scanner-schema.ts';
import { fromEnv } from './identity-schema.ts';

const action = z.enum(['block', 'redact', 'flag', 'off'], { error: 'must be block, redact, flag or off' });
/** Injection and leaks cannot be redacted: the text is not a value to hide but an instruction. */
const noRedact = z.enum(['block', 'flag', 'off'], { error: 'must be block, flag or off (an injection or a leak cannot be redacted)' });
const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, { error: 'must be 1-40 lower-case letters, digits, - or _' });

export const guardrailPolicySchema = z.strictObject({
  input: z.strictObject({
    injection: noRedact.default('block'),
    pii: action.default('redact'),
    secret: action.default('block'),
  }).prefault({}),
  output: z.strictObject({
    pii: action.default('off'),
    secret: action.default('redact'),
    leak: noRedact.default('flag'),
  }).prefault({}),
  /** External scanners (by name, from guardrails.scanners) asked about every prompt. */
  scanners: z.array(name).default([]),
  /** Ask the scanners about completions too (non-streamed ones; streams are scanned by the built-ins only). */
  scan_output: fromEnv(z.boolean()).default(false),
  /** A scanner that is down or times out refuses the call (true) or lets it through unscanned (false). */
  fail_closed: fromEnv(z.boolean()).default(false),
  /** Redacted values of the caller's own prompt are put back into the answer (reversible pseudonymisation). */
  restore_pii: fromEnv(z.boolean()).default(false),
  /** Findings scoring below this are ignored. */
  min_score: fromEnv(z.number().min(0).max(1)).default(0.5),
});

export const guardrailsSchema = z.strictObject({
  enabled: fromEnv(z.boolean()).default(false),
  scanners: scannersSchema,
  default_policy: name.optional(),
  policies: z.record(name, guardrailPolicySchema).default({}),
  tenants: z.record(z.string().min(1), name).default({}),
  teams: z.record(z.string().min(1), name).default({}),
  aliases: z.record(z.string().min(1), name).default({}),
}).prefault({});

export type GuardrailsInput = z.output<typeof guardrailsSchema>;
export type GuardrailPolicyInput = z.output<typeof guardrailPolicySchema>;
export type GuardAction = z.output<typeof action>;

/** One named policy as the pipeline uses it. */
export interface GuardrailPolicy {
  readonly name: string;
  readonly input: { readonly injection: GuardAction; readonly pii: GuardAction; readonly secret: GuardAction };
  readonly output: { readonly pii: GuardAction; readonly secret: GuardAction; readonly leak: GuardAction };
  readonly scanners: readonly string[];
  readonly scanOutput: boolean;
  readonly failClosed: boolean;
  readonly restorePii: boolean;
  readonly minScore: number;
}

export interface GuardrailsSettings {
  readonly enabled: boolean;
  readonly scanners: GuardrailsInput['scanners'];
  readonly defaultPolicy?: GuardrailPolicy;
  readonly tenants: ReadonlyMap<string, GuardrailPolicy>;
  readonly teams: ReadonlyMap<string, GuardrailPolicy>;
  readonly aliases: ReadonlyMap<string, GuardrailPolicy>;
}

function policyOf(policyName: string, p: GuardrailPolicyInput): GuardrailPolicy {
  return Object.freeze({
    name: policyName,
    input: Object.freeze({ ...p.input }),
    output: Object.freeze({ ...p.output }),
    scanners: Object.freeze([...p.scanners]),
    scanOutput: p.scan_output,
    failClosed: p.fail_closed,
    restorePii: p.restore_pii,
    minScore: p.min_score,
  });
}

/** The section, with policy names resolved; `problems` gets every unknown policy, scanner or alias name. */
export function guardrailsSettings(input: GuardrailsInput, aliasNames: ReadonlySet<string>, problems: string[]): GuardrailsSettings {
  const policies = new Map(Object.entries(input.policies).map(([n, p]) => [n, policyOf(n, p)]));
  const scannerNames = new Set(input.scanners.map((s) => s.name));
  for (const [n, p] of policies) {
    for (const s of p.scanners) if (!scannerNames.has(s)) problems.push(`guardrails.policies.${n}.scanners: "${s}" is not a scanner in guardrails.scanners.`);
  }
  const resolve = (where: string, entries: Record<string, string>) => {
    const out = new Map<string, GuardrailPolicy>();
    for (const [id, policyName] of Object.entries(entries)) {
      const policy = policies.get(policyName);
      if (!policy) problems.push(`guardrails.${where}.${id}: "${policyName}" is not a policy in guardrails.policies.`);
      else out.set(id, policy);
    }
    return out;
  };
  for (const alias of Object.keys(input.aliases)) if (!aliasNames.has(alias)) problems.push(`guardrails.aliases.${alias}: no such alias in models:.`);
  const defaultPolicy = input.default_policy === undefined ? undefined : policies.get(input.default_policy);
  if (input.default_policy !== undefined && !defaultPolicy) problems.push(`guardrails.default_policy: "${input.default_policy}" is not a policy in guardrails.policies.`);
  return Object.freeze({
    enabled: input.enabled,
    scanners: input.scanners,
    ...(defaultPolicy ? { defaultPolicy } : {}),
    tenants: resolve('tenants', input.tenants),
    teams: resolve('teams', input.teams),
    aliases: resolve('aliases', input.aliases),
  });
}
