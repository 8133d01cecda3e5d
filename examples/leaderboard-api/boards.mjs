// Leaderboards on sorted sets: all-time, weekly and daily boards that expire on their own, atomic
// score increments, rank lookups, stable cursor pagination, per-user history, and an update
// stream on pub/sub.

export const PERIODS = ['daily', 'weekly', 'alltime'];
const DAY = 86_400_000;

/** The ISO week ("2026-W49") a time falls in. */
export function isoWeek(ms) {
  const d = new Date(ms);
  const day = (d.getUTCDay() + 6) % 7; // Monday = 0
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  // The week's Thursday decides the year; its day of that year, the week.
  const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / DAY / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** Encodes a pagination position (the last entry served) as an opaque cursor. */
export function encodeCursor(score, member) {
  return Buffer.from(JSON.stringify([score, member])).toString('base64url');
}

/** Decodes a cursor; null when it is not one of ours. */
export function decodeCursor(cursor) {
  try {
    const [score, member] = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    return typeof score === 'number' && typeof member === 'string' ? { score, member } : null;
  } catch {
    return null;
  }
}

/**
 * Boards for one game. Periodic boards expire `keepDays` days after their period ends, so old
 * boards clean themselves up; `now` is injectable for tests.
 */
export function createBoards({ redis, game = 'game', keepDays = 7, historyLength = 100, now = Date.now }) {
  const channel = `lb:${game}:updates`;

  /** The key of a board for the period containing `at`, and when it may expire (ms, or null). */
  function board(period, at = now()) {
    const d = new Date(at);
    if (period === 'alltime') return { key: `lb:${game}:alltime`, expireAt: null };
    if (period === 'daily') {
      const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      return { key: `lb:${game}:daily:${new Date(start).toISOString().slice(0, 10)}`, expireAt: start + DAY + keepDays * DAY };
    }
    const monday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
    return { key: `lb:${game}:weekly:${isoWeek(at)}`, expireAt: monday + 7 * DAY + keepDays * DAY };
  }

  /** Adds `points` to a user on every board at once (MULTI); returns the new scores by period. */
  async function addScore(user, points) {
    const at = now();
    const m = redis.multi();
    for (const p of PERIODS) {
      const b = board(p, at);
      m.zincrby(b.key, points, user);
      if (b.expireAt !== null) m.pexpireat(b.key, b.expireAt);
    }
    m.lpush(`lb:${game}:history:${user}`, JSON.stringify({ points, at })).ltrim(`lb:${game}:history:${user}`, 0, historyLength - 1);
    const res = await m.exec();
    const scores = {};
    let i = 0;
    for (const p of PERIODS) {
      scores[p] = Number(res[i][1]);
      i += p === 'alltime' ? 1 : 2;
    }
    await redis.publish(channel, JSON.stringify({ user, points, scores, at }));
    return scores;
  }

  /** The top `n` of a board as [{ rank, user, score }]. */
  async function top(period, n) {
    const flat = await redis.zrange(board(period).key, 0, n - 1, 'REV', 'WITHSCORES');
    const out = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ rank: i / 2 + 1, user: flat[i], score: Number(flat[i + 1]) });
    return out;
  }

  /** A user's 1-based rank and score on a board, or null when absent. */
  async function standing(period, user) {
    const key = board(period).key;
    const [[, rank], [, score]] = await redis.multi().zrevrank(key, user).zscore(key, user).exec();
    return rank === null ? null : { rank: rank + 1, score: Number(score) };
  }

  /**
   * One page of a board, highest first, after `cursor` (the last entry of the previous page).
   * The cursor is a position (score, member), not an offset, so a page never repeats or skips an
   * entry that did not move, however many scores change between requests.
   */
  async function page(period, limit, cursor = null) {
    const key = board(period).key;
    let flat;
    if (cursor === null) flat = await redis.zrange(key, 0, limit - 1, 'REV', 'WITHSCORES');
    else {
      // Equal scores are ordered by member, descending under REV: skip those at or before the cursor.
      const tied = await redis.zrange(key, cursor.score, cursor.score, 'BYSCORE');
      const skip = tied.filter((m) => m >= cursor.member).length;
      flat = await redis.zrange(key, cursor.score, '-inf', 'BYSCORE', 'REV', 'LIMIT', skip, limit, 'WITHSCORES');
    }
    const items = [];
    for (let i = 0; i < flat.length; i += 2) items.push({ user: flat[i], score: Number(flat[i + 1]) });
    const last = items.at(-1);
    return { items, next: items.length === limit && last ? encodeCursor(last.score, last.user) : null };
  }

  /** A user's last score changes, newest first. */
  async function history(user, n = 20) {
    return (await redis.lrange(`lb:${game}:history:${user}`, 0, n - 1)).map((s) => JSON.parse(s));
  }

  /** Deletes the current board of a period; true when there was one. */
  async function reset(period) {
    return (await redis.del(board(period).key)) === 1;
  }

  return { board, addScore, top, standing, page, history, reset, channel };
}
