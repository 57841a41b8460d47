// Model ACLs: lists of alias patterns ("support-chat", "gpt-4o*", "*"). An empty list allows
// every alias. Several lists (key, team, tenant) combine by intersection: each must allow.

export interface ModelAcl {
  allows(alias: string): boolean;
  /** True when every alias is allowed (no list restricts). */
  readonly open: boolean;
}

export const OPEN_ACL: ModelAcl = Object.freeze({ allows: () => true, open: true });

function compile(patterns: readonly string[]): (alias: string) => boolean {
  if (patterns.length === 0 || patterns.includes('*')) return () => true;
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  return (alias) => exact.has(alias) || prefixes.some((prefix) => alias.startsWith(prefix));
}

/** One ACL from several pattern lists; answers are memoised per alias (aliases are few). */
export function modelAcl(...lists: ReadonlyArray<readonly string[] | undefined>): ModelAcl {
  const checks = lists.filter((l): l is readonly string[] => !!l && l.length > 0 && !l.includes('*')).map(compile);
  if (checks.length === 0) return OPEN_ACL;
  const memo = new Map<string, boolean>();
  return {
    open: false,
    allows(alias) {
      let answer = memo.get(alias);
      if (answer === undefined) {
        answer = checks.every((check) => check(alias));
        if (memo.size < 1024) memo.set(alias, answer);
      }
      return answer;
    },
  };
}
