// The shapes of identifiers, shared by the admin API, the config file and request headers.

/** team_id, tenant_id: what X-Tenant-Id may carry too. */
export const OBJECT_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
export const OBJECT_ID_RULE = '1-128 characters of letters, digits and . _ : @ -, starting with a letter or digit';

/** Alias patterns in model ACLs: an alias name, "*" (every alias) or a prefix wildcard like "gpt-4o*". */
export const MODEL_PATTERN = /^(\*|[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}\*?)$/;
export const MODEL_PATTERN_RULE = 'an alias name, "*" for every alias, or a prefix ending in "*" such as "gpt-4o*"';

/** environment and project labels, tags. */
export const LABEL = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,63}$/;
export const LABEL_RULE = '1-64 characters of letters, digits and . _ : / @ -, starting with a letter or digit';

/** Model alias names (config `models:` keys, tenant model_limits keys). */
export const ALIAS_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/;
export const ALIAS_NAME_RULE = '1-128 characters of letters, digits and . _ : / @ -, starting with a letter or digit';

/** The scope of a limit policy: "global", or "deployment:" and a deployment id (ids like alias#0 included). */
export const LIMIT_SCOPE = /^(global|deployment:[A-Za-z0-9][A-Za-z0-9._:/@#-]{0,160})$/;
export const LIMIT_SCOPE_RULE = '"global" or "deployment:<deployment id>"';
