/** Deterministic randomness for the generator: the same scale and seed give the same directory. */

/** mulberry32: a small, fast 32-bit PRNG; returns numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A bijection on 32-bit integers that scatters neighbours (lowbias32). */
export function mix32(x: number): number {
  x = Math.imul((x >>> 0) ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

const BYTE_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const hex8 = (n: number) => BYTE_HEX[(n >>> 24) & 255] + BYTE_HEX[(n >>> 16) & 255] + BYTE_HEX[(n >>> 8) & 255] + BYTE_HEX[n & 255];
const hex4 = (n: number) => BYTE_HEX[(n >>> 8) & 255] + BYTE_HEX[n & 255];
const hex3 = (n: number) => hex4(n).slice(1);

/**
 * A stable, random-looking version-4 UUID for object number `index` of kind `kind`. The first group
 * is a bijection of the index and the second names the kind, so ids never collide.
 */
export function uuidFor(kind: number, index: number, salt: number): string {
  const a = mix32(index ^ salt);
  const b = mix32(a ^ kind);
  const c = mix32(b + 0x9e3779b9);
  return `${hex8(a)}-${hex4(kind ^ (salt & 0xff00))}-4${hex3(b)}-${(8 + (b >>> 30)).toString(16)}${hex3(b >>> 12)}-${hex8(c)}${hex4(b >>> 16)}`;
}

export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
