//! CTP's `@integer` numbers given by the store, so that workers sharing a
//! PostgreSQL store give a text one number wherever it is met.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Store;
use crate::functions::ctp::integer::IntegerTable;

/// An `@integer` table backed by a store connection of its own (the batch
/// holds the other), with the numbers already known kept in memory.
pub struct StoreIntegerTable {
    store: Mutex<Store>,
    known: Mutex<HashMap<(String, String), u64>>,
}

impl StoreIntegerTable {
    pub fn new(store: Store) -> StoreIntegerTable {
        StoreIntegerTable {
            store: Mutex::new(store),
            known: Mutex::new(HashMap::new()),
        }
    }
}

impl IntegerTable for StoreIntegerTable {
    fn integer(&self, key_type: &str, text: &str) -> Result<u64, String> {
        let key = (key_type.trim().to_string(), text.trim().to_string());
        if let Some(v) = self.known.lock().map_err(|e| e.to_string())?.get(&key) {
            return Ok(*v);
        }
        let value = self
            .store
            .lock()
            .map_err(|e| e.to_string())?
            .integer(&key.0, &key.1)
            .map_err(|e| e.to_string())?;
        self.known
            .lock()
            .map_err(|e| e.to_string())?
            .insert(key, value);
        Ok(value)
    }
}
