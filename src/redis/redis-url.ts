// How a Redis URL is named in errors and logs: host:port/db, never its credentials.

/** host:port/db of a Redis URL, without credentials. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return 'an unparsable URL';
  }
}
