// Pins the model in a client's JSON text without re-serialising the rest, so a large prompt
// is forwarded as the client sent it. Only done when a scan of the top level proves the
// rewrite means exactly what JSON.parse saw; otherwise the caller re-serialises.

const QUOTE = 34; // "
const BACKSLASH = 92;

/** Index of the quote that closes the string opening at `open`, or -1. */
function stringEnd(text: string, open: number): number {
  let i = open;
  for (;;) {
    i = text.indexOf('"', i + 1);
    if (i === -1) return -1;
    let slashes = 0;
    for (let j = i - 1; text.charCodeAt(j) === BACKSLASH; j--) slashes++;
    if (slashes % 2 === 0) return i;
  }
}

function decodeKey(raw: string): string | undefined {
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return undefined;
  }
}

function skipSpace(text: string, i: number): number {
  let c = text.charCodeAt(i);
  while (c === 32 || c === 9 || c === 10 || c === 13) c = text.charCodeAt(++i);
  return i;
}

/**
 * The span [start, end) of the string value of the object's only top-level `model` key
 * (escaped spellings of the key included), or undefined if there is not exactly one or its
 * value is not a string.
 */
export function topLevelModelSpan(text: string): [number, number] | undefined {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 123 /* { */) return undefined;
  let depth = 0;
  let expectKey = false;
  let span: [number, number] | undefined;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end === -1) return undefined;
      if (depth === 1 && expectKey) {
        expectKey = false;
        if (decodeKey(text.slice(i + 1, end)) === 'model') {
          if (span) return undefined; // duplicate key: JSON.parse keeps the last one
          const colon = skipSpace(text, end + 1);
          const value = skipSpace(text, colon + 1);
          if (text.charCodeAt(colon) !== 58 || text.charCodeAt(value) !== QUOTE) return undefined;
          const valueEnd = stringEnd(text, value);
          if (valueEnd === -1) return undefined;
          span = [value, valueEnd + 1];
          i = valueEnd;
          continue;
        }
      }
      i = end;
    } else if (c === 123 || c === 91) {
      depth++;
      expectKey = c === 123 && depth === 1;
    } else if (c === 125 || c === 93) {
      depth--;
    } else if (c === 44 && depth === 1) {
      expectKey = true;
    }
  }
  return span;
}

/** `text` with its top-level model `from` replaced by `to`, or undefined when that is not provably safe. */
export function spliceModel(text: string, from: string, to: string): string | undefined {
  const span = topLevelModelSpan(text);
  if (!span) return undefined;
  let current: unknown;
  try {
    current = JSON.parse(text.slice(span[0], span[1]));
  } catch {
    return undefined;
  }
  if (current !== from) return undefined;
  return `${text.slice(0, span[0])}${JSON.stringify(to)}${text.slice(span[1])}`;
}
