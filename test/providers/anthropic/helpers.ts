import type { Deployment } from '../../../src/providers/types.ts';

export function deployment(overrides: Partial<Deployment> = {}): Deployment {
  return {
    id: 'claude-main',
    alias: 'claude',
    provider: 'anthropic',
    model: 'claude-sonnet-4-5-20250929',
    apiKey: 'sk-ant-test',
    headers: {},
    weight: 1,
    timeoutMs: 60_000,
    streamTimeoutMs: 30_000,
    connectTimeoutMs: 10_000,
    order: 1,
    healthCheck: true,
    dropParams: false,
    modelInfo: {},
    ...overrides,
  };
}

/** Runs fn and returns the GatewayError-like object it threw. */
export function thrown(fn: () => unknown): { code: string; param: string | null; message: string } {
  try {
    fn();
  } catch (err) {
    return err as { code: string; param: string | null; message: string };
  }
  throw new Error('expected a throw');
}
