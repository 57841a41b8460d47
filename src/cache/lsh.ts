// Random-hyperplane locality-sensitive hashing (SimHash) for cosine similarity: `tables` hash
// tables, each keyed by the signs of `bits` projections on random Gaussian hyperplanes. Two
// vectors at angle θ agree on one sign with probability 1 − θ/π (0.899 at cosine 0.95), so on a
// table's key with probability (1 − θ/π)^bits. A lookup also probes, in every table, `probes`
// more keys: its own with one or two of the least certain bits flipped (those whose projection
// is nearest 0), likeliest first. That is multi-probe LSH: the recall of more tables without
// their memory. A lookup costs tables × bits × dims multiply-adds for the projections (only the
// non-zero components of a sparse vector count).
//
// The planes come from a seeded generator, so a family is the same in every process; families
// are shared by every index with the same parameters (one per store, not one per namespace).

/** Probes flip one or two of a table's FLIP_BITS least certain bits. */
const FLIP_BITS = 8;

export interface LshParameters {
  readonly dims: number;
  readonly tables: number;
  /** Bits per table key, 1..30. */
  readonly bits: number;
  /** Extra probes per table on lookups (one or two bits flipped), 0..36. */
  readonly probes: number;
  readonly seed: number;
}

export class LshFamily {
  readonly params: LshParameters;
  /** tables × bits planes of dims components each. */
  readonly #planes: Float32Array;
  readonly #projections: Float64Array;
  readonly #nonZero: Int32Array;
  readonly #nonZeroValue: Float64Array;
  readonly #order: Int32Array;
  readonly #scores: Float64Array;
  readonly #masks: Int32Array;

  constructor(params: LshParameters) {
    const { dims, tables, bits, probes } = params;
    if (!Number.isInteger(dims) || dims < 1) throw new RangeError(`LSH: dims must be a positive integer, got ${dims}`);
    if (!Number.isInteger(tables) || tables < 1 || tables > 64) throw new RangeError(`LSH: tables must be in 1..64, got ${tables}`);
    if (!Number.isInteger(bits) || bits < 1 || bits > 30) throw new RangeError(`LSH: bits must be in 1..30, got ${bits}`);
    const most = (Math.min(bits, FLIP_BITS) * (Math.min(bits, FLIP_BITS) + 1)) / 2;
    if (!Number.isInteger(probes) || probes < 0 || probes > most) throw new RangeError(`LSH: probes must be in 0..${most}, got ${probes}`);
    this.params = params;
    this.#planes = gaussians(tables * bits * dims, params.seed);
    this.#projections = new Float64Array(tables * bits);
    this.#order = new Int32Array(bits);
    this.#nonZero = new Int32Array(dims);
    this.#nonZeroValue = new Float64Array(dims);
    const flips = Math.min(bits, FLIP_BITS);
    this.#scores = new Float64Array((flips * (flips + 1)) / 2);
    this.#masks = new Int32Array(this.#scores.length);
  }

  /** The vector's key in every table (into `keys`, from `at`). */
  keys(vector: Float32Array, keys: Int32Array, at = 0): void {
    this.#project(vector);
    const { tables, bits } = this.params;
    for (let t = 0; t < tables; t++) keys[at + t] = this.#key(t * bits);
  }

  /**
   * The keys a lookup probes, probe-major: `probes[p * tables + t]` is table t's p-th key: p = 0
   * the vector's own key, then the key with one or two of its least certain bits flipped, most
   * likely first (smallest sum of squared projections flipped). `probes` has room for
   * (params.probes + 1) × tables keys.
   */
  probeKeys(vector: Float32Array, probes: Int32Array): void {
    this.#project(vector);
    const { tables, bits } = this.params;
    const p = this.#projections;
    const order = this.#order;
    const scores = this.#scores;
    const masks = this.#masks;
    const m = Math.min(bits, FLIP_BITS);
    for (let t = 0; t < tables; t++) {
      const base = t * bits;
      const key = this.#key(base);
      probes[t] = key;
      if (this.params.probes === 0) continue;
      // The m bits with the smallest |projection|, ascending (insertion sort).
      let found = 0;
      for (let b = 0; b < bits; b++) {
        const margin = p[base + b] * p[base + b];
        if (found === m && margin >= p[base + order[m - 1]] ** 2) continue;
        let j = Math.min(found, m - 1);
        while (j > 0 && p[base + order[j - 1]] ** 2 > margin) {
          order[j] = order[j - 1];
          j--;
        }
        order[j] = b;
        if (found < m) found++;
      }
      // Their single and double flips, by score; the first `probes` of them.
      let n = 0;
      for (let i = 0; i < m; i++) {
        const zi = p[base + order[i]] ** 2;
        scores[n] = zi;
        masks[n++] = 1 << order[i];
        for (let j = i + 1; j < m; j++) {
          scores[n] = zi + p[base + order[j]] ** 2;
          masks[n++] = (1 << order[i]) | (1 << order[j]);
        }
      }
      for (let q = 0; q < this.params.probes; q++) {
        let at = q;
        for (let r = q + 1; r < n; r++) if (scores[r] < scores[at]) at = r;
        [scores[q], scores[at]] = [scores[at], scores[q]];
        [masks[q], masks[at]] = [masks[at], masks[q]];
        probes[(q + 1) * tables + t] = key ^ masks[q];
      }
    }
  }

  /** Every plane's projection; a sparse vector (the lexical embedder's, for short texts) by its non-zero components only. */
  #project(vector: Float32Array): void {
    const { dims } = this.params;
    if (vector.length !== dims) throw new RangeError(`LSH: expected a vector of ${dims} dimensions, got ${vector.length}`);
    const planes = this.#planes;
    const out = this.#projections;
    const index = this.#nonZero;
    const value = this.#nonZeroValue;
    let nnz = 0;
    for (let d = 0; d < dims; d++) {
      if (vector[d] !== 0) {
        index[nnz] = d;
        value[nnz++] = vector[d];
      }
    }
    for (let j = 0, at = 0; j < out.length; j++, at += dims) {
      let sum = 0;
      if (nnz * 4 > dims * 3) for (let d = 0; d < dims; d++) sum += planes[at + d] * vector[d];
      else for (let k = 0; k < nnz; k++) sum += planes[at + index[k]] * value[k];
      out[j] = sum;
    }
  }

  #key(base: number): number {
    let key = 0;
    for (let b = 0; b < this.params.bits; b++) if (this.#projections[base + b] >= 0) key |= 1 << b;
    return key;
  }
}

const families = new Map<string, LshFamily>();

/** The shared family for these parameters. */
export function lshFamily(params: LshParameters): LshFamily {
  const id = `${params.dims}/${params.tables}/${params.bits}/${params.probes}/${params.seed}`;
  let family = families.get(id);
  if (!family) families.set(id, (family = new LshFamily(params)));
  return family;
}

/**
 * The most sign disagreements, of n planes, that a vector at cosine `threshold` to the query
 * exceeds with probability below `tail`: each plane disagrees independently with probability
 * θ/π, so the count is Binomial(n, θ/π).
 */
export function maxDisagreements(n: number, threshold: number, tail: number): number {
  const f = Math.acos(Math.max(-1, Math.min(1, threshold))) / Math.PI;
  if (f === 0) return 0;
  if (f >= 1) return n;
  let sum = 0;
  let m = n;
  for (; m > 0; m--) {
    sum += Math.exp(logChoose(n, m) + m * Math.log(f) + (n - m) * Math.log(1 - f));
    if (sum > tail) break;
  }
  return m;
}

export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** ln C(n, k). */
function logChoose(n: number, k: number): number {
  let sum = 0;
  for (let i = 1; i <= k; i++) sum += Math.log((n - k + i) / i);
  return sum;
}

/** `n` standard normal samples from a seeded generator (mulberry32, Box–Muller). */
function gaussians(n: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297; // in (0, 1)
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const phi = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(phi);
    if (i + 1 < n) out[i + 1] = r * Math.sin(phi);
  }
  return out;
}
