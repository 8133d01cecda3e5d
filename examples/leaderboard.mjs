// A game leaderboard on Sabre's sorted sets, with ioredis.
// Usage: node dist/cli.js server --port 6380 &  then  node examples/leaderboard.mjs [port]
// (without a port it starts a Sabre server itself on a free port and stops it at the end).
import { Redis } from 'ioredis';
import { startSabre } from './lib/sabre.mjs';

const BOARD = 'leaderboard:season-1';

/** Adds players or replaces their scores. */
async function setScores(r, scores) {
  const args = [];
  for (const [player, score] of Object.entries(scores)) args.push(score, player);
  return r.zadd(BOARD, ...args);
}

/** Atomically adds points to a player's score; returns the new score. */
async function addPoints(r, player, points) {
  return Number(await r.zincrby(BOARD, points, player));
}

/** Keeps a score only if it beats the player's best (ZADD GT). */
async function submitBest(r, player, score) {
  return (await r.zadd(BOARD, 'GT', 'CH', score, player)) === 1;
}

/** The top N as [{ rank, player, score }], highest first. */
async function top(r, n) {
  const flat = await r.zrange(BOARD, 0, n - 1, 'REV', 'WITHSCORES');
  const out = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ rank: i / 2 + 1, player: flat[i], score: Number(flat[i + 1]) });
  return out;
}

/** One page of the ranking (1-based page numbers). */
async function page(r, pageNo, pageSize) {
  const start = (pageNo - 1) * pageSize;
  const flat = await r.zrange(BOARD, start, start + pageSize - 1, 'REV', 'WITHSCORES');
  const out = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ rank: start + i / 2 + 1, player: flat[i], score: Number(flat[i + 1]) });
  return out;
}

/** A player's 1-based rank and score, or null when not on the board. */
async function standing(r, player) {
  const [[, rank], [, score]] = await r.pipeline().zrevrank(BOARD, player).zscore(BOARD, player).exec();
  return rank === null ? null : { rank: rank + 1, score: Number(score) };
}

/** Players around a given player (n above and below). */
async function around(r, player, n) {
  const rank = await r.zrevrank(BOARD, player);
  if (rank === null) return [];
  return page(r, 1, rank + n + 1).then((all) => all.slice(Math.max(0, rank - n)));
}

const given = process.argv[2] ? Number(process.argv[2]) : 0;
const server = given ? null : await startSabre();
const r = new Redis({ port: given || server.port, host: '127.0.0.1' });
try {
  await r.del(BOARD);
  await setScores(r, { alice: 1200, bob: 950, carol: 1830, dave: 700, erin: 1410 });
  for (let i = 0; i < 1000; i++) await r.zadd(BOARD, Math.floor(Math.random() * 1000), `bot:${i}`);
  console.log('top 3:', await top(r, 3));
  console.log('bob +500 →', await addPoints(r, 'bob', 500));
  console.log('dave submits 650 (kept only if better):', await submitBest(r, 'dave', 650));
  console.log('dave submits 1990:', await submitBest(r, 'dave', 1990));
  console.log('bob:', await standing(r, 'bob'));
  console.log('page 2 (size 5):', await page(r, 2, 5));
  console.log('around erin:', await around(r, 'erin', 1));
  // Concurrent increments from many clients stay exact: ZINCRBY is atomic.
  const clients = Array.from({ length: 8 }, () => new Redis({ port: given || server.port, host: '127.0.0.1' }));
  await Promise.all(clients.map((c) => Promise.all(Array.from({ length: 100 }, () => c.zincrby(BOARD, 1, 'carol')))));
  for (const c of clients) c.disconnect();
  console.log('carol after 800 concurrent +1:', await standing(r, 'carol'));
  console.log('players on the board:', await r.zcard(BOARD));
} finally {
  r.disconnect();
  await server?.stop();
}
