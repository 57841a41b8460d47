// The cooldown that keeps a rule from flapping, per rule and subject (a provider, a tenant, a
// deployment…).
//
// Windowed rules are tracked as episodes. An episode opens when the rule's condition starts to
// hold, and the alert is sent then, once. It stays open while the condition holds, and also
// while it flickers: it ends only after the condition has been clear for the whole cooldown,
// and only then may a new episode (and a new alert) start. So an error rate hovering around
// its threshold sends one alert, not one per evaluation, and two alerts for the same rule and
// subject are always at least a cooldown apart. When an episode ends, a "resolved" message
// may follow (only for alerts that were sent from here).
//
// Event rules (budget crossed, deployment entered cooldown) have no condition that ends: an
// event is sent unless the same rule and subject was sent less than a cooldown ago.

import type { Alert } from './alert.ts';
import { alertKey } from './alert-rules.ts';

interface Episode {
  last: Alert;
  /** When the condition was first seen clear (undefined while it holds). */
  clearSince?: number;
  /** The opening alert was sent from this replica (so its end is announced from here too). */
  sent: boolean;
}

/** Event keys remembered at most; the oldest go first beyond it (they are past their cooldown by then, or nearly). */
const MAX_EVENT_KEYS = 10_000;

export class AlertEpisodes {
  readonly #cooldownMs: number;
  readonly #episodes = new Map<string, Episode>();
  readonly #events = new Map<string, number>();

  constructor(cooldownMs: number) {
    this.#cooldownMs = cooldownMs;
  }

  /**
   * One evaluation round, given the alerts whose condition holds now: those that open an
   * episode (to be sent) and the last alerts of episodes that ended (to be resolved).
   */
  update(firing: readonly Alert[], now: number): { opened: Alert[]; ended: Array<{ alert: Alert; sent: boolean }> } {
    const opened: Alert[] = [];
    const ended: Array<{ alert: Alert; sent: boolean }> = [];
    const holding = new Set<string>();
    for (const alert of firing) {
      const key = alertKey(alert.rule, alert.subject);
      holding.add(key);
      const episode = this.#episodes.get(key);
      if (episode) {
        episode.last = alert;
        delete episode.clearSince;
      } else {
        this.#episodes.set(key, { last: alert, sent: false });
        opened.push(alert);
      }
    }
    for (const [key, episode] of this.#episodes) {
      if (holding.has(key)) continue;
      episode.clearSince ??= now;
      if (now - episode.clearSince < this.#cooldownMs) continue;
      this.#episodes.delete(key);
      ended.push({ alert: episode.last, sent: episode.sent });
    }
    return { opened, ended };
  }

  /** The opening alert of the episode went out from here. */
  markSent(alert: Alert): void {
    const episode = this.#episodes.get(alertKey(alert.rule, alert.subject));
    if (episode) episode.sent = true;
  }

  /** Episodes open now (tests, stats). */
  openCount(): number {
    return this.#episodes.size;
  }

  /** An event alert: true (and remembered) unless the same key was sent less than a cooldown ago. */
  allowEvent(key: string, now: number): boolean {
    const last = this.#events.get(key);
    if (last !== undefined && now - last < this.#cooldownMs && now >= last) return false;
    this.#events.delete(key); // re-inserted last: the map stays in sending order
    if (this.#events.size >= MAX_EVENT_KEYS) this.sweep(now);
    if (this.#events.size >= MAX_EVENT_KEYS) this.#events.delete(this.#events.keys().next().value!);
    this.#events.set(key, now);
    return true;
  }

  /** Forgets event keys whose cooldown has passed. */
  sweep(now: number): void {
    for (const [key, at] of this.#events) {
      if (now - at >= this.#cooldownMs) this.#events.delete(key);
      else break; // in sending order: the rest are newer
    }
  }
}
