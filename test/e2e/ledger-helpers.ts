// Shared bits of the cost-ledger end-to-end suites (test/e2e/ledger-*.test.ts): polling the
// ledger's admin API until the asynchronous writer has flushed, and exact money arithmetic in
// integer pico-dollars (the ledger's own unit, src/ledger/sinks/ledger-rows.ts).

import assert from 'node:assert/strict';
import { adminRequest, type AdminAnswer } from '../helpers/admin-request.ts';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns something other than undefined, or fails after `timeoutMs` with `what`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5_000, stepMs = 25): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String((last as Error)?.message ?? last)})` : ''}`);
    await sleep(stepMs);
  }
}

/** Every ledger event of the gateway (all pages of GET /admin/requests). */
export async function allEvents(url: string, masterKey: string): Promise<any[]> {
  const events: any[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page: AdminAnswer = await adminRequest(url, masterKey, 'GET', `/admin/requests?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(page.status, 200, JSON.stringify(page.json));
    events.push(...page.json.data);
    if (!page.json.next) return events;
    cursor = page.json.next;
  }
}

/** Waits until the ledger holds at least `count` events, then returns them all. */
export async function waitForEvents(url: string, masterKey: string, count: number, timeoutMs = 5_000): Promise<any[]> {
  return eventually(`${count} ledger events`, async () => {
    const events = await allEvents(url, masterKey);
    return events.length >= count ? events : undefined;
  }, timeoutMs);
}

/** Waits until GET /admin/requests/{id} answers 200; returns the event. */
export async function waitForEvent(url: string, masterKey: string, requestId: string, timeoutMs = 5_000): Promise<any> {
  return eventually(`the ledger event of ${requestId}`, async () => {
    const answer = await adminRequest(url, masterKey, 'GET', `/admin/requests/${encodeURIComponent(requestId)}`);
    return answer.status === 200 ? answer.json : undefined;
  }, timeoutMs);
}

/** Dollars per token → integer pico-dollars per token (exact for the prices these suites use). */
export function picoPerToken(usd: number): number {
  const pico = Math.round(usd * 1e12);
  assert.ok(Math.abs(pico - usd * 1e12) < 1e-6, `price ${usd} is not a whole number of pico-dollars per token`);
  return pico;
}

/** Integer pico-dollars → dollars, as the ledger reports them. */
export function usdOfPico(pico: number): number {
  return pico / 1e12;
}
