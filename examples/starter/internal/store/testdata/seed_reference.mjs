// Reference implementation of the original starter's demo CRM seeding, in
// JavaScript so that the numbers come from V8 itself (Math.imul, >>>,
// Math.round, IEEE doubles), written from the description in
// shared/reference/seed-starter.md §2:
//
//   RNG: mulberry32 seeded with sha256(user_key).readUInt32LE(0).
//   dealCount = 40 + floor(r*40).
//   Per deal, in order: year (r < 0.55 ? 2025 : 2024), month floor(r*12),
//   day 1 + floor(r*28), stage pick([won, lost, open]), base 800 + r*18000,
//   account pick([Acme Co, Globex, Initech, Umbrella, Stark Industries,
//   Wayne Enterprises]). Amount: round(base * (open ? 0.7 : 1) * 100) cents.
//
// Usage: node seed_reference.mjs <user_key>...
// Prints one JSON object: {"deals": {<user_key>: [{account, amount_cents,
// close_date, stage}, ...]}, "rng": {<user_key>: [first 8 draws]},
// "round": [[x, Math.round(x)], ...]}. Deal ids are random and left out.
import { createHash } from "node:crypto";

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rngFor(userKey) {
  return mulberry32(createHash("sha256").update(userKey, "utf8").digest().readUInt32LE(0));
}

const pad = (n, w) => String(n).padStart(w, "0");
const pick = (r, arr) => arr[Math.floor(r() * arr.length)];

function deals(userKey) {
  const r = rngFor(userKey);
  const accounts = ["Acme Co", "Globex", "Initech", "Umbrella", "Stark Industries", "Wayne Enterprises"];
  const stages = ["won", "lost", "open"];
  const count = 40 + Math.floor(r() * 40);
  const out = [];
  for (let i = 0; i < count; i++) {
    const year = r() < 0.55 ? 2025 : 2024;
    const month = Math.floor(r() * 12);
    const day = 1 + Math.floor(r() * 28);
    const stage = pick(r, stages);
    const base = 800 + r() * 18000;
    const account = pick(r, accounts);
    const d = new Date(Date.UTC(year, month, day));
    out.push({
      account,
      amount_cents: Math.round(base * (stage === "open" ? 0.7 : 1) * 100),
      close_date: `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`,
      stage,
    });
  }
  return out;
}

const keys = process.argv.slice(2);
const result = { deals: {}, rng: {}, round: [] };
for (const k of keys) {
  result.deals[k] = deals(k);
  const r = rngFor(k);
  result.rng[k] = Array.from({ length: 8 }, () => r());
}
for (const x of [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, 4503599627370495.5, 123456.5, 1e-300, -1e-300]) {
  result.round.push([x, Math.round(x)]);
}
process.stdout.write(JSON.stringify(result) + "\n");
