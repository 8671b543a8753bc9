import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

/**
 * A seeded random source for the simulator. Every stochastic choice goes through one of these,
 * and each tenant draws from its own stream (`fork`), so adding a tenant to a scenario leaves
 * the other tenants' demand unchanged and a seed reproduces a report exactly.
 */
export class Rng {
  private constructor(private readonly generator: RandomGenerator) {}

  static seeded(seed: number): Rng {
    return new Rng(xoroshiro128plus(seed | 0));
  }

  /** An independent stream derived from this seed and a label (FNV-1a of the label). */
  static stream(seed: number, label: string): Rng {
    let hash = 0x811c9dc5;
    for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), 0x01000193);
    return Rng.seeded((seed ^ hash) | 0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return uniformFloat64(this.generator);
  }

  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** Standard normal by Box-Muller (one of the pair is discarded: simpler than caching, and cheap). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  weighted<T>(values: readonly T[], weights?: readonly number[]): T {
    if (values.length === 0) throw new RangeError('weighted: no values');
    const w = weights ?? values.map(() => 1);
    const total = w.reduce((a, b) => a + b, 0);
    let x = this.next() * total;
    for (let i = 0; i < values.length; i++) {
      x -= w[i];
      if (x < 0) return values[i];
    }
    return values[values.length - 1];
  }
}
