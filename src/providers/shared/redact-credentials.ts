// What provider credentials look like, so provider error text quoted back to a client or a log
// never carries one: the deployment's own key, and anything shaped like a known vendor key
// (OpenAI sk-/sk-proj-, Anthropic sk-ant-, Groq gsk-, xAI xai-, Stripe-style pk-/rk-).
const KEY_SHAPED = /\b(sk|pk|rk|gsk|xai|sk-ant)-[A-Za-z0-9_\-*]{6,}/g;

export function redactCredentials(text: string, apiKey: string | undefined): string {
  let out = text;
  if (apiKey && apiKey.length >= 4) out = out.split(apiKey).join('[redacted]');
  return out.replace(KEY_SHAPED, '[redacted]');
}
