//! A mutation fuzzer over pydicom's files: truncations, bit flips,
//! inflated lengths, deep nesting and VR swaps. Property, in process: the
//! reader never panics, and no single allocation is larger than a bound
//! set by the file's size; and, for the whole binary under a memory cap,
//! every input ends as an output, a quarantine line, or a count.
//!
//! `FUZZ_CASES` sets the number of mutated files read in process (default
//! 2,000; CI sets more); `FUZZ_SEED` the seed of both properties.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;

use proptest::prelude::*;

mod common;

use common::mutations::{apply, corpus, mutated_tree, mutation, runner};

/// The system allocator, noting the largest single request of each thread.
struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed to the system allocator unchanged.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// The largest allocation a read of `len` bytes may make: values are
/// bounded by the bytes left, so a small multiple of the file (decoded
/// text, the object around the values) and a fixed allowance; a deflated
/// data set may inflate up to `MAX_INFLATED` (a growing buffer doubles).
fn allowance(len: usize, deflated: bool) -> usize {
    let inflated = if deflated {
        2 * dicom_anonymizer::dicom_file::MAX_INFLATED as usize
    } else {
        0
    };
    16 * len + (1 << 20) + inflated
}

#[test]
fn mutated_files_never_panic_the_reader_nor_allocate_beyond_their_size() {
    let Some(corpus) = corpus() else {
        return;
    };
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let outcomes = [Cell::new(0usize), Cell::new(0usize)];
    runner(cases)
        .run(&(0..corpus.len(), mutation()), |(i, m)| {
            let (key, bytes) = &corpus[i];
            let mutated = apply(bytes, &m);
            let deflated = memchr::memmem::find(&mutated, b"1.2.840.10008.1.2.1.99").is_some();
            for until in [None, Some(dicom_dictionary_std::tags::PIXEL_DATA)] {
                LARGEST.set(0);
                let read = std::panic::catch_unwind(|| {
                    dicom_anonymizer::dicom_file::parse(&mutated, until).is_ok()
                });
                let largest = LARGEST.get();
                prop_assert!(read.is_ok(), "{key} {m:?}: the reader panicked");
                let slot = &outcomes[usize::from(read.unwrap())];
                slot.set(slot.get() + 1);
                prop_assert!(
                    largest <= allowance(mutated.len(), deflated),
                    "{key} {m:?}: an allocation of {largest} bytes for a file of {}",
                    mutated.len()
                );
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "{cases} mutated files, read twice each: {} read, {} refused",
        outcomes[1].get(),
        outcomes[0].get()
    );
    assert!(
        outcomes[0].get() > 0 && outcomes[1].get() > 0,
        "mutations both break and spare files"
    );
}

#[test]
fn a_run_over_mutated_files_under_a_memory_cap_accounts_for_every_file() {
    let Some(corpus) = corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let n = mutated_tree(&corpus, 400, &input);
    let output: PathBuf = dir.path().join("out");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"));
    cmd.args(["anonymize", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .args(["--script", "low", "--site-id", "5", "--jobs", "2"]);
    common::limits::cap_address_space(&mut cmd, 4 << 30);
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    // Every file is counted once: anonymized, quarantined, or a count.
    let summary = err
        .lines()
        .find(|l| l.starts_with("anonymized "))
        .expect("a summary");
    let numbers: Vec<usize> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    // anonymized N files in S.S s (R files/s); already done; not DICOM;
    // duplicates; skipped by the script; unreadable; refused; links; special
    let (anonymized, rest) = (numbers[0], &numbers[numbers.len() - 8..]);
    let quarantined: usize = err
        .lines()
        .find(|l| l.starts_with("quarantined "))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    let counted = anonymized + rest[1] + rest[2] + rest[3] + rest[4] + quarantined;
    assert_eq!(counted, n, "{summary}");
    let report = std::fs::read_to_string(output.join("quarantine/report.csv")).unwrap_or_default();
    assert_eq!(
        report.lines().count().saturating_sub(1),
        quarantined + rest[4],
        "{report}"
    );
}
