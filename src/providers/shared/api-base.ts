/** An api_base split into the pool key (origin) and the path prefix requests go under. */
export interface ApiBase {
  origin: string;
  basePath: string;
  query: string;
}

const cache = new Map<string, ApiBase>();

export function parseApiBase(apiBase: string): ApiBase {
  let parsed = cache.get(apiBase);
  if (!parsed) {
    const url = new URL(apiBase);
    parsed = { origin: url.origin, basePath: url.pathname.replace(/\/+$/, ''), query: url.search };
    cache.set(apiBase, parsed);
  }
  return parsed;
}

/** A config-time check: the message tells the operator how to fix the value. */
export function apiBaseProblem(apiBase: string | undefined): string | undefined {
  if (apiBase === undefined) return undefined;
  try {
    const url = new URL(apiBase);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return `api_base "${apiBase}" must start with http:// or https://`;
    return undefined;
  } catch {
    return `api_base "${apiBase}" is not a URL; write it like https://api.example.com/v1`;
  }
}
