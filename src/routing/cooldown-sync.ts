// How replicas agree on cooldowns. The replica whose breaker trips publishes the cooldown;
// every replica applies it to its own breaker (no shared read on the request path). The
// half-open probe is claimed through the sync, so one probe goes out across all replicas.

/** A cooldown that started (`open`, until epoch ms) or ended (`closed`) on some replica. */
export interface CooldownEvent {
  readonly deployment: string;
  readonly state: 'open' | 'closed';
  /** Epoch ms the cooldown ends (open events). */
  readonly until?: number;
  readonly reason?: string;
}

export interface CooldownSync {
  /** Tells the other replicas; fire and forget, never throws. */
  publish(event: CooldownEvent): void;
  /**
   * Claims the half-open probe of `deployment` for `ttlMs` across replicas. Resolves false when
   * another replica holds it; true when this one got it, or when the shared store cannot be
   * reached (each replica then probes on its own rather than none probing at all).
   */
  claimProbe(deployment: string, ttlMs: number): Promise<boolean>;
  /** This replica's probe ended without a verdict (its client left): another may probe. Fire and forget. */
  releaseProbe(deployment: string): void;
  /** Cooldowns in force now, to seed a replica that starts (or reconnects) mid-cooldown. */
  current(): Promise<CooldownEvent[]>;
  close(): Promise<void>;
}

/** A single instance: its own breakers are the whole truth. */
export const localCooldownSync: CooldownSync = {
  publish() {},
  claimProbe: async () => true,
  releaseProbe() {},
  current: async () => [],
  close: async () => {},
};
