// The name a vendor bills a model under and the name Tollgate recorded are rarely the same text:
// OpenAI's cost export says "gpt-4o-2024-08-06, input", Anthropic's "Claude Sonnet 4.5", the
// ledger "gpt-4o" or "claude-sonnet-4-5-20250929". modelKey() reduces each to one comparable key.

/**
 * Lower case; any "provider/" prefix dropped; a line item's ", input" / ", output" part dropped;
 * spaces, dots and underscores become dashes; a snapshot date suffix (-2024-08-06, -20250929) and
 * -latest dropped. So "Claude Sonnet 4.5" and "claude-sonnet-4-5-20250929" are both
 * "claude-sonnet-4-5", and "gpt-4o-2024-08-06, input" and "openai/gpt-4o" are both "gpt-4o".
 */
export function modelKey(name: string): string {
  let text = name.split(',')[0]!.trim().toLowerCase();
  text = text.slice(text.lastIndexOf('/') + 1);
  text = text.replace(/[\s._]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  text = text.replace(/-(\d{4}-\d{2}-\d{2}|\d{8})$/, '').replace(/-latest$/, '');
  return text;
}
