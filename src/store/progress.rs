//! What a retrieve already holds: instances captured per original study
//! and series.

use std::collections::HashMap;

use super::{Store, StoreError};

impl Store {
    /// Instances captured, by original StudyInstanceUID.
    pub fn instances_by_study(&self) -> Result<HashMap<String, usize>, StoreError> {
        self.counts(
            "SELECT s.study_uid, COUNT(*) FROM instances i
             JOIN series s ON s.series_uid = i.series_uid GROUP BY s.study_uid",
        )
    }

    /// Instances captured, by original SeriesInstanceUID.
    pub fn instances_by_series(&self) -> Result<HashMap<String, usize>, StoreError> {
        self.counts("SELECT series_uid, COUNT(*) FROM instances GROUP BY series_uid")
    }

    /// The (key, count) rows of `sql`.
    fn counts(&self, sql: &str) -> Result<HashMap<String, usize>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }
}
