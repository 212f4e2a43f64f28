//! What a retrieve already holds: instances captured per original study
//! and series.

use std::collections::HashMap;

use super::{CountBy, Store, StoreError};

impl Store {
    /// Instances captured, by original StudyInstanceUID.
    pub fn instances_by_study(&self) -> Result<HashMap<String, usize>, StoreError> {
        self.with(|b| b.instance_counts(CountBy::Study))
    }

    /// Instances captured, by original SeriesInstanceUID.
    pub fn instances_by_series(&self) -> Result<HashMap<String, usize>, StoreError> {
        self.with(|b| b.instance_counts(CountBy::Series))
    }
}
