// Provider API keys for the secret.provider_key detector: the vendor formats redact() knows
// (src/redaction/patterns/secret-patterns.ts: OpenAI/Anthropic/Tollgate sk-…, Stripe, GitHub,
// Slack, Google AIza…, and AWS key ids, which the detector reports as cloud credentials) plus
// formats only the detector knows, each anchored on its vendor's fixed prefix.

import { findSlackWebhooks, findVendorKeys } from '../../redaction/patterns/secret-patterns.ts';
import { matchSpans } from '../../redaction/patterns/spans.ts';
import type { Candidate } from './pii-secret-scan.ts';

/** More vendors' tokens: [group name, display name, pattern]; each pattern starts with a literal prefix. */
const EXTRA: ReadonlyArray<readonly [string, string, string]> = [
  ['gitlab', 'GitLab', 'glpat-[A-Za-z0-9_-]{20,64}'],
  ['huggingface', 'Hugging Face', 'hf_[A-Za-z0-9]{30,40}'],
  ['npm', 'npm', 'npm_[A-Za-z0-9]{36}'],
  ['sendgrid', 'SendGrid', 'SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}'],
  ['groq', 'Groq', 'gsk_[A-Za-z0-9]{48,60}'],
  ['replicate', 'Replicate', 'r8_[A-Za-z0-9]{37}'],
  ['xai', 'xAI', 'xai-[A-Za-z0-9]{60,100}'],
  ['stripewebhook', 'Stripe webhook', 'whsec_[A-Za-z0-9]{32,64}'],
  ['shopify', 'Shopify', 'shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}'],
  ['digitalocean', 'DigitalOcean', 'do[opr]_v1_[a-f0-9]{64}'],
  ['pypi', 'PyPI', 'pypi-AgE[A-Za-z0-9_-]{50,250}'],
  ['googleoauth', 'Google OAuth client', 'GOCSPX-[A-Za-z0-9_-]{28}'],
  ['googletoken', 'Google OAuth access', 'ya29\\.[0-9A-Za-z_-]{20,250}'],
  ['mailgun', 'Mailgun', 'key-[0-9a-f]{32}'],
  ['twilio', 'Twilio', 'SK[0-9a-f]{32}'],
  ['databricks', 'Databricks', 'dapi[a-f0-9]{32}'],
];

/** Telegram bot tokens (bot id:AA…) and Discord webhook URLs, each behind its own cheap prefilter. */
const TELEGRAM = /(?<![A-Za-z0-9_-])[0-9]{8,10}:AA[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])/g;
const DISCORD_WEBHOOK = /https:\/\/(?:ptb\.|canary\.)?discord(?:app)?\.com\/api\/webhooks\/[0-9]{17,20}\/[A-Za-z0-9_-]{60,80}(?![A-Za-z0-9_-])/g;

const EXTRA_KEY = new RegExp(
  `(?<![A-Za-z0-9_-])(?:${EXTRA.map(([group, , pattern]) => `(?<${group}>${pattern})`).join('|')})(?![A-Za-z0-9_-])`,
  'g',
);

/** The longest key the detector reports in full: GitHub's 255-character tokens and their prefix. */
export const PROVIDER_KEY_MAX_LENGTH = 300;

function openAiStyle(text: string, start: number): string {
  const prefix = text.slice(start, start + 7);
  if (prefix.startsWith('sk-ant-')) return 'Anthropic API key';
  if (prefix.startsWith('sk-tg-')) return 'Tollgate virtual key';
  if (prefix.startsWith('sk-or-')) return 'OpenRouter API key';
  return 'OpenAI-style API key';
}

const NAMES = { stripe: 'Stripe secret key', github: 'GitHub token', slack: 'Slack token', google: 'Google API key' } as const;

/** Provider keys, and AWS access key ids (reported by secret.cloud_credential). */
export function findProviderKeys(text: string): Candidate[] {
  const out: Candidate[] = [];
  for (const key of findVendorKeys(text)) {
    if (key.vendor === 'aws') {
      out.push({ ...key, detector: 'secret.cloud_credential', type: 'CLOUD_KEY', score: 0.95, reason: 'AWS access key id' });
    } else {
      const reason = key.vendor === 'openai' ? openAiStyle(text, key.start) : NAMES[key.vendor];
      out.push({ ...key, reason: `${reason} format` });
    }
  }
  for (const hook of findSlackWebhooks(text)) out.push({ ...hook, reason: 'Slack webhook URL' });
  EXTRA_KEY.lastIndex = 0;
  for (let m = EXTRA_KEY.exec(text); m !== null; m = EXTRA_KEY.exec(text)) {
    const entry = EXTRA.find(([group]) => m.groups![group] !== undefined)!;
    out.push({ start: m.index, end: m.index + m[0].length, reason: `${entry[1]} token format` });
  }
  if (text.includes(':AA')) for (const s of matchSpans(TELEGRAM, text)) out.push({ ...s, reason: 'Telegram bot token format' });
  if (text.includes('discord')) for (const s of matchSpans(DISCORD_WEBHOOK, text)) out.push({ ...s, reason: 'Discord webhook URL' });
  return out;
}
