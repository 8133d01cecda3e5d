/** Picks a backend slot per request by the configured algorithm, reading health and in-flight counts from the shared table. */
import type { Algorithm } from './config.js';
import type { BackendTable } from './backend-table.js';

/** FNV-1a over a string: stable across threads and restarts (ip-hash, sticky cookie values). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Cookie value that names a backend for sticky sessions. */
export function stickyToken(url: string): string {
  return fnv1a(url).toString(36);
}

/** The balancer one worker thread uses; every thread sees the same slots, in the same order. */
export class Balancer {
  /** Slots that hold a backend, ascending, so every thread orders candidates alike. */
  private slots: number[] = [];
  private readonly candidates = new Int32Array(64);
  private wrrKey = -1;
  private wrrSequence: number[] = [];
  private readonly tokens = new Map<string, number>();
  private readonly urlHashes = new Uint32Array(64);

  constructor(
    private readonly table: BackendTable,
    public algorithm: Algorithm,
  ) {}

  /** Replaces the known backends (slot → url). */
  setBackends(list: ReadonlyArray<{ slot: number; url: string }>): void {
    this.slots = list.map((b) => b.slot).sort((a, b) => a - b);
    this.tokens.clear();
    for (const b of list) {
      this.tokens.set(stickyToken(b.url), b.slot);
      this.urlHashes[b.slot] = fnv1a(b.url);
    }
    this.wrrKey = -1;
  }

  /** The slot a sticky cookie value names, if that backend can take requests. */
  stickySlot(token: string): number {
    const s = this.tokens.get(token);
    return s !== undefined && this.table.usable(s) ? s : -1;
  }

  /** Returns a usable slot other than `exclude`, or -1 when none is. */
  pick(clientIp: string, exclude: number): number {
    const t = this.table;
    const c = this.candidates;
    let n = 0;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i]!;
      if (s !== exclude && t.usableRelaxed(s)) c[n++] = s;
    }
    if (n === 0) return -1;
    if (n === 1) return c[0]!;
    switch (this.algorithm) {
      case 'round-robin':
        return c[t.nextTicket() % n]!;
      case 'weighted-round-robin':
        return this.weighted(n);
      case 'ip-hash':
        return this.rendezvous(fnv1a(clientIp), n);
      case 'p2c': {
        const a = c[(Math.random() * n) | 0]!;
        let b = c[(Math.random() * (n - 1)) | 0]!;
        if (b === a) b = c[n - 1]!;
        return this.lessLoaded(a, b) ? a : b;
      }
      default: {
        // Start the scan at a rotating offset so ties spread instead of piling onto the lowest slot.
        const start = t.nextTicket() % n;
        let best = c[start]!;
        for (let k = 1; k < n; k++) {
          const s = c[(start + k) % n]!;
          if (this.lessLoaded(s, best)) best = s;
        }
        return best;
      }
    }
  }

  /** Highest-random-weight hashing: a client moves only when its own backend leaves the candidates. */
  private rendezvous(key: number, n: number): number {
    let best = this.candidates[0]!;
    let bestScore = -1;
    for (let i = 0; i < n; i++) {
      const s = this.candidates[i]!;
      const score = fmix32(key ^ this.urlHashes[s]!);
      if (score > bestScore) {
        bestScore = score;
        best = s;
      }
    }
    return best;
  }

  /**
   * inflight(a)/weight(a) < inflight(b)/weight(b), without division, by the effective weight: under load each backend's
   * share of the requests in flight follows its weight, and a slow-starting one's follows its ramp.
   */
  private lessLoaded(a: number, b: number): boolean {
    const t = this.table;
    return t.inflightRelaxed(a) * t.effectiveRelaxed(b) < t.inflightRelaxed(b) * t.effectiveRelaxed(a);
  }

  /** Smooth weighted round-robin (nginx's order), indexed by the shared ticket so proportions are exact across threads. */
  private weighted(n: number): number {
    const t = this.table;
    let key = 0;
    for (let i = 0; i < n; i++) key = (Math.imul(key ^ c32(this.candidates[i]!), 31) + t.weight(this.candidates[i]!)) | 0;
    if (key !== this.wrrKey) {
      this.wrrKey = key;
      const slots = Array.from(this.candidates.subarray(0, n));
      const weights = slots.map((s) => t.weight(s));
      const total = weights.reduce((a, b) => a + b, 0);
      const current = new Array<number>(n).fill(0);
      this.wrrSequence = [];
      for (let step = 0; step < total; step++) {
        let best = 0;
        for (let i = 0; i < n; i++) {
          current[i]! += weights[i]!;
          if (current[i]! > current[best]!) best = i;
        }
        current[best]! -= total;
        this.wrrSequence.push(slots[best]!);
      }
    }
    return this.wrrSequence[t.nextTicket() % this.wrrSequence.length]!;
  }
}

/** murmur3's finalizer: spreads the bits of a 32-bit key. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function c32(x: number): number {
  return (x + 0x9e3779b9) | 0;
}
