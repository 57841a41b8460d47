// Secret formats shared by redact() and the secret detectors: private key blocks, provider API
// keys (each vendor's token prefix), Slack webhook URLs and JWTs. Every pattern is linear in the
// length of the text (no nested unbounded quantifiers); finders return the spans to hide.

import { matchSpans, type Span } from './spans.ts';

/** PEM/OpenSSH/PGP private key blocks; one without its END line runs to the end of the text. */
export const PRIVATE_KEY =
  /-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----|$)/g;

/** The longest BEGIN line PRIVATE_KEY accepts: "-----BEGIN " + 40 + "PRIVATE KEY BLOCK-----". */
export const PRIVATE_KEY_BEGIN_MAX = 11 + 40 + 22;

export function findPrivateKeys(text: string): Span[] {
  return text.includes('PRIVATE KEY') ? matchSpans(PRIVATE_KEY, text) : [];
}

/** Which vendor a key belongs to: the named group of VENDOR_KEY that matched. */
export type Vendor = 'openai' | 'stripe' | 'aws' | 'github' | 'slack' | 'google';

/** Vendor key formats, each at the start of a token; the named group tells the vendor. */
export const VENDOR_KEY = new RegExp(
  '(?<![A-Za-z0-9_-])(?:' +
    [
      // OpenAI (sk-…, sk-proj-…, sk-svcacct-…), Anthropic (sk-ant-…), Tollgate (sk-tg-…): at least one digit.
      '(?<openai>sk-(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{20,})',
      // Stripe secret and restricted keys.
      '(?<stripe>(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,})',
      // AWS access key ids.
      '(?<aws>(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9]))',
      // GitHub tokens.
      '(?<github>gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})',
      // Slack tokens.
      '(?<slack>xox[abposre]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,})',
      // Google API keys.
      '(?<google>AIza[0-9A-Za-z_-]{35})',
    ].join('|') +
    ')',
  'g',
);

export interface VendorKeySpan extends Span {
  readonly vendor: Vendor;
}

const VENDORS: readonly Vendor[] = ['openai', 'stripe', 'aws', 'github', 'slack', 'google'];

export function findVendorKeys(text: string): VendorKeySpan[] {
  const out: VendorKeySpan[] = [];
  VENDOR_KEY.lastIndex = 0;
  for (let m = VENDOR_KEY.exec(text); m !== null; m = VENDOR_KEY.exec(text)) {
    const vendor = VENDORS.find((v) => m.groups![v] !== undefined)!;
    out.push({ start: m.index, end: m.index + m[0].length, vendor });
  }
  return out;
}

export const SLACK_WEBHOOK = /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9\/_-]+/g;

export function findSlackWebhooks(text: string): Span[] {
  return text.includes('hooks.slack.com') ? matchSpans(SLACK_WEBHOOK, text) : [];
}

/** header.payload.signature, base64url; the header is JSON, so it starts with eyJ. JWE's 5 parts too. */
export const JWT = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}/g;

export function findJwts(text: string): Span[] {
  return text.includes('eyJ') ? matchSpans(JWT, text) : [];
}
