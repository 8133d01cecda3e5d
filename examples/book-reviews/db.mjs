// Books and reviews in SQLite (better-sqlite3): the system of record behind the cache.
import Database from 'better-sqlite3';

/** Opens the database at `file` (':memory:' by default) and seeds `books` books once. */
export function openDb(file = ':memory:', books = 200) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, author TEXT NOT NULL, year INTEGER NOT NULL, isbn TEXT NOT NULL UNIQUE);
    CREATE TABLE IF NOT EXISTS reviews (id INTEGER PRIMARY KEY, book_id INTEGER NOT NULL REFERENCES books(id), user TEXT NOT NULL,
      rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5), body TEXT NOT NULL, created_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS reviews_by_book ON reviews(book_id, id);`);
  if (db.prepare('SELECT count(*) AS n FROM books').get().n === 0) {
    const add = db.prepare('INSERT INTO books (id, title, author, year, isbn) VALUES (?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (let i = 1; i <= books; i++)
        add.run(i, `Book ${i}`, `Author ${1 + (i % 37)}`, 1950 + (i % 75), `978${String(i).padStart(10, '0')}`);
    })();
  }
  const q = {
    book: db.prepare(`SELECT b.id, b.title, b.author, b.year, b.isbn, count(r.id) AS reviews, round(avg(r.rating), 2) AS rating
      FROM books b LEFT JOIN reviews r ON r.book_id = b.id WHERE b.id = ? GROUP BY b.id`),
    page: db.prepare('SELECT id, title, author, year FROM books WHERE id > ? ORDER BY id LIMIT ?'),
    reviews: db.prepare('SELECT id, user, rating, body, created_at AS createdAt FROM reviews WHERE book_id = ? ORDER BY id DESC LIMIT 50'),
    addReview: db.prepare('INSERT INTO reviews (book_id, user, rating, body, created_at) VALUES (?, ?, ?, ?, ?)'),
  };
  const stats = { queries: 0 };
  return {
    stats,
    /** A book with its review count and average rating, or null. */
    book(id) {
      stats.queries++;
      return q.book.get(id) ?? null;
    },
    /** Books after id `after`, `limit` of them. */
    books(after, limit) {
      stats.queries++;
      return q.page.all(after, limit);
    },
    /** The newest 50 reviews of a book. */
    reviews(bookId) {
      stats.queries++;
      return q.reviews.all(bookId);
    },
    /** Adds a review; null when the book does not exist. */
    addReview(bookId, user, rating, body) {
      stats.queries++;
      if (q.book.get(bookId) === undefined) return null;
      return Number(q.addReview.run(bookId, user, rating, body, Date.now()).lastInsertRowid);
    },
    close: () => db.close(),
  };
}
