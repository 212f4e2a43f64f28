//! The streaming path (a small file anonymized element by element from its
//! bytes) writes what the whole data set's path writes, byte for byte:
//! both run over pydicom's files with each bundled script and both
//! layouts, and over mutated copies of them (`STREAM_FUZZ_CASES`, default
//! 2,000), and every output file, quarantine copy and store record must be
//! the same. Most of the corpus must take the streaming path.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::mutations::{apply, corpus, mutation, runner};
use common::synthetic::mr_file;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::uids;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use proptest::strategy::{Strategy, ValueTree};

/// Every file under `dir` but the store's directory, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .to_string();
            if rel == ".anonymizer" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// A file's record: source, status, output, reason, detail.
type Record = [Option<String>; 5];

/// The store's file records and UID map.
fn records(dir: &Path) -> (Vec<Record>, Vec<(String, String)>) {
    let conn = rusqlite::Connection::open(dir.join(".anonymizer/store.sqlite")).unwrap();
    let mut files = conn
        .prepare("SELECT source, status, output, reason, detail FROM files ORDER BY source")
        .unwrap();
    let files = files
        .query_map([], |r| {
            Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut uids = conn.prepare("SELECT * FROM uids ORDER BY 1, 2").unwrap();
    let uids = uids
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (files, uids)
}

/// The number in the summary line starting with `prefix`, if printed.
fn count(stderr: &str, prefix: &str) -> usize {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .find(|w| !w.is_empty())?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Run `input` through both paths with `args`; assert the same outputs;
/// return (files anonymized, files streamed).
fn both_paths(input: &Path, args: &[&str]) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let streamed_out = dir.path().join("streamed");
    let object_out = dir.path().join("object");
    let streamed = common::cli::anonymize(input, &streamed_out, args);
    let mut object_args = args.to_vec();
    object_args.push("--no-streaming");
    let object = common::cli::anonymize(input, &object_out, &object_args);
    let err = String::from_utf8_lossy(&streamed.stderr).to_string();
    let object_err = String::from_utf8_lossy(&object.stderr);
    assert_eq!(
        streamed.status.code(),
        object.status.code(),
        "{err}\n{object_err}"
    );
    assert!(matches!(streamed.status.code(), Some(0 | 1)), "{err}");
    assert_eq!(count(&object_err, "anonymized from their bytes"), 0);
    eprintln!("{err}");
    let (a, b) = (tree(&streamed_out), tree(&object_out));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same files written ({args:?})"
    );
    for (name, bytes) in &a {
        let other = &b[name];
        if bytes != other {
            let at = bytes.iter().zip(other).position(|(x, y)| x != y);
            panic!(
                "{name} ({args:?}): streamed {} bytes, object path {}; first difference at {at:?}",
                bytes.len(),
                other.len()
            );
        }
    }
    assert_eq!(
        records(&streamed_out),
        records(&object_out),
        "the same store ({args:?})"
    );
    (
        count(&err, "anonymized "),
        count(&err, "anonymized from their bytes, element by element: "),
    )
}

#[test]
fn the_corpus_is_written_the_same_by_both_paths_with_each_script_and_layout() {
    let Some(root) = common::reference::pydicom_corpus() else {
        return;
    };
    let input = root.join("test_files");
    for script in ["low", "high"] {
        for layout in ["preserve", "rsna"] {
            let (anonymized, streamed) = both_paths(
                &input,
                &[
                    "--script",
                    script,
                    "--site-id",
                    "42",
                    "--pixel-text",
                    "off",
                    "--layout",
                    layout,
                ],
            );
            eprintln!("{script}, {layout}: {streamed} of {anonymized} files streamed");
            assert!(anonymized > 50, "{anonymized}");
            assert!(
                streamed * 10 >= anonymized * 9,
                "{script}: only {streamed} of {anonymized} files took the streaming path"
            );
        }
    }
}

#[test]
fn mutated_files_are_written_or_quarantined_the_same_by_both_paths() {
    let Some(corpus) = corpus() else {
        return;
    };
    let cases = std::env::var("STREAM_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    // Each copy gets its own SOPInstanceUID (the same length, in place),
    // so copies of one file are not skipped as duplicates of each other.
    let originals: Vec<Option<String>> = corpus
        .iter()
        .map(|(_, bytes)| {
            let obj = dicom_anonymizer::dicom_file::parse(bytes, None).ok()?;
            dicom_anonymizer::interpreter::values::string_of(
                &obj,
                dicom_dictionary_std::tags::SOP_INSTANCE_UID,
            )
            .filter(|u| u.len() >= 8)
        })
        .collect();
    let mut runner = runner(cases);
    let strategy = (0..corpus.len(), mutation());
    for k in 0..cases {
        let (i, m) = strategy.new_tree(&mut runner).unwrap().current();
        let (key, bytes) = &corpus[i];
        let mut mutated = apply(bytes, &m);
        if let Some(uid) = &originals[i] {
            let fresh = format!("{}{k:06}", &uid[..uid.len() - 6]);
            let finder = memchr::memmem::Finder::new(uid.as_bytes());
            let found: Vec<usize> = finder.find_iter(&mutated).collect();
            for at in found {
                mutated[at..at + uid.len()].copy_from_slice(fresh.as_bytes());
            }
        }
        let name = key.replace('/', "_");
        std::fs::write(input.join(format!("m{k:05}_{name}")), mutated).unwrap();
    }
    let (anonymized, streamed) = both_paths(&input, &["--script", "low", "--site-id", "42"]);
    eprintln!("{cases} mutated files: {anonymized} anonymized, {streamed} streamed");
    assert!(streamed > 0 && anonymized > 0);
}

/// A synthetic MR file (UIDs made unique by `n`) with its data set
/// deflated, and `extra` added.
fn deflated_file(path: &Path, n: u32, extra: Vec<DataElement<InMemDicomObject>>) {
    let plain = path.with_extension("plain");
    mr_file(&plain, n, "Deflated^Dora", "052Y");
    let mut obj = dicom_object::open_file(&plain).unwrap();
    std::fs::remove_file(&plain).unwrap();
    for element in extra {
        obj.put(element);
    }
    let deflated = TransferSyntaxRegistry
        .get(uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)
        .unwrap();
    obj.meta_mut().set_transfer_syntax(deflated);
    obj.write_to_file(path).unwrap();
}

#[test]
fn a_deflated_file_is_streamed_and_deflated_again_as_the_object_path_does() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    deflated_file(&input.join("a.dcm"), 1, Vec::new());
    deflated_file(&input.join("b.dcm"), 2, Vec::new());
    for script in ["low", "high"] {
        let args = ["--script", script, "--site-id", "42", "--pixel-text", "off"];
        let (anonymized, streamed) = both_paths(&input, &args);
        assert_eq!((anonymized, streamed), (2, 2), "{script}");
    }
}

#[test]
fn a_deflated_file_that_inflates_past_the_bound_takes_the_object_path() {
    // 17 MiB of zeros inflate from a few KB; the streaming path holds at
    // most 16 MiB of inflated data set, the object path up to 256 MiB.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let creator = DataElement::new(Tag(0x0009, 0x0010), VR::LO, PrimitiveValue::from("BIG"));
    let zeros = DataElement::new(
        Tag(0x0009, 0x1001),
        VR::OB,
        PrimitiveValue::U8(vec![0u8; 17 << 20].into()),
    );
    deflated_file(&input.join("big.dcm"), 3, vec![creator, zeros]);
    assert!(std::fs::metadata(input.join("big.dcm")).unwrap().len() < 1 << 20);
    let (anonymized, streamed) = both_paths(&input, &["--script", "low", "--site-id", "42"]);
    assert_eq!((anonymized, streamed), (1, 0));
}
