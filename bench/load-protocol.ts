/** Messages between bench/run.ts and the load-client process (bench/load-client.ts). */
import type { Summary } from './stats.ts';

/** One request shape, serialised once by the orchestrator. */
export interface RequestSpec {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Everything the load client needs to hit one path (direct, a gateway, the peer). */
export interface TargetSpec {
  name: string;
  origin: string;
  /** Non-streaming request answered at once. */
  plain: RequestSpec;
  /** Non-streaming request the upstream answers after a fixed delay. */
  delayed: RequestSpec;
  /** Streaming request (stream: true, include_usage). */
  stream: RequestSpec;
}

export interface LatencyCommand {
  kind: 'latency';
  target: TargetSpec;
  variant: 'plain' | 'delayed';
  warmup: number;
  count: number;
  maxMs: number;
}

export interface ThroughputCommand {
  kind: 'throughput';
  target: TargetSpec;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

export interface StreamCommand {
  kind: 'stream';
  target: TargetSpec;
  warmup: number;
  count: number;
  maxMs: number;
}

export type LoadCommand = LatencyCommand | ThroughputCommand | StreamCommand;

export interface LatencyResult {
  /** Whole-request time (send → last body byte) in µs. */
  latency: Summary;
  errors: number;
  firstError?: string;
}

export interface ThroughputResult {
  concurrency: number;
  completed: number;
  errors: number;
  elapsedMs: number;
  rps: number;
  latency: Summary;
  firstError?: string;
}

export interface StreamResult {
  /** Send → first body byte, µs. */
  ttfb: Summary;
  /** Per request: mean gap between consecutive SSE events, µs. */
  interChunk: Summary;
  /** Send → last body byte, µs. */
  total: Summary;
  /** Per request: number of SSE events received. */
  events: Summary;
  errors: number;
  firstError?: string;
}

export interface CommandResultMap {
  latency: LatencyResult;
  throughput: ThroughputResult;
  stream: StreamResult;
}

export interface RequestMessage {
  id: number;
  command: LoadCommand;
}

export interface ResponseMessage {
  id: number;
  result?: unknown;
  error?: string;
}
