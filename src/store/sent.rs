//! What `send` delivered: one row per output file and destination, so a
//! second `send` to the same destination sends only the rest.

use std::collections::HashSet;

use super::{Store, StoreError};

impl Store {
    /// The outputs already stored at `destination` (an `AET@HOST:PORT`).
    pub fn sent_to(&self, destination: &str) -> Result<HashSet<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT output FROM sent WHERE destination = ?1")
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([destination], |r| r.get::<_, String>(0))
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    /// Record that `output` is stored at `destination` with this C-STORE status.
    pub fn record_sent(
        &mut self,
        output: &str,
        destination: &str,
        status: u16,
        at: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO sent (output, destination, status, sent_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (output, destination) DO UPDATE SET status = ?3, sent_at = ?4",
                rusqlite::params![output, destination, status, at],
            )
            .map_err(|e| self.error(e))?;
        Ok(())
    }
}
