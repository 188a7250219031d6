import { randomBytes } from "node:crypto";

// Crockford base32, as ULID uses: sortable as text, no ambiguous letters.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * A ULID-like id: 10 characters of millisecond time then 16 of randomness, so ids sort by
 * creation time (useful in logs and as a keyset tie-breaker) and never collide in practice.
 */
export function newId(now: number = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(16);
  let rand = "";
  for (let i = 0; i < 16; i++) rand += ALPHABET[bytes[i]! % 32]!;
  return time + rand;
}
