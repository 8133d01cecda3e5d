// The "real database" behind the cache: articles and their comments in SQLite (better-sqlite3).
import Database from 'better-sqlite3';

/** Opens (or creates) the database at `file` (':memory:' for a throwaway one) and seeds `articles` articles. */
export function openDb(file = ':memory:', articles = 100) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS articles (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, updated_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS comments (id INTEGER PRIMARY KEY, article_id INTEGER NOT NULL REFERENCES articles(id),
      author TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS comments_by_article ON comments(article_id);`);
  if (db.prepare('SELECT count(*) AS n FROM articles').get().n === 0) {
    const add = db.prepare('INSERT INTO articles (id, title, body, updated_at) VALUES (?, ?, ?, ?)');
    db.transaction(() => {
      for (let i = 1; i <= articles; i++) add.run(i, `Article ${i}`, `Body of article ${i}. `.repeat(20), Date.now());
    })();
  }
  const q = {
    article: db.prepare('SELECT id, title, body, updated_at AS updatedAt FROM articles WHERE id = ?'),
    comments: db.prepare('SELECT id, author, body, created_at AS createdAt FROM comments WHERE article_id = ? ORDER BY id'),
    addComment: db.prepare('INSERT INTO comments (article_id, author, body, created_at) VALUES (?, ?, ?, ?)'),
    update: db.prepare('UPDATE articles SET title = ?, body = ?, updated_at = ? WHERE id = ?'),
  };
  /** Counts the queries that reached SQLite, to show what the cache saved. */
  const stats = { queries: 0 };
  return {
    stats,
    /** An article with its comments, or null. */
    getArticle(id) {
      stats.queries++;
      const a = q.article.get(id);
      return a ? { ...a, comments: q.comments.all(id) } : null;
    },
    /** Adds a comment; returns its id, or null when the article does not exist. */
    addComment(articleId, author, body) {
      stats.queries++;
      if (!q.article.get(articleId)) return null;
      return Number(q.addComment.run(articleId, author, body, Date.now()).lastInsertRowid);
    },
    /** Replaces an article's title and body; false when it does not exist. */
    updateArticle(id, title, body) {
      stats.queries++;
      return q.update.run(title, body, Date.now(), id).changes === 1;
    },
    close: () => db.close(),
  };
}
