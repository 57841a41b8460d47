// What the semantic cache embeds for a request: the last user turn, what follows it (tool
// results, an assistant prefill), up to `contextTurns` turns before it, and the system prompt
// when `includeSystem` is set. The input is a normalised conversation, the same for both APIs:
// semantic-conversation.ts converts OpenAI chat messages and Anthropic /v1/messages requests.
//
// Everything the text leaves out is ignored by the match: two conversations whose windows are
// alike hit each other's entries whatever came before. Everything the text includes dilutes the
// last user turn: a long system prompt or context shared by every request makes all their
// vectors alike, and a different question then scores above the threshold. So keep
// contextTurns small and includeSystem off, and put what must match exactly (the system prompt,
// the model parameters) into the namespace instead.
//
// Non-text parts (images, audio, files, documents) cannot be compared lexically. A marker with
// a digest of each goes into the text, so the texts differ; but in a long text one marker moves
// the vector only a little. `attachmentKey` is a digest of every attachment in the window, ''
// when there is none: fold it into the namespace (e.g. the version) so that requests with
// different attachments never share entries.

import { createHash } from 'node:crypto';

export interface SemanticTurn {
  /** "user", "assistant", "tool", … (a system prompt goes in SemanticConversation.system). */
  readonly role: string;
  readonly text: string;
  /** Digests of the turn's non-text parts, in order (see attachmentDigest). */
  readonly attachments?: readonly string[];
}

export interface SemanticConversation {
  /** The system prompt ('' when none); several system messages or blocks joined by newlines. */
  readonly system: string;
  readonly turns: readonly SemanticTurn[];
}

export interface SemanticTextOptions {
  /** Turns before the last user turn to include (0: the last user turn alone). */
  readonly contextTurns: number;
  readonly includeSystem: boolean;
}

/** The text to embed, or undefined when the conversation has no user turn (then it is not cached semantically). */
export function semanticText(conversation: SemanticConversation, options: SemanticTextOptions): string | undefined {
  const window = semanticWindow(conversation, options);
  if (!window) return undefined;
  const system = options.includeSystem ? conversation.system.trim() : '';
  if (window.length === 1 && system === '' && window[0].role === 'user') return render(window[0]);
  const lines: string[] = [];
  if (system !== '') lines.push(`system: ${system}`);
  for (const turn of window) lines.push(`${turn.role}: ${render(turn)}`);
  return lines.join('\n');
}

/** A digest of the non-text parts in the embedded window, '' when there are none. */
export function attachmentKey(conversation: SemanticConversation, options: SemanticTextOptions): string {
  const window = semanticWindow(conversation, options) ?? [];
  const digests = window.flatMap((turn, i) => (turn.attachments ?? []).map((digest) => `${i}:${digest}`));
  if (digests.length === 0) return '';
  return createHash('sha256').update(digests.join('\n')).digest('base64url').slice(0, 22);
}

/** A non-text part's digest (its JSON: the same part, written the same way, gives the same digest). */
export function attachmentDigest(part: unknown): string {
  return createHash('sha256').update(JSON.stringify(part) ?? 'undefined').digest('base64url').slice(0, 22);
}

/** The turns embedded: the last user turn, everything after it, and up to contextTurns before it. */
function semanticWindow(conversation: SemanticConversation, options: SemanticTextOptions): readonly SemanticTurn[] | undefined {
  if (!Number.isInteger(options.contextTurns) || options.contextTurns < 0) throw new RangeError(`semanticText: contextTurns must be a non-negative integer, got ${options.contextTurns}`);
  const turns = conversation.turns;
  let last = turns.length - 1;
  while (last >= 0 && turns[last].role !== 'user') last--;
  if (last < 0) return undefined;
  return turns.slice(Math.max(0, last - options.contextTurns));
}

function render(turn: SemanticTurn): string {
  const text = turn.text.trim();
  if (!turn.attachments || turn.attachments.length === 0) return text;
  const markers = turn.attachments.map((digest) => `[attachment ${digest}]`).join(' ');
  return text === '' ? markers : `${text} ${markers}`;
}
