// One configured webhook: where it is, which body shape it takes, and what of its URL may be
// shown. A webhook URL is a secret (Slack's carries its token in the path, others put one in
// the query or the userinfo), so only its origin is ever logged, and error messages that might
// echo the URL are redacted before they are logged or counted.

/** slack: `{ text, blocks }` (Slack, and Slack-compatible receivers such as Mattermost); json: the documented generic body. */
export type WebhookFormat = 'slack' | 'json';

export class WebhookTarget {
  readonly url: string;
  /** scheme://host:port, safe to log. */
  readonly origin: string;
  readonly format: WebhookFormat;
  readonly #secrets: string[];

  /** Throws (without echoing the URL) when it is not an http(s) URL. */
  constructor(url: string, format?: WebhookFormat) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error('the webhook URL is not a valid URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`the webhook URL must be http(s), got ${parsed.protocol}`);
    this.url = url;
    this.origin = parsed.origin;
    this.format = format ?? (isSlackHost(parsed.hostname) ? 'slack' : 'json');
    const pathAndQuery = parsed.pathname + parsed.search;
    // Longest first, so that the whole URL is replaced before its parts are.
    this.#secrets = [url, parsed.href, pathAndQuery === '/' ? '' : pathAndQuery, parsed.username, parsed.password, decodeUserinfo(parsed.username), decodeUserinfo(parsed.password)]
      .filter((s) => s.length > 0)
      .sort((a, b) => b.length - a.length);
  }

  /** An error's text with every part of the URL that may carry a secret replaced by "[webhook]". */
  redact(err: unknown): string {
    let text = err instanceof Error ? `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}` : String(err);
    for (const secret of this.#secrets) text = text.split(secret).join('[webhook]');
    return text;
  }
}

/** Slack's incoming webhooks live on hooks.slack.com; they refuse any body but Slack's own shape. */
export function isSlackHost(hostname: string): boolean {
  return hostname === 'hooks.slack.com';
}

/** URL userinfo as typed (percent-decoded), or as is when it is not valid percent-encoding. */
export function decodeUserinfo(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
