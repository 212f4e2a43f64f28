//! What `send` delivered: one row per output file and destination, so a
//! second `send` to the same destination sends only the rest. Outputs
//! (`files`) not in `sent` for a destination are the durable queue
//! `serve --forward` works through.

use std::collections::HashSet;

use super::{Store, StoreError};

impl Store {
    /// The outputs already stored at `destination` (an `AET@HOST:PORT`).
    pub fn sent_to(&self, destination: &str) -> Result<HashSet<String>, StoreError> {
        self.with(|b| b.sent_to(destination))
            .map(|v| v.into_iter().collect())
    }

    /// Record that `output` is stored at `destination` with this C-STORE status.
    pub fn record_sent(
        &mut self,
        output: &str,
        destination: &str,
        status: u16,
        at: &str,
    ) -> Result<(), StoreError> {
        self.with(|b| b.record_sent(output, destination, status, at))
    }

    /// The outputs recorded after position `after` (0: all) that are not
    /// yet stored at `destination`, with their positions, in the order
    /// they were recorded: what `serve --forward` still owes it.
    pub fn unsent_outputs(
        &self,
        destination: &str,
        after: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        self.with(|b| b.unsent_outputs(destination, after))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FileRecord, FileStatus, Store};

    fn record(source: &str, status: FileStatus, output: Option<&str>) -> FileRecord {
        FileRecord {
            source: source.into(),
            status,
            output: output.map(String::from),
            reason: None,
            detail: None,
            forget_instance: None,
        }
    }

    #[test]
    fn the_queue_is_what_is_recorded_and_not_yet_sent() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("store.db")).unwrap();
        store
            .record(
                &[
                    record("a", FileStatus::Done, Some("p/a.dcm")),
                    record("b", FileStatus::Quarantined, None),
                    record("c", FileStatus::Done, Some("p/c.dcm")),
                ],
                &[],
                &[],
                "now",
            )
            .unwrap();
        let owed = store.unsent_outputs("D@h:1", 0).unwrap();
        let keys: Vec<&str> = owed.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(keys, ["p/a.dcm", "p/c.dcm"]);
        store.record_sent("p/a.dcm", "D@h:1", 0, "now").unwrap();
        let owed = store.unsent_outputs("D@h:1", 0).unwrap();
        assert_eq!(owed.len(), 1);
        assert_eq!(owed[0].1, "p/c.dcm");
        // Another destination owes both; past the cursor nothing is owed.
        assert_eq!(store.unsent_outputs("E@h:1", 0).unwrap().len(), 2);
        let last = owed[0].0;
        assert!(store.unsent_outputs("D@h:1", last).unwrap().is_empty());
        store
            .record(
                &[record("d", FileStatus::Done, Some("p/d.dcm"))],
                &[],
                &[],
                "now",
            )
            .unwrap();
        let owed = store.unsent_outputs("D@h:1", last).unwrap();
        assert_eq!(owed.len(), 1);
        assert_eq!(owed[0].1, "p/d.dcm");
    }
}
