// The contract of an external guardrail scanner: a service (a tenant's own webhook, Lakera Guard,
// an LLM Guard API server) asked over HTTP whether a prompt or a completion is safe. Unlike the
// built-in detectors it is async, bounded by a timeout, and may be down: every failure rejects with
// ScannerUnavailable, whose reason the caller maps to the tenant's policy (fail open: pass the
// text on; fail closed: refuse it). A scanner never rejects with anything else, and no message it
// makes holds its API key or its URL (only the configured name and a fixed description).

import type { Finding, TextRole } from '../detector.ts';

export type ScanDirection = 'input' | 'output';

export interface ScanMessage {
  readonly role: TextRole;
  readonly text: string;
}

export interface ScanInput {
  /** input: the prompt before it goes upstream; output: the completion before it goes back. */
  readonly direction: ScanDirection;
  /**
   * In conversation order. For direction 'output', the messages with role 'completion' are the
   * model's answer and the others (if any) the prompt it answered, sent for context.
   */
  readonly messages: readonly ScanMessage[];
  /** Sent to services that take them (the webhook), for their logs; null when absent. */
  readonly requestId?: string;
  readonly tenant?: string;
}

export interface ScanFinding extends Finding {
  /**
   * The message (index into ScanInput.messages) the finding is in, when the service says. The
   * span [start, end) is in that message's text; 0,0 when the service gave no span.
   */
  readonly messageIndex?: number;
}

export interface ScanVerdict {
  readonly findings: ScanFinding[];
  /** The service judged the text unsafe (the tenant's action, block / redact / flag, applies). */
  readonly flagged: boolean;
  /** The service itself asked for a block (the webhook's "block" verdict). */
  readonly block?: boolean;
}

/**
 * Why a scan gave no verdict: timed out (the scanner's timeout_ms), unreachable (refused, reset,
 * DNS), bad_response (not the service's JSON, or too large), aborted (the caller's signal), or
 * http_<status> for any non-2xx answer (http_429, http_500…).
 */
export type UnavailableReason = 'timeout' | 'unreachable' | 'bad_response' | 'aborted' | `http_${number}`;

export class ScannerUnavailable extends Error {
  /** The scanner's configured name. */
  readonly scanner: string;
  readonly reason: UnavailableReason;

  constructor(scanner: string, reason: UnavailableReason, detail: string) {
    super(`guardrail scanner "${scanner}" is unavailable (${reason}): ${detail}`);
    this.name = 'ScannerUnavailable';
    this.scanner = scanner;
    this.reason = reason;
  }
}

export interface ExternalScanner {
  /** The configured name (logs, metrics, the ledger). */
  readonly name: string;
  /** Resolves with the service's verdict; rejects only with ScannerUnavailable. */
  scan(input: ScanInput, signal?: AbortSignal): Promise<ScanVerdict>;
  /** Drops the scanner's connections (scans in flight fail with ScannerUnavailable). */
  close(): Promise<void>;
}

/** What every adapter is built from (scanner-schema.ts turns the config into this). */
export interface ScannerOptions {
  readonly name: string;
  /** The webhook's full URL, or the service's base URL (the adapter appends its API's path). */
  readonly url: string;
  /** Sent as `Authorization: Bearer <apiKey>` when set. */
  readonly apiKey?: string;
  /** One scan, from connecting to the end of the answer. */
  readonly timeoutMs: number;
}
