//! `--shard K/N`: the input files one of N workers takes, so that N
//! workers over one shared input tree cover every file exactly once.
//!
//! A file belongs to shard `FNV-1a-64(key) mod N`, where `key` is its path
//! relative to `--input` as the batch names it (UTF-8, `/` between
//! components; see [`crate::input_tree`]). FNV-1a is fixed by its
//! definition (offset basis 0xcbf29ce484222325, prime 0x100000001b3), so a
//! file's shard never changes between versions, machines or runs.

use std::str::FromStr;

/// Shard `index` of `count` (0 ≤ index < count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`, with K counted from 0 (as Kubernetes' `JOB_COMPLETION_INDEX`).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a shard: write K/N with 0 ≤ K < N, as in 0/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the file with this key belongs to this shard.
    pub fn takes(&self, key: &str) -> bool {
        fnv1a_64(key.as_bytes()) % self.count == self.index
    }
}

/// The 64-bit FNV-1a hash of `bytes`.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a_and_never_changes() {
        // The published FNV-1a test vectors.
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn shards_are_k_of_n() {
        assert_eq!("0/4".parse(), Ok(Shard { index: 0, count: 4 }));
        assert_eq!(" 3 / 4 ".parse::<Shard>().unwrap().to_string(), "3/4");
        for bad in ["4/4", "1/0", "x/2", "1", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_key_belongs_to_exactly_one_shard() {
        let keys: Vec<String> = (0..1000)
            .map(|i| format!("p{}/s{}/{i}.dcm", i % 7, i % 3))
            .collect();
        let shards: Vec<Shard> = (0..5).map(|k| Shard { index: k, count: 5 }).collect();
        for key in &keys {
            assert_eq!(shards.iter().filter(|s| s.takes(key)).count(), 1, "{key}");
        }
        // And they spread: no shard gets less than half its share.
        for s in &shards {
            let n = keys.iter().filter(|k| s.takes(k)).count();
            assert!(n > 100, "shard {s}: {n} of 1000");
        }
    }
}
