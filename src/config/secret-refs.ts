import { formatPath } from './config-error.ts';

const WHOLE_REF = /^os\.environ\/([A-Za-z_][A-Za-z0-9_]*)$/;
const INLINE_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Whether a value is an environment reference (os.environ/NAME, or text holding ${NAME}). */
export function isSecretRef(value: string): boolean {
  return WHOLE_REF.test(value) || /\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(value);
}

/**
 * Replaces every `os.environ/NAME` value and `${NAME}` inside strings with the variable's
 * value. A missing variable is a problem naming it and where it is used; values never appear
 * in the problems.
 */
export function resolveSecretRefs(value: unknown, env: NodeJS.ProcessEnv, problems: string[], unresolved?: Set<string>): unknown {
  const lookup = (name: string, path: PropertyKey[]): string | undefined => {
    const found = env[name];
    if (found !== undefined && found !== '') return found;
    const where = formatPath(path);
    unresolved?.add(where);
    problems.push(`${where}: environment variable ${name} is not set. Export it before starting Tollgate, or remove the reference.`);
    return undefined;
  };
  return walkStrings(value, [], (text, path) => {
    const whole = WHOLE_REF.exec(text);
    // Secrets mounted from files usually end in a newline: a whole-value reference is trimmed.
    if (whole) return lookup(whole[1]!, path)?.trim() ?? text;
    if (!text.includes('${')) return text;
    return text.replace(INLINE_REF, (_m, name: string) => lookup(name, path) ?? '');
  });
}

function walkStrings(value: unknown, path: PropertyKey[], visit: (text: string, path: PropertyKey[]) => string): unknown {
  if (typeof value === 'string') return visit(value, path);
  if (Array.isArray(value)) return value.map((item, i) => walkStrings(item, [...path, i], visit));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = walkStrings(item, [...path, key], visit);
    return out;
  }
  return value;
}
