// LiteLLM's reliability settings (router_settings, the matching litellm_settings keys, and
// general_settings' background health checks) → Tollgate's `router:` section and each alias's
// `routing:` block. Values are checked here, so a problem names the LiteLLM key the user wrote.

import { hint } from './did-you-mean.ts';
import { fromEnvString } from './identity-schema.ts';
import type { RetryClass, RoutingStrategy } from './routing-schema.ts';

export interface Report {
  warnings: string[];
  problems: string[];
}

/** Which model_names the file lists, and which of them have a supported deployment. */
export interface ModelNames {
  listed: ReadonlySet<string>;
  imported: ReadonlySet<string>;
}

export interface RoutingImport {
  /** The native `router:` section (only the keys the file set). */
  router: Record<string, unknown>;
  /** alias → its native `routing:` block. */
  aliases: Map<string, Record<string, unknown>>;
}

const FALLBACK_KINDS = ['fallbacks', 'context_window_fallbacks', 'content_policy_fallbacks'] as const;
type FallbackKind = (typeof FALLBACK_KINDS)[number];

/** Keys read here; the importer warns about every other key of these sections. */
export const ROUTER_SETTINGS_KEYS: ReadonlySet<string> = new Set([
  'routing_strategy', 'routing_strategy_args', 'num_retries', 'retry_policy', 'model_group_retry_policy', 'allowed_fails',
  'cooldown_time', 'disable_cooldowns', 'retry_after', 'timeout', 'stream_timeout', 'default_fallbacks', ...FALLBACK_KINDS,
]);
export const LITELLM_SETTINGS_KEYS: ReadonlySet<string> = new Set(['num_retries', 'timeout', 'request_timeout', 'stream_timeout', 'default_fallbacks', ...FALLBACK_KINDS]);
export const GENERAL_SETTINGS_KEYS: ReadonlySet<string> = new Set(['background_health_checks', 'health_check_interval']);

const STRATEGIES: Record<string, RoutingStrategy> = {
  'simple-shuffle': 'simple-shuffle',
  'least-busy': 'least-busy',
  'latency-based-routing': 'latency-based',
  'cost-based-routing': 'cost-based',
  'usage-based-routing': 'usage-based',
  'usage-based-routing-v2': 'usage-based',
};

const RETRY_KEYS: Record<string, readonly RetryClass[]> = {
  RateLimitErrorRetries: ['rate_limit'],
  TimeoutErrorRetries: ['timeout'],
  // Tollgate tells refused connections apart from 5xx answers; LiteLLM counts both as server errors.
  InternalServerErrorRetries: ['server_error', 'connect_error'],
};
const PERMANENT_KEYS: Record<string, string> = {
  BadRequestErrorRetries: 'bad-request (400)',
  AuthenticationErrorRetries: 'authentication (401/403)',
  ContentPolicyViolationErrorRetries: 'content-policy',
};
const MAX_RETRIES = 10;
const DEFAULT_BACKOFF_MAX_MS = 5_000;
const DEFAULT_MAX_TIMEOUT_MS = 600_000;
/** LiteLLM's default health_check_interval (seconds). */
const LITELLM_HEALTH_INTERVAL_S = 300;

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
const isMap = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
/** A reference whose variable is missing was already reported; its leftover text is no second problem. */
export const leftoverRef = (value: unknown) => typeof value === 'string' && value.startsWith('os.environ/');

function wholeNumber(value: unknown, where: string, out: Report, max = Infinity): number | undefined {
  const n = fromEnvString(value);
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max) return n;
  if (!leftoverRef(value)) out.problems.push(`${where}: must be a whole number ${max === Infinity ? '(0 or more)' : `from 0 to ${max}`}.`);
  return undefined;
}

/** Seconds (LiteLLM) → milliseconds (Tollgate). */
function millis(value: unknown, where: string, out: Report, min: { seconds: number; inclusive: boolean }): number | undefined {
  const n = fromEnvString(value);
  if (typeof n === 'number' && Number.isFinite(n) && (min.inclusive ? n >= min.seconds : n > min.seconds)) {
    return min.inclusive ? Math.round(n * 1000) : Math.max(1, Math.round(n * 1000));
  }
  const rule = min.inclusive ? (min.seconds === 0 ? 'a number of seconds (0 or more)' : `at least ${min.seconds} second${min.seconds === 1 ? '' : 's'}`) : 'a positive number of seconds';
  if (!leftoverRef(value)) out.problems.push(`${where}: must be ${rule}.`);
  return undefined;
}

class RoutingImporter {
  readonly router: Record<string, unknown> = {};
  readonly aliases = new Map<string, Record<string, unknown>>();
  private readonly warnedPermanent = new Set<string>();
  private readonly sections: Record<'router_settings' | 'litellm_settings', Record<string, unknown>>;
  private readonly names: ModelNames;
  private readonly out: Report;

  constructor(raw: Record<string, unknown>, names: ModelNames, out: Report) {
    this.sections = { router_settings: record(raw.router_settings), litellm_settings: record(raw.litellm_settings) };
    this.names = names;
    this.out = out;
  }

  routingOf(alias: string): Record<string, unknown> {
    let routing = this.aliases.get(alias);
    if (!routing) this.aliases.set(alias, (routing = {}));
    return routing;
  }

  /** A key both sections may set: router_settings wins, as LiteLLM's Router prefers its own arguments. */
  pick(key: string, litellmKey = key): { value: unknown; where: string } | undefined {
    const fromRouter = this.sections.router_settings[key];
    const fromSettings = this.sections.litellm_settings[litellmKey];
    if (fromRouter !== undefined && fromSettings !== undefined && !same(fromRouter, fromSettings)) {
      this.out.warnings.push(`litellm_settings.${litellmKey}: router_settings.${key} is also set and wins; this value is ignored.`);
    }
    if (fromRouter !== undefined) return { value: fromRouter, where: `router_settings.${key}` };
    if (fromSettings !== undefined) return { value: fromSettings, where: `litellm_settings.${litellmKey}` };
    return undefined;
  }

  /** Fallback targets that exist; targets whose deployments were all skipped leave the chain with a warning. */
  targets(value: unknown, where: string): string[] | undefined {
    if (!Array.isArray(value) || value.some((t) => typeof t !== 'string' || t === '')) {
      this.out.problems.push(`${where}: must be a list of model_names, e.g. ["claude-sonnet", "gpt-4o-mini"].`);
      return undefined;
    }
    return (value as string[]).filter((target) => this.known(target, `${where}: "${target}"`, 'left out of the chain'));
  }

  /** Whether `name` can be used; reports it when it cannot. */
  known(name: string, subject: string, consequence: string): boolean {
    if (!this.names.listed.has(name)) {
      if (!leftoverRef(name)) this.out.problems.push(`${subject} is not a model_name in model_list.${hint(name, this.names.listed)}`);
      return false;
    }
    if (!this.names.imported.has(name)) {
      this.out.warnings.push(`${subject} has no supported deployment; ${consequence}.`);
      return false;
    }
    return true;
  }

  /**
   * [{alias: [fallback, ...]}, ...] from both sections. As in LiteLLM, only each map's first key
   * counts, the first entry for an alias wins, and "*" applies to aliases without their own entry.
   */
  fallbacks(kind: FallbackKind): { list: string[]; where: string } | undefined {
    const seen = new Map<string, string>();
    let wildcard: { list: string[]; where: string } | undefined;
    for (const section of ['router_settings', 'litellm_settings'] as const) {
      const value = this.sections[section][kind];
      if (value === undefined) continue;
      if (!Array.isArray(value)) {
        this.out.problems.push(`${section}.${kind}: must be a list of maps, e.g. [{"gpt-4o": ["claude-sonnet"]}].`);
        continue;
      }
      value.forEach((item, i) => {
        const where = `${section}.${kind}[${i}]`;
        const keys = isMap(item) ? Object.keys(item as object) : [];
        if (keys.length === 0) {
          this.out.problems.push(`${where}: must be a map from a model_name to its fallbacks, e.g. {"gpt-4o": ["claude-sonnet"]}.`);
          return;
        }
        for (const extra of keys.slice(1)) this.out.warnings.push(`${where}.${extra}: LiteLLM reads only the first key of each map; write one map per model_name. Ignored.`);
        const alias = keys[0]!;
        const earlier = seen.get(alias);
        if (earlier !== undefined) {
          this.out.warnings.push(`${where}: "${alias}" already has ${kind} at ${earlier}, which wins; this entry is ignored.`);
          return;
        }
        seen.set(alias, where);
        if (alias !== '*' && !this.known(alias, `${where}: "${alias}"`, `its ${kind} are ignored`)) return;
        const list = this.targets((item as Record<string, unknown>)[alias], `${where}.${alias}`);
        if (!list) return;
        if (alias === '*') wildcard = { list, where };
        else this.routingOf(alias)[kind] = list;
      });
    }
    return wildcard;
  }

  retryPolicy(value: unknown, where: string): Record<string, number> | undefined {
    if (!isMap(value)) {
      this.out.problems.push(`${where}: must be a map like {RateLimitErrorRetries: 3, TimeoutErrorRetries: 2}.`);
      return undefined;
    }
    const policy: Record<string, number> = {};
    for (const [key, count] of Object.entries(value as Record<string, unknown>)) {
      const classes = RETRY_KEYS[key];
      if (classes) {
        const n = wholeNumber(count, `${where}.${key}`, this.out, MAX_RETRIES);
        if (n !== undefined) for (const cls of classes) policy[cls] = n;
      } else if (PERMANENT_KEYS[key]) {
        if (fromEnvString(count) !== 0 && !this.warnedPermanent.has(key)) {
          this.warnedPermanent.add(key);
          this.out.warnings.push(`${where}.${key}: Tollgate never retries ${PERMANENT_KEYS[key]} errors, since they fail the same way again; ignored.`);
        }
      } else {
        this.out.warnings.push(`${where}.${key}: not supported yet; ignored. Tollgate reads ${Object.keys(RETRY_KEYS).join(', ')}.`);
      }
    }
    return policy;
  }

  strategy(settings: Record<string, unknown>): void {
    const value = settings.routing_strategy;
    if (value !== undefined) {
      const strategy = typeof value === 'string' ? STRATEGIES[value] : undefined;
      if (strategy) this.router.routing_strategy = strategy;
      else if (!leftoverRef(value)) {
        const shown = typeof value === 'string' ? ` "${value}"` : '';
        // Tollgate's own names (latency-based) are LiteLLM's without the -routing suffix.
        const extended = typeof value === 'string' ? Object.keys(STRATEGIES).find((name) => name === `${value}-routing`) : undefined;
        const guess = extended ? ` Did you mean "${extended}"?` : typeof value === 'string' ? hint(value, Object.keys(STRATEGIES)) : '';
        this.out.problems.push(`router_settings.routing_strategy: invalid value${shown}.${guess} Use one of: ${Object.keys(STRATEGIES).join(', ')}.`);
      }
    }
    if (settings.routing_strategy_args === undefined) return;
    if (!isMap(settings.routing_strategy_args)) {
      this.out.problems.push('router_settings.routing_strategy_args: must be a map, e.g. {lowest_latency_buffer: 0.5}.');
      return;
    }
    for (const [key, arg] of Object.entries(settings.routing_strategy_args as Record<string, unknown>)) {
      const where = `router_settings.routing_strategy_args.${key}`;
      if (key !== 'lowest_latency_buffer') {
        this.out.warnings.push(`${where}: not supported yet; ignored.`);
        continue;
      }
      const n = fromEnvString(arg);
      if (typeof n === 'number' && n >= 0 && n <= 10) this.router.latency_buffer = n;
      else if (!leftoverRef(arg)) this.out.problems.push(`${where}: must be a number from 0 to 10 (0.5 shares traffic among deployments within 50% of the fastest).`);
    }
  }
}

export function importRouting(raw: Record<string, unknown>, names: ModelNames, out: Report): RoutingImport {
  const im = new RoutingImporter(raw, names, out);
  const { router } = im;
  const settings = record(raw.router_settings);
  im.strategy(settings);

  const retries = im.pick('num_retries');
  if (retries) {
    const n = wholeNumber(retries.value, retries.where, out, MAX_RETRIES);
    if (n !== undefined) router.num_retries = n;
  }
  if (settings.retry_policy !== undefined) {
    const policy = im.retryPolicy(settings.retry_policy, 'router_settings.retry_policy');
    if (policy) router.retry_policy = policy;
  }
  if (settings.model_group_retry_policy !== undefined) {
    if (!isMap(settings.model_group_retry_policy)) out.problems.push('router_settings.model_group_retry_policy: must be a map from model_name to a retry_policy.');
    for (const [alias, value] of Object.entries(record(settings.model_group_retry_policy))) {
      const where = `router_settings.model_group_retry_policy.${alias}`;
      if (!im.known(alias, `router_settings.model_group_retry_policy: "${alias}"`, 'its retry policy is ignored')) continue;
      const policy = im.retryPolicy(value, where);
      if (policy) im.routingOf(alias).retry_policy = policy;
    }
  }

  if (settings.allowed_fails !== undefined) {
    const n = wholeNumber(settings.allowed_fails, 'router_settings.allowed_fails', out);
    if (n !== undefined) router.allowed_fails = n;
  }
  if (settings.disable_cooldowns !== undefined) {
    if (typeof settings.disable_cooldowns === 'boolean') router.disable_cooldowns = settings.disable_cooldowns;
    else out.problems.push('router_settings.disable_cooldowns: must be true or false.');
  }
  if (settings.cooldown_time !== undefined) {
    const ms = millis(settings.cooldown_time, 'router_settings.cooldown_time', out, { seconds: 0, inclusive: false });
    if (ms !== undefined) router.cooldown_ms = ms;
  }
  if (settings.retry_after !== undefined) {
    // LiteLLM's minimum wait before a retry becomes the first backoff step; the cap grows to fit it.
    const ms = millis(settings.retry_after, 'router_settings.retry_after', out, { seconds: 0, inclusive: true });
    if (ms !== undefined) router.backoff = { initial_ms: ms, max_ms: Math.max(DEFAULT_BACKOFF_MAX_MS, ms) };
  }
  // litellm_settings may call it request_timeout (litellm.request_timeout).
  const litellmSettings = record(raw.litellm_settings);
  const timeout = im.pick('timeout', litellmSettings.timeout === undefined ? 'request_timeout' : 'timeout');
  if (timeout) {
    const ms = millis(timeout.value, timeout.where, out, { seconds: 0, inclusive: false });
    if (ms !== undefined) {
      router.request_timeout_ms = ms;
      // LiteLLM has no cap on client-chosen timeouts; keep Tollgate's from cutting this one short.
      if (ms > DEFAULT_MAX_TIMEOUT_MS) router.max_timeout_ms = ms;
    }
  }
  if (litellmSettings.timeout !== undefined && litellmSettings.request_timeout !== undefined) {
    out.warnings.push('litellm_settings.request_timeout: litellm_settings.timeout is also set and wins; this value is ignored.');
  }
  for (const section of ['router_settings', 'litellm_settings'] as const) {
    if (record(raw[section]).stream_timeout !== undefined) {
      out.warnings.push(`${section}.stream_timeout: not supported here; set stream_timeout in each model_list entry's litellm_params instead. Ignored.`);
    }
  }

  const wildcard = im.fallbacks('fallbacks');
  const defaults = im.pick('default_fallbacks');
  if (defaults) {
    const list = im.targets(defaults.value, defaults.where);
    if (list) router.default_fallbacks = list;
    if (wildcard) out.warnings.push(`${wildcard.where}: ${defaults.where} is also set and wins (LiteLLM adds it as the last "*" entry); this entry is ignored.`);
  } else if (wildcard) router.default_fallbacks = wildcard.list;
  for (const kind of ['context_window_fallbacks', 'content_policy_fallbacks'] as const) {
    const all = im.fallbacks(kind);
    if (!all) continue;
    // Tollgate has no gateway-wide default for these lists: "*" is copied to each alias without its own.
    for (const alias of names.imported) {
      const list = all.list.filter((target) => target !== alias);
      if (im.aliases.get(alias)?.[kind] === undefined && list.length > 0) im.routingOf(alias)[kind] = list;
    }
  }

  const general = record(raw.general_settings);
  if (general.background_health_checks !== undefined || general.health_check_interval !== undefined) {
    const enabled = fromEnvString(general.background_health_checks ?? false);
    if (typeof enabled !== 'boolean' && !leftoverRef(enabled)) out.problems.push('general_settings.background_health_checks: must be true or false.');
    const interval = millis(general.health_check_interval ?? LITELLM_HEALTH_INTERVAL_S, 'general_settings.health_check_interval', out, { seconds: 1, inclusive: true });
    if (typeof enabled === 'boolean' && interval !== undefined) router.health_checks = { enabled, interval_ms: interval };
  }
  return { router, aliases: im.aliases };
}
