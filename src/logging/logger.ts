// Structured JSON logs. Lines are buffered and written in batches off the request path,
// because stdout writes to pipes and files are synchronous on Linux.
//
// Secrets and PII never reach the output: every string among a line's fields (upstream error
// texts, tenant and feature names, tags, stack traces) goes through the same redaction as logged
// prompts (src/redaction/redact.ts) before the line is serialized. Messages are the code's own
// constant texts. Numbers, booleans and null pass as they are.

import { redact, redactValue } from '../redaction/redact.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  enabled(level: LogLevel): boolean;
  /** Writes everything still buffered. */
  flush(): void;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Where batches go; defaults to process.stdout. */
  write?: (text: string) => void;
  /** Flush interval for buffered lines. */
  flushMs?: number;
  /** Buffered lines above this are dropped (and counted) rather than growing memory. */
  maxBufferedLines?: number;
}

export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const min = RANK[options.level];
  const maxLines = options.maxBufferedLines ?? 10_000;
  let lines: string[] = [];
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;

  function flush(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (dropped > 0) {
      lines.push(JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: 'log lines dropped: buffer full', dropped }));
      dropped = 0;
    }
    if (lines.length === 0) return;
    const batch = lines.join('\n') + '\n';
    lines = [];
    try {
      write(batch);
    } catch {
      // A broken log sink must never take a request down.
    }
  }

  function log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (RANK[level] < min) return;
    if (lines.length >= maxLines) {
      dropped++;
      return;
    }
    lines.push(JSON.stringify({ time: new Date().toISOString(), level, msg, ...(fields ? redactFields(fields) : undefined) }));
    if (!timer) {
      timer = setTimeout(flush, options.flushMs ?? 50);
      timer.unref();
    }
  }

  return {
    debug: (msg, fields) => log('debug', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
    enabled: (level) => RANK[level] >= min,
    flush,
  };
}

/** The fields with every string in them redacted (a new object; the caller's is not changed). */
function redactFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in fields) {
    const value = fields[key];
    out[key] = typeof value === 'string' ? redact(value) : value !== null && typeof value === 'object' ? redactValue(value) : value;
  }
  return out;
}
