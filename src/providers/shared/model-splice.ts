const MODEL_KEY = /"model"\s*:\s*"((?:[^"\\]|\\.)*)"/g;

/**
 * Rewrites the top-level `model` of a JSON request text without re-serialising the rest,
 * so a large prompt is forwarded as the client sent it. Returns undefined when that cannot
 * be done safely (the key appears more than once, or its value is not `from`); the caller
 * then serialises the parsed body instead. Inside JSON strings quotes are escaped, so a raw
 * `"model":` can only be a key.
 */
export function spliceModel(text: string, from: string, to: string): string | undefined {
  MODEL_KEY.lastIndex = 0;
  const first = MODEL_KEY.exec(text);
  if (!first || MODEL_KEY.exec(text) !== null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(`"${first[1]}"`);
  } catch {
    return undefined;
  }
  if (value !== from) return undefined;
  const start = first.index + first[0].length - first[1]!.length - 2; // the value's opening quote
  return `${text.slice(0, start)}${JSON.stringify(to)}${text.slice(start + first[1]!.length + 2)}`;
}
