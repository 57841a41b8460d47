import type { GuardrailVerdict, LedgerEvent, LedgerStatus } from './ledger-event.ts';

/**
 * Where ledger events go. write() takes a batch; it is idempotent on event_id (writing an
 * event twice keeps one row), because batches are retried and spooled batches replayed.
 * It rejects when the batch could not be stored (the writer then spools it).
 */
export interface LedgerSink {
  /** A short stable name (e.g. "sqlite", "postgres", "jsonl"), used for spool files and metrics. */
  readonly name: string;
  /**
   * `lines`, when given, holds JSON.stringify(events[i]) for each event (the writer makes it once
   * for the write-ahead log): a sink that stores or ships the JSON text uses it rather than
   * serialize the event again.
   */
  write(events: readonly LedgerEvent[], lines?: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export type SpendDimension = 'tenant' | 'feature' | 'model' | 'key' | 'team' | 'day' | 'provider' | 'deployment';

export interface SpendQuery {
  readonly groupBy: readonly SpendDimension[];
  /** ISO timestamps; from inclusive, to exclusive. */
  readonly from?: string;
  readonly to?: string;
  readonly filters: Partial<Record<'tenant' | 'feature' | 'model' | 'key' | 'team' | 'provider', string>>;
}

export interface SpendRow {
  /** The group's values, by dimension (day as YYYY-MM-DD). */
  readonly group: Readonly<Partial<Record<SpendDimension, string | null>>>;
  readonly requests: number;
  readonly errors: number;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cached_input_tokens: number;
  readonly total_tokens: number;
  readonly cost_usd: number;
  readonly saved_usd: number;
}

export interface RequestQuery {
  readonly from?: string;
  readonly to?: string;
  readonly filters: Partial<Record<'tenant' | 'feature' | 'model' | 'key' | 'team' | 'user' | 'status', string>>;
  readonly limit: number;
  /** Continue after this (timestamp, event_id) cursor, newest first. */
  readonly before?: { readonly timestamp: string; readonly eventId: string };
}

/** The verdicts Security reviews: every guardrail verdict but pass. */
export type FlaggedVerdict = Exclude<GuardrailVerdict, 'pass'>;
export const FLAGGED_VERDICTS = ['flag', 'redact', 'block'] as const satisfies readonly FlaggedVerdict[];

/** Calls the guardrails flagged, redacted or blocked (guardrailEvents). */
export interface GuardrailEventQuery {
  readonly from?: string;
  readonly to?: string;
  /** Only these verdicts; absent or empty: flag, redact and block. */
  readonly verdicts?: readonly FlaggedVerdict[];
  /** tenant_id, team_id, key_id, model_alias: exact values. */
  readonly filters: Partial<Record<'tenant' | 'team' | 'key' | 'model', string>>;
  /** Only calls with a detector whose name contains this text (case-sensitive; a whole name matches too). */
  readonly detector?: string;
  readonly limit: number;
  /** Continue after this (timestamp, event_id) cursor, newest first. */
  readonly before?: { readonly timestamp: string; readonly eventId: string };
}

/** One flagged, redacted or blocked call, from the ledger's columns: who, what, the verdict, never prompt text. */
export interface GuardrailEventRow {
  readonly request_id: string;
  readonly event_id: string;
  /** When the request arrived, as a UTC ISO timestamp (milliseconds). */
  readonly timestamp: string;
  readonly tenant_id: string | null;
  readonly team_id: string | null;
  readonly key_id: string | null;
  /** The model alias the client named (the event's model_alias). */
  readonly alias: string | null;
  readonly endpoint: string;
  readonly status: LedgerStatus;
  readonly guardrail_verdict: FlaggedVerdict;
  readonly guardrail_detectors: string[];
  readonly error_code: string | null;
}

/** A sink that can be queried (the SQL ones): spend reports and audit queries. */
export interface LedgerReader {
  spend(query: SpendQuery): Promise<SpendRow[]>;
  requests(query: RequestQuery): Promise<LedgerEvent[]>;
  request(requestId: string): Promise<LedgerEvent | undefined>;
  /** Flagged, redacted and blocked calls, newest first (by timestamp, then event_id). */
  guardrailEvents(query: GuardrailEventQuery): Promise<GuardrailEventRow[]>;
}
