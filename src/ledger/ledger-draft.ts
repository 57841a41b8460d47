import type { Deployment, Usage } from '../providers/types.ts';
import type { AttemptRecord } from '../routing/attempt-log.ts';

/**
 * What the ledger records about one model call, filled in by the stages as they learn it (the
 * route its endpoint, the router who served and how, the response its usage). The app turns it
 * into a LedgerEvent when the response closes. Plain fields, no I/O.
 */
export interface LedgerDraft {
  readonly endpoint: 'chat.completions' | 'messages' | 'embeddings';
  stream: boolean;
  /** The alias the client named. */
  alias?: string;
  /** The deployment that served (or answered last). */
  deployment?: Deployment;
  usage?: Usage;
  /** Output tokens Tollgate estimated (a stream that broke without usage). */
  estimatedOutputTokens?: number;
  /** Input tokens Tollgate estimated, when no usage came back from a call the provider accepted. */
  estimatedInputTokens?: number;
  /** performance.now() when the serving attempt was sent, and when its response ended. */
  providerStartedAt?: number;
  providerEndedAt?: number;
  ttftMs?: number;
  vendorRequestId?: string;
  attempts?: readonly AttemptRecord[];
  /** The error the client got (an error status, or an error event after a stream's first byte). */
  errorCode?: string;
  /** The limit that refused the call (e.g. `requests_per_minute:key`). */
  limitTier?: string;
  cacheHit?: boolean;
  /** Set when this call's prompt and completion are logged (ledger.prompt_logging): what to keep. */
  capture?: PromptCapture;
  /**
   * What the guardrails decided for this call (absent: no guardrail policy applied). `detectors`
   * names what fired, as `<input|output>:<detector>` (e.g. `input:pii.email`,
   * `output:secret.jwt`, `input:scanner_unavailable:lakera`); never the matched text. The event
   * records it as outcome.guardrail_verdict and outcome.guardrail_detectors.
   */
  guardrail?: { verdict: 'pass' | 'flag' | 'redact' | 'block'; detectors: string[] };
}

/** A logged call's prompt (the request body as parsed) and its completion (text, or the stream's event data). */
export interface PromptCapture {
  prompt?: unknown;
  completion?: string;
  /** A stream's event data, in order; its text is taken out after the call (never on its path). */
  readonly events: string[];
}
