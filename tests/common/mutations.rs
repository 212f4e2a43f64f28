//! Damaged copies of pydicom's files: truncations, bit flips, inflated
//! lengths, deep nesting and VR swaps, drawn from a fixed seed
//! (`FUZZ_SEED`), for the reader's fuzzer and the streaming path's
//! sameness test.

use std::path::Path;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// How a file is damaged.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Cut at this fraction of its length.
    Truncate(f64),
    /// Flip these bits (offsets as fractions of the length).
    Flip(Vec<(f64, u8)>),
    /// Give the n-th element header found this length.
    Length(usize, u32),
    /// Insert this many nested undefined-length sequences before the n-th
    /// element header.
    Nest(usize, usize),
    /// Give the n-th element header another VR.
    Vr(usize, [u8; 2]),
}

const VRS: [&[u8; 2]; 12] = [
    b"SQ", b"UN", b"OB", b"OW", b"UT", b"LO", b"PN", b"US", b"FD", b"AT", b"UI", b"DS",
];

pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0.0..1.0f64).prop_map(Mutation::Truncate),
        prop::collection::vec((0.0..1.0f64, 0..8u8), 1..8).prop_map(Mutation::Flip),
        (
            0..400usize,
            prop_oneof![
                Just(0xFFFF_FFF0u32),
                Just(0x7FFF_FFF0),
                Just(u32::MAX),
                any::<u32>()
            ]
        )
            .prop_map(|(n, l)| Mutation::Length(n, l)),
        (
            0..400usize,
            prop_oneof![Just(65usize), Just(2_000), 1..100usize]
        )
            .prop_map(|(n, d)| Mutation::Nest(n, d)),
        (0..400usize, 0..VRS.len()).prop_map(|(n, v)| Mutation::Vr(n, *VRS[v])),
    ]
}

/// Offsets of what look like explicit VR little endian element headers.
fn headers(bytes: &[u8]) -> Vec<usize> {
    (0..bytes.len().saturating_sub(8))
        .filter(|&i| {
            bytes[i].is_multiple_of(2)
                && bytes[i + 1] < 0x80
                && dicom_core::VR::from_binary([bytes[i + 4], bytes[i + 5]]).is_some()
        })
        .collect()
}

pub fn apply(bytes: &[u8], m: &Mutation) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = |f: f64, len: usize| ((f * len as f64) as usize).min(len.saturating_sub(1));
    let found = headers(bytes);
    let nth = |n: usize| (!found.is_empty()).then(|| found[n % found.len()]);
    match m {
        Mutation::Truncate(f) => out.truncate(at(*f, bytes.len())),
        Mutation::Flip(bits) => {
            for (f, bit) in bits {
                if !out.is_empty() {
                    let i = at(*f, out.len());
                    out[i] ^= 1 << bit;
                }
            }
        }
        Mutation::Length(n, len) => {
            if let Some(i) = nth(*n) {
                let vr = [out[i + 4], out[i + 5]];
                if matches!(&vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT" | b"UC" | b"UR")
                    && i + 12 <= out.len()
                {
                    out[i + 8..i + 12].copy_from_slice(&len.to_le_bytes());
                } else {
                    out[i + 6..i + 8].copy_from_slice(&(*len as u16).to_le_bytes());
                }
            }
        }
        Mutation::Nest(n, depth) => {
            if let Some(i) = nth(*n) {
                let mut nest = Vec::new();
                for _ in 0..*depth {
                    nest.extend_from_slice(b"\x40\x00\x30\xa7SQ\0\0\xff\xff\xff\xff");
                    nest.extend_from_slice(b"\xfe\xff\x00\xe0\xff\xff\xff\xff");
                }
                out.splice(i..i, nest);
            }
        }
        Mutation::Vr(n, vr) => {
            if let Some(i) = nth(*n) {
                out[i + 4..i + 6].copy_from_slice(vr);
            }
        }
    }
    out
}

/// The corpus's DICOM files, read once.
pub fn corpus() -> Option<Vec<(String, Vec<u8>)>> {
    let root = super::reference::pydicom_corpus()?;
    let files = dicom_anonymizer::input_tree::files(&root).unwrap();
    Some(
        files
            .into_iter()
            .map(|(p, k)| (k, std::fs::read(p).unwrap()))
            .filter(|(_, b)| dicom_anonymizer::dicom_file::sniff(b).is_some())
            .collect(),
    )
}

pub fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261129)
}

pub fn runner(cases: u32) -> TestRunner {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed().to_le_bytes());
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    )
}

/// Write `n` mutated files into `dir`.
pub fn mutated_tree(corpus: &[(String, Vec<u8>)], n: u32, dir: &Path) -> usize {
    let mut written = 0;
    let mut runner = runner(n);
    let strategy = (0..corpus.len(), mutation());
    for k in 0..n {
        let (i, m) = strategy.new_tree(&mut runner).unwrap().current();
        let (key, bytes) = &corpus[i];
        let name = key.replace('/', "_");
        std::fs::write(dir.join(format!("m{k:04}_{name}")), apply(bytes, &m)).unwrap();
        written += 1;
    }
    written
}
