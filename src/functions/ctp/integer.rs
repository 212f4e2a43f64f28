//! `@integer(Element,keyType[,width])`: a sequential integer for each
//! distinct value of a key type, zero-padded to `width` (CTP's
//! `IntegerTable.getInteger`): the first value seen gets 1, the next new
//! one 2, and a value seen before gets its number again. The numbers must
//! outlive the run, so the table is kept by the caller (the store).

/// Where `@integer` keeps its numbers.
pub trait IntegerTable {
    /// The number of `text` (trimmed) in `key_type` (trimmed), assigning
    /// the next one if it has none yet.
    fn integer(&self, key_type: &str, text: &str) -> Result<u64, String>;
}

/// Format a number as CTP does: `%0<width>d`, or `%d` for width 0.
pub fn format(n: u64, width: i64) -> String {
    if width > 0 {
        format!("{n:0width$}", width = width as usize)
    } else {
        n.to_string()
    }
}

/// A table in memory, seeded from the store and read back after a chunk
/// of files, so the numbers outlive the run.
#[derive(Debug, Default)]
pub struct MemoryIntegerTable {
    inner: std::sync::Mutex<Numbers>,
}

#[derive(Debug, Default)]
struct Numbers {
    map: std::collections::HashMap<(String, String), u64>,
    last: std::collections::HashMap<String, u64>,
    fresh: Vec<(String, String, u64)>,
}

impl MemoryIntegerTable {
    /// A table holding `entries` (key type, text, number).
    pub fn with_entries(entries: impl IntoIterator<Item = (String, String, u64)>) -> Self {
        let mut n = Numbers::default();
        for (key_type, text, value) in entries {
            let last = n.last.entry(key_type.clone()).or_default();
            *last = (*last).max(value);
            n.map.insert((key_type, text), value);
        }
        MemoryIntegerTable {
            inner: std::sync::Mutex::new(n),
        }
    }

    /// The numbers assigned since the last call.
    pub fn take_fresh(&self) -> Vec<(String, String, u64)> {
        self.inner
            .lock()
            .map(|mut n| std::mem::take(&mut n.fresh))
            .unwrap_or_default()
    }
}

impl IntegerTable for MemoryIntegerTable {
    fn integer(&self, key_type: &str, text: &str) -> Result<u64, String> {
        let mut n = self.inner.lock().map_err(|e| e.to_string())?;
        let key = (key_type.trim().to_string(), text.trim().to_string());
        if let Some(v) = n.map.get(&key) {
            return Ok(*v);
        }
        let next = n.last.get(&key.0).copied().unwrap_or(0) + 1;
        n.last.insert(key.0.clone(), next);
        n.fresh.push((key.0.clone(), key.1.clone(), next));
        n.map.insert(key, next);
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_order_of_first_sight_per_key_type() {
        let t = MemoryIntegerTable::default();
        assert_eq!(t.integer("ptid", "A").unwrap(), 1);
        assert_eq!(t.integer("ptid", "B ").unwrap(), 2);
        assert_eq!(t.integer("ptid", " A").unwrap(), 1);
        assert_eq!(t.integer("acc", "A").unwrap(), 1);
        assert_eq!(format(7, 4), "0007");
        assert_eq!(t.take_fresh().len(), 3);
        let seeded = MemoryIntegerTable::with_entries([("ptid".into(), "A".into(), 5)]);
        assert_eq!(seeded.integer("ptid", "Z").unwrap(), 6);
        assert_eq!(seeded.integer("ptid", "A").unwrap(), 5);
        assert_eq!(format(7, 0), "7");
    }
}
