//! The user table in SQLite.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

use crate::pb::User;

/// A store error: the database failed (a bug or a broken disk, not the caller's fault).
#[derive(Debug)]
pub struct StoreError(String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "database error: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// SQLite-backed users; cheap to clone. Calls block briefly: run them with `spawn_blocking`.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`; `:memory:` keeps it in memory.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS users (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 name TEXT NOT NULL,
                 email TEXT NOT NULL,
                 created_at INTEGER NOT NULL
             );",
        )?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| StoreError("connection lock poisoned".into()))?;
        Ok(f(&mut conn)?)
    }

    /// The user with `id`, if any.
    pub fn get(&self, id: i32) -> Result<Option<User>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT id, name, email, created_at FROM users WHERE id = ?1",
                params![id],
                row_to_user,
            )
            .optional()
        })
    }

    /// Up to `limit` users with ids greater than `after`, in id order.
    pub fn list(&self, after: i32, limit: u32) -> Result<Vec<User>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, name, email, created_at FROM users WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limit], row_to_user)?;
            rows.collect()
        })
    }

    /// Inserts all users in one transaction; returns their ids.
    pub fn create_all(&self, users: &[(String, String)], now: i64) -> Result<Vec<i32>, StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut ids = Vec::with_capacity(users.len());
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO users (name, email, created_at) VALUES (?1, ?2, ?3)",
                )?;
                for (name, email) in users {
                    stmt.execute(params![name, email, now])?;
                    ids.push(tx.last_insert_rowid() as i32);
                }
            }
            tx.commit()?;
            Ok(ids)
        })
    }
}

fn row_to_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
        created_at: row.get(3)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_get_and_page() {
        let store = Store::open(":memory:").unwrap();
        let users: Vec<_> = (0..5)
            .map(|i| (format!("u{i}"), format!("u{i}@example.com")))
            .collect();
        let ids = store.create_all(&users, 1_700_000_000).unwrap();
        assert_eq!(ids, vec![1, 2, 3, 4, 5]);
        assert_eq!(store.get(3).unwrap().unwrap().name, "u2");
        assert!(store.get(99).unwrap().is_none());
        let page: Vec<_> = store.list(2, 2).unwrap().iter().map(|u| u.id).collect();
        assert_eq!(page, vec![3, 4]);
    }
}
