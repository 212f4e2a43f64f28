//! Large files keep their pixel data out of memory: read up to the pixel
//! data, anonymized, written, and the pixel data copied from the input as
//! bytes (`src/dicom_file/tail.rs`). Proof that this changes nothing: every
//! file of pydicom's corpus and of a synthetic set (explicit and implicit
//! VR, single and multi-frame, elements after the pixel data, a script
//! that removes the pixel data) is
//! anonymized with the copy forced on every file (`--tail-copy-min 0`) and
//! with the default (these files are all below it, so read whole), with
//! both bundled policies and a CTP script: the output trees and the
//! quarantine reports are byte for byte the same.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};

/// A tree of synthetic files beside the corpus: pixel data of several
/// sizes in both little-endian syntaxes, encapsulated pixel data, and the
/// bytes of an undefined-length UN header in pixel data (read) and before
/// it (refused).
fn synthetic(dir: &Path) {
    for (n, (ts, frames)) in [
        (uids::EXPLICIT_VR_LITTLE_ENDIAN, 1),
        (uids::IMPLICIT_VR_LITTLE_ENDIAN, 1),
        (uids::EXPLICIT_VR_LITTLE_ENDIAN, 40),
        (uids::IMPLICIT_VR_LITTLE_ENDIAN, 40),
    ]
    .into_iter()
    .enumerate()
    {
        let path = dir.join(format!("syn/f{n}.dcm"));
        common::synthetic::ct_file(&path, n as u32, 0, n as u32);
        let mut obj = dicom_object::open_file(&path).unwrap().into_inner();
        let pixels: Vec<u8> = (0..128 * 128 * 2 * frames)
            .map(|i| (i * 7 % 256) as u8)
            .collect();
        for (tag, value) in [(tags::ROWS, 128u16), (tags::COLUMNS, 128)] {
            obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
        }
        obj.put(DataElement::new(
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            PrimitiveValue::from(frames.to_string()),
        ));
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U8(pixels.into()),
        ));
        let file = obj
            .with_meta(dicom_object::meta::FileMetaTableBuilder::new().transfer_syntax(ts))
            .unwrap();
        file.write_to_file(&path).unwrap();
    }
    // Encapsulated pixel data: an offset table and one fragment per frame
    // (bytes standing for JPEG data; nothing decodes them here), one of
    // them holding the bytes of a UN sequence header.
    let path = dir.join("syn/fragments.dcm");
    common::synthetic::ct_file(&path, 7, 0, 7);
    let mut obj = dicom_object::open_file(&path).unwrap().into_inner();
    let fragments: Vec<Vec<u8>> = (0..3u8)
        .map(|f| {
            let mut bytes: Vec<u8> = (0..6000u32)
                .map(|i| (i as u8).wrapping_mul(f + 3))
                .collect();
            if f == 1 {
                bytes[100..108].copy_from_slice(b"UN\0\0\xff\xff\xff\xff");
            }
            bytes
        })
        .collect();
    obj.put(DataElement::new(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        PrimitiveValue::from("3"),
    ));
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        dicom_core::value::Value::PixelSequence(dicom_core::value::PixelFragmentSequence::new(
            vec![0, 6008, 12016],
            fragments,
        )),
    ));
    obj.with_meta(
        dicom_object::meta::FileMetaTableBuilder::new().transfer_syntax(uids::JPEG_BASELINE8_BIT),
    )
    .unwrap()
    .write_to_file(&path)
    .unwrap();
    // Elements after the pixel data (a private group with text, trailing
    // padding), after native pixel data and after fragments; and padding
    // holding the bytes of a UN sequence header, which both refuse.
    for (name, ts, padding) in [
        (
            "trailer_native.dcm",
            uids::EXPLICIT_VR_LITTLE_ENDIAN,
            vec![0u8; 64],
        ),
        (
            "trailer_fragments.dcm",
            uids::JPEG_BASELINE8_BIT,
            vec![0u8; 32],
        ),
        (
            "trailer_un.dcm",
            uids::IMPLICIT_VR_LITTLE_ENDIAN,
            b"\0\0UN\0\0\xff\xff\xff\xff".to_vec(),
        ),
    ] {
        let path = dir.join("syn").join(name);
        common::synthetic::ct_file(&path, 11, 0, 11);
        let mut obj = dicom_object::open_file(&path).unwrap().into_inner();
        for (tag, value) in [
            (Tag(0x7FE1, 0x0010), "ACME TRAILER"),
            (Tag(0x7FE1, 0x1001), "Doe^John 1970-01-01"),
        ] {
            obj.put(DataElement::new(tag, VR::LO, PrimitiveValue::from(value)));
        }
        obj.put(DataElement::new(
            Tag(0xFFFC, 0xFFFC),
            VR::OB,
            PrimitiveValue::U8(padding.into()),
        ));
        if ts == uids::JPEG_BASELINE8_BIT {
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                dicom_core::value::Value::PixelSequence(
                    dicom_core::value::PixelFragmentSequence::new(
                        vec![],
                        vec![vec![3u8; 5000], vec![5u8; 3000]],
                    ),
                ),
            ));
        }
        obj.with_meta(dicom_object::meta::FileMetaTableBuilder::new().transfer_syntax(ts))
            .unwrap()
            .write_to_file(&path)
            .unwrap();
    }
    // Pixel bytes that look like a UN sequence header: pixel values to
    // both readers (un_pattern.dcm); the same bytes in an element before
    // the pixel data: refused by both (un_header.dcm).
    for (name, in_header) in [("un_pattern.dcm", false), ("un_header.dcm", true)] {
        let path = dir.join("syn").join(name);
        common::synthetic::ct_file(&path, 9, 0, 9);
        let mut obj = dicom_object::open_file(&path).unwrap().into_inner();
        let mut pixels = vec![0u8; 4096];
        pixels[1000..1008].copy_from_slice(b"UN\0\0\xff\xff\xff\xff");
        if in_header {
            obj.put(DataElement::new(
                Tag(0x0009, 0x1010),
                VR::OB,
                PrimitiveValue::U8(pixels[996..1012].to_vec().into()),
            ));
        }
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U8(pixels.into()),
        ));
        obj.with_meta(
            dicom_object::meta::FileMetaTableBuilder::new()
                .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN),
        )
        .unwrap()
        .write_to_file(&path)
        .unwrap();
    }
}

/// A `--tail-copy-min` no file reaches: every file read whole.
const NEVER: &str = "18446744073709551615";

/// The output tree and the quarantine report of one run.
fn run(input: &Path, output: &Path, args: &[&str]) -> (BTreeMap<String, Vec<u8>>, String, String) {
    let out: Output = common::cli::anonymize(input, output, args);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{log}");
    let report = std::fs::read_to_string(output.join("quarantine/report.csv")).unwrap_or_default();
    (common::trees::outputs(output), report, log)
}

fn copied(log: &str) -> usize {
    log.split("pixel data copied as bytes, not decoded: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn copying_pixel_data_as_bytes_changes_no_output() {
    let Some(corpus) = common::reference::pydicom_corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    for entry in walkdir::WalkDir::new(&corpus).into_iter().flatten() {
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(&corpus).unwrap();
            let to = input.join("corpus").join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    synthetic(&input);
    let ctp = dir.path().join("remove_pixels.script");
    std::fs::write(
        &ctp,
        r#"<script>
 <e en="T" t="00100010" n="PatientName">@hash(this,8)</e>
 <e en="T" t="00100020" n="PatientID">@hash(this,10)</e>
 <e en="T" t="7FE00010" n="PixelData">@remove()</e>
</script>"#,
    )
    .unwrap();
    let ctp_reference =
        common::reference::repo_root().join("tests/scripts/valid/ctp_reference.script");
    let configs: Vec<(&str, Vec<&str>)> = vec![
        ("low", vec!["--script", "low", "--site-id", "8"]),
        (
            "high",
            vec!["--script", "high", "--no-deface", "--site-id", "8"],
        ),
        (
            "ctp reference",
            vec![
                "--dialect",
                "ctp",
                "--script",
                ctp_reference.to_str().unwrap(),
                "--site-id",
                "8",
            ],
        ),
        (
            "ctp removing pixel data",
            vec![
                "--dialect",
                "ctp",
                "--script",
                ctp.to_str().unwrap(),
                "--site-id",
                "8",
            ],
        ),
    ];
    for (name, mut args) in configs {
        // Both runs through the object model: the streaming path, which
        // small files would take otherwise, has its own sameness test.
        args.push("--no-streaming");
        let whole_dir = dir.path().join(format!("whole-{name}"));
        let mut whole_args = args.clone();
        whole_args.extend(["--tail-copy-min", NEVER]);
        let (whole, whole_report, whole_log) = run(&input, &whole_dir, &whole_args);
        assert_eq!(copied(&whole_log), 0, "{name}: {whole_log}");
        let mut forced = args.clone();
        forced.extend(["--tail-copy-min", "0"]);
        let (tail, tail_report, tail_log) =
            run(&input, &dir.path().join(format!("tail-{name}")), &forced);
        assert!(whole.len() > 100, "{name}: {} outputs", whole.len());
        assert_eq!(
            whole.keys().collect::<Vec<_>>(),
            tail.keys().collect::<Vec<_>>(),
            "{name}: the same outputs"
        );
        let differing: Vec<&String> = whole
            .iter()
            .filter(|(k, v)| tail[*k] != **v)
            .map(|(k, _)| k)
            .collect();
        assert!(differing.is_empty(), "{name}: {differing:?} differ");
        assert_eq!(whole_report, tail_report, "{name}: the same quarantine");
        assert!(
            whole_report.contains("un_header.dcm")
                && whole_report.contains("trailer_un.dcm")
                && !whole_report.contains("un_pattern.dcm")
                && !whole_report.contains("fragments.dcm"),
            "{name}: {whole_report}"
        );
        let n = copied(&tail_log);
        println!(
            "{name}: {} outputs, {n} with their pixel data copied as bytes",
            tail.len()
        );
        if name == "ctp removing pixel data" {
            assert_eq!(
                n, 0,
                "{name}: the script changes the pixel data: {tail_log}"
            );
            let obj = dicom_object::open_file(whole_dir.join("syn/f2.dcm")).unwrap();
            assert!(obj.element(tags::PIXEL_DATA).is_err());
        } else {
            assert!(
                n >= 20,
                "{name}: only {n} files copied their pixel data: {tail_log}"
            );
        }
    }
}

/// The header read from a prefix of the file is the header the whole-file
/// reader gives (or both refuse the file), for every corpus file.
#[test]
fn a_header_read_from_a_prefix_is_the_whole_file_readers() {
    let Some(corpus) = common::reference::pydicom_corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    synthetic(dir.path());
    let mut files = dicom_anonymizer::input_tree::files(&corpus).unwrap();
    files.extend(dicom_anonymizer::input_tree::files(dir.path()).unwrap());
    let (mut same, mut refused) = (0, 0);
    for (path, key) in &files {
        let whole = dicom_anonymizer::dicom_file::open(path, Some(tags::PIXEL_DATA));
        let prefix = dicom_anonymizer::dicom_file::tail::open_until_pixel_data(path);
        match (whole, prefix) {
            (Ok(a), Ok(b)) => {
                // Compared as data (some hold text no character set encodes
                // back, so they cannot be written to compare bytes).
                assert!(
                    format!("{:?}{:?}", a.meta(), *a) == format!("{:?}{:?}", b.meta(), *b),
                    "{key}: the headers differ"
                );
                same += 1;
            }
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string(), "{key}");
                refused += 1;
            }
            (a, b) => panic!("{key}: whole {:?}, prefix {:?}", a.is_ok(), b.is_ok()),
        }
    }
    println!("{same} headers equal, {refused} files refused by both");
    assert!(same > 100, "{same}");
    assert!(refused > 0, "the UN pattern file is refused by both");
}
