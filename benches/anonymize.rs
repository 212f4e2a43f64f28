//! `cargo bench --bench anonymize`: files/s and MB/s of `anonymize` on
//! pydicom's DICOM files repeated (with fresh SOPInstanceUIDs) to 2,000
//! files, beside a plain copy of the same tree and the RSNA tool's own
//! engine on the first 300 of them, in one run. Prints figures; asserts
//! nothing (targets: 50× the RSNA engine's files/s, within 2× of the copy).
//! A copy that fsyncs each file is timed too, a copy followed by one
//! `sync -f` (syncfs: the durability ours gives by default), ours with
//! `--sync none` (no durability, as `cp -r`), and GDCM's `gdcmanon --dumb`
//! (Debian's libgdcm-tools; `.ci/run` installs it) making the 19 edits of
//! [`GDCM_EDITS`], with no mapping state and no fsync. Each of ours, `cp -r`,
//! gdcmanon and the fsynced copy is timed in `ROUNDS` alternating rounds
//! (each into a fresh directory), wall time and, for the processes, CPU
//! time (user + system, `wait4`'s rusage of the child); every round and
//! the medians are printed: on a shared machine one timing of a 0.1 s job
//! swings by 2× or more. Every round's outputs are kept until the end
//! (about 70,000 files): on ext4 without a journal, as this project's CI
//! machine has, the inode allocator steps over every inode freed in the
//! last minute or more, so each file created after a mass deletion costs
//! more; deleting each round's outputs before the next made every tool,
//! `cp -r` included, slower round after round (`cp -r` 0.05 s to 0.71 s
//! over five rounds), and the medians measured the deletions.
//!
//! Then two large files of `LARGE_FRAMES` frames of 512×512 16-bit pixels
//! (524 MB), one native, one with a fragment per frame (as a compressed
//! series has), each in `LARGE_ROUNDS` alternating rounds: our wall time and peak
//! memory (the child's maximum resident set), durable as by default and
//! with `--sync none`, beside `cp`'s and beside `cp` followed by `sync` of
//! the copy (the guarantee ours gives by default).
//!
//! `ANONYMIZE_BENCH_DIR=DIR` builds the trees under `DIR` and keeps them
//! (for profiling `anonymize` on `DIR/in` afterwards).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;

use common::measure::{Cost, measure};

const FILES: usize = 2000;
const RSNA_FILES: usize = 300;
const ROUNDS: usize = 5;
const LARGE_FRAMES: usize = 1000;
/// Rounds of the large file (each writes 524 MB four times).
const LARGE_ROUNDS: usize = 3;

/// gdcmanon's edits: the identifying attributes a header de-identification
/// touches at the top level (2 replaced, 3 emptied, 14 removed).
const GDCM_EDITS: [(&str, &str); 19] = [
    ("--replace", "0010,0010=ANONYMIZED"),
    ("--replace", "0010,0020=99-000001"),
    ("--empty", "0008,0050"),
    ("--empty", "0008,0090"),
    ("--empty", "0020,0010"),
    ("--remove", "0010,0030"),
    ("--remove", "0010,1000"),
    ("--remove", "0010,1040"),
    ("--remove", "0008,0080"),
    ("--remove", "0008,0081"),
    ("--remove", "0008,1010"),
    ("--remove", "0008,1070"),
    ("--remove", "0008,1050"),
    ("--remove", "0008,1048"),
    ("--remove", "0010,2154"),
    ("--remove", "0010,1080"),
    ("--remove", "0010,2160"),
    ("--remove", "0010,4000"),
    ("--remove", "0018,1000"),
];

fn ours(input: &Path, output: &Path, script: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"));
    cmd.arg("anonymize")
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .arg("--script")
        .arg(script)
        .args(["--site-id", "99"]);
    cmd
}

fn gdcmanon(input: &Path, output: &Path) -> Command {
    let mut cmd = Command::new("gdcmanon");
    cmd.args(["--dumb", "-r", "--continue", "-i"])
        .arg(input)
        .arg("-o")
        .arg(output);
    for (option, value) in GDCM_EDITS {
        cmd.args([option, value]);
    }
    cmd
}

/// `sh -c script` with `from` and `to` as `$1` and `$2`.
fn shell(script: &str, from: &Path, to: &Path) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).arg("sh").arg(from).arg(to);
    cmd
}

fn cp(input: &Path, output: &Path) -> Command {
    let mut cmd = Command::new("cp");
    cmd.arg("-r").arg(input).arg(output);
    cmd
}

fn fetch(what: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("tests/fetch_reference.sh"))
        .arg(what)
        .output()
        .expect("run fetch_reference.sh");
    assert!(
        out.status.success(),
        "fetch {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn sources(corpus: &Path) -> Vec<dicom_object::DefaultDicomObject> {
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(corpus.join("test_files"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    for p in names {
        if p.extension().is_none_or(|e| e != "dcm") {
            continue;
        }
        if let Ok(obj) = dicom_object::open_file(&p) {
            let ok = [
                tags::SOP_CLASS_UID,
                tags::SOP_INSTANCE_UID,
                tags::STUDY_INSTANCE_UID,
                tags::SERIES_INSTANCE_UID,
            ]
            .iter()
            .all(|t| {
                obj.get(*t)
                    .is_some_and(|e| !e.to_str().unwrap_or_default().trim().is_empty())
            });
            // Only files our reader takes back after dicom-rs writes them.
            let probe =
                std::env::temp_dir().join(format!("bench-probe-{}.dcm", std::process::id()));
            // Room for the suffix that makes each SOPInstanceUID unique.
            let short = obj
                .get(tags::SOP_INSTANCE_UID)
                .is_some_and(|e| e.to_str().unwrap_or_default().len() <= 56);
            let readable = ok
                && short
                && obj.write_to_file(&probe).is_ok()
                && dicom_anonymizer::dicom_file::open(&probe, None).is_ok();
            let _ = std::fs::remove_file(&probe);
            if readable {
                out.push(obj);
            }
        }
    }
    out
}

fn tree_size(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// Copy a tree; with `sync`, each file is fsynced before the next (as
/// `anonymize` makes each output durable before recording it).
fn copy_tree(from: &Path, to: &Path, sync: bool) {
    for e in walkdir::WalkDir::new(from).into_iter().flatten() {
        let rel = e.path().strip_prefix(from).unwrap();
        if e.file_type().is_dir() {
            std::fs::create_dir_all(to.join(rel)).unwrap();
        } else {
            std::fs::copy(e.path(), to.join(rel)).unwrap();
            if sync {
                std::fs::File::open(to.join(rel))
                    .unwrap()
                    .sync_data()
                    .unwrap();
            }
        }
    }
}

fn main() {
    let corpus = fetch("pydicom-corpus");
    let script = fetch("rsna-script");
    let python = fetch("rsna-engine");
    let tmp = tempfile::tempdir().unwrap();
    let root = match std::env::var_os("ANONYMIZE_BENCH_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let _ = std::fs::remove_dir_all(&dir);
            dir
        }
        None => tmp.path().to_path_buf(),
    };
    let input = root.join("in");
    let sources = sources(&corpus);
    for i in 0..FILES {
        let mut obj = sources[i % sources.len()].clone();
        let sop = format!(
            "{}.{}",
            obj.get(tags::SOP_INSTANCE_UID)
                .unwrap()
                .to_str()
                .unwrap()
                .trim_end_matches('\0'),
            i
        );
        // Keep UIDs of even length: the meta group is written as given.
        let sop = if sop.len() % 2 == 1 {
            format!("{sop}.10")
        } else {
            sop
        };
        obj.put(DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(sop.as_str()),
        ));
        let ts = obj
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string();
        let obj = obj
            .into_inner()
            .with_meta(dicom_object::meta::FileMetaTableBuilder::new().transfer_syntax(ts))
            .unwrap();
        let path = input.join(format!("{:02}/{i:05}.dcm", i % 20));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        obj.write_to_file(&path).unwrap();
    }
    let mb = tree_size(&input) as f64 / 1e6;
    println!(
        "corpus: {FILES} files, {mb:.1} MB, from {} distinct pydicom files",
        sources.len()
    );

    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut costs: [Vec<Cost>; 6] = Default::default();
    let names = [
        "cp -r",
        "dicom-anonymizer",
        "gdcmanon --dumb",
        "ours, object path",
        "cp -r + sync -f",
        "ours --sync none",
    ];
    let mut synced = Vec::new();
    let mut streamed = String::new();
    for round in 0..ROUNDS {
        let (copy, _) = measure(&mut cp(&input, &root.join(format!("copy{round}"))));
        costs[0].push(copy);
        let out = root.join(format!("ours{round}"));
        let (run, log) = measure(&mut ours(&input, &out, &script));
        check_summary(&log, &out);
        if let Some(line) = log.lines().find(|l| l.contains("the streaming path")) {
            streamed = line.to_string();
        }
        costs[1].push(run);
        let (gdcm, _) = measure(&mut gdcmanon(&input, &root.join(format!("gdcm{round}"))));
        costs[2].push(gdcm);
        // The same run with every file through dicom-rs's object model.
        let out = root.join(format!("object{round}"));
        let (object, log) = measure(ours(&input, &out, &script).arg("--no-streaming"));
        check_summary(&log, &out);
        costs[3].push(object);
        // The copy made as durable as ours (one syncfs, as `--sync
        // filesystem` does), and ours with no durability at all.
        let (copy_syncfs, _) = measure(&mut shell(
            r#"cp -r "$1" "$2" && sync -f "$2""#,
            &input,
            &root.join(format!("copy-syncfs{round}")),
        ));
        costs[4].push(copy_syncfs);
        let out = root.join(format!("scratch{round}"));
        let (scratch, log) = measure(ours(&input, &out, &script).args(["--sync", "none"]));
        check_summary(&log, &out);
        costs[5].push(scratch);
        let t = Instant::now();
        copy_tree(&input, &root.join(format!("copy-synced{round}")), true);
        synced.push(t.elapsed().as_secs_f64());
        println!(
            "round {round}: wall/CPU s: cp -r {:.2}/{:.2}; ours {:.2}/{:.2}; gdcmanon {:.2}/{:.2}; ours --no-streaming {:.2}/{:.2}; cp -r + sync -f {:.2}; ours --sync none {:.2}/{:.2}; fsynced copy {:.2}",
            copy.wall,
            copy.cpu,
            run.wall,
            run.cpu,
            gdcm.wall,
            gdcm.cpu,
            object.wall,
            object.cpu,
            copy_syncfs.wall,
            scratch.wall,
            scratch.cpu,
            synced[round]
        );
    }
    let wall: Vec<f64> = costs
        .iter()
        .map(|c| median(c.iter().map(|c| c.wall).collect()))
        .collect();
    let cpu: Vec<f64> = costs
        .iter()
        .map(|c| median(c.iter().map(|c| c.cpu).collect()))
        .collect();
    let (copy, copy_synced, ours_wall) = (wall[0], median(synced), wall[1]);
    let subset = root.join("subset");
    for i in 0..RSNA_FILES {
        let rel = format!("{:02}/{i:05}.dcm", i % 20);
        std::fs::create_dir_all(subset.join(&rel).parent().unwrap()).unwrap();
        std::fs::copy(input.join(&rel), subset.join(&rel)).unwrap();
    }
    let t = Instant::now();
    let out = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/rsna_engine.py"))
        .arg("--input")
        .arg(&subset)
        .arg("--output")
        .arg(root.join("rsna"))
        .arg("--script")
        .arg(&script)
        .args([
            "--site-id",
            "99",
            "--uid-root",
            "1.2.826.0.1.3680043.10.474.2",
            "--project-name",
            "BENCH",
        ])
        .output()
        .unwrap();
    let rsna = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let floor = median((0..ROUNDS).map(|_| read_and_encode(&input)).collect());

    let rate = |n: usize, s: f64| n as f64 / s;
    let ours = ours_wall;
    println!("medians of {ROUNDS} rounds:");
    for (i, name) in names.iter().enumerate() {
        println!(
            "{name:<17} wall {:.2} s  CPU {:.2} s  ({:.0} files/s)",
            wall[i],
            cpu[i],
            rate(FILES, wall[i])
        );
    }
    println!(
        "plain copy:        {:8.0} files/s  {:7.1} MB/s  ({copy:.2} s)",
        rate(FILES, copy),
        mb / copy
    );
    println!(
        "copy + fsync each: {:8.0} files/s  {:7.1} MB/s  ({copy_synced:.2} s)",
        rate(FILES, copy_synced),
        mb / copy_synced
    );
    println!(
        "dicom-anonymizer:  {:8.0} files/s  {:7.1} MB/s  ({ours:.2} s, all cores)",
        rate(FILES, ours),
        mb / ours
    );
    println!(
        "dicom-rs read + encode only: {floor:.2} s (all cores, into memory: no rules, no store, no files written)"
    );
    println!(
        "RSNA engine:       {:8.0} files/s  ({rsna:.2} s for the first {RSNA_FILES} files, one thread as in the tool)",
        rate(RSNA_FILES, rsna)
    );
    println!(
        "dicom-anonymizer is {:.0}x the RSNA engine's files/s and takes {:.1}x the time of the copy ({:.1}x the fsynced copy)",
        rate(FILES, ours) / rate(RSNA_FILES, rsna),
        ours / copy,
        ours / copy_synced
    );
    println!(
        "wall, durable against durable: ours {:.2} s, cp -r + sync -f {:.2} s ({:.1}x); neither durable: ours --sync none {:.2} s, cp -r {:.2} s ({:.1}x)",
        ours,
        wall[4],
        ours / wall[4],
        wall[5],
        copy,
        wall[5] / copy
    );
    println!(
        "CPU: dicom-anonymizer {:.2} s, gdcmanon --dumb {:.2} s ({:.2}x gdcmanon's); with every file through the object model {:.2} s",
        cpu[1],
        cpu[2],
        cpu[1] / cpu[2],
        cpu[3]
    );
    println!("streaming path: {streamed} (of {FILES})");

    large_file(&root, &script, &sources, false);
    large_file(&root, &script, &sources, true);
}

/// One file of `LARGE_FRAMES` 512×512 16-bit frames: our time and peak
/// memory beside `cp`'s.
fn large_file(
    root: &Path,
    script: &Path,
    sources: &[dicom_object::DefaultDicomObject],
    encapsulated: bool,
) {
    let input = root.join("large-in");
    std::fs::create_dir_all(&input).unwrap();
    let path = input.join("multiframe.dcm");
    {
        let base = sources
            .iter()
            .find(|o| {
                o.get(tags::MODALITY)
                    .is_some_and(|m| m.to_str().unwrap_or_default().trim() == "CT")
            })
            .unwrap_or(&sources[0]);
        let mut obj = base.clone();
        let frame = 512 * 512 * 2;
        let pixels: Vec<u8> = (0..frame * LARGE_FRAMES).map(|i| (i % 251) as u8).collect();
        for (tag, vr, value) in [
            (tags::ROWS, VR::US, PrimitiveValue::from(512u16)),
            (tags::COLUMNS, VR::US, PrimitiveValue::from(512u16)),
            (tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16)),
            (tags::BITS_STORED, VR::US, PrimitiveValue::from(16u16)),
            (tags::HIGH_BIT, VR::US, PrimitiveValue::from(15u16)),
            (tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
            (
                tags::NUMBER_OF_FRAMES,
                VR::IS,
                PrimitiveValue::from(LARGE_FRAMES.to_string()),
            ),
        ] {
            obj.put(DataElement::new(tag, vr, value));
        }
        if encapsulated {
            // One fragment per frame, as a JPEG-compressed series has
            // (bytes standing for the compressed frames: nothing decodes
            // them here).
            let fragments: Vec<Vec<u8>> = pixels.chunks(frame).map(<[u8]>::to_vec).collect();
            drop(pixels);
            let offsets: Vec<u32> = (0..LARGE_FRAMES as u32)
                .map(|f| f * (frame as u32 + 8))
                .collect();
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                dicom_core::value::Value::PixelSequence(
                    dicom_core::value::PixelFragmentSequence::new(offsets, fragments),
                ),
            ));
        } else {
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U8(pixels.into()),
            ));
        }
        // The pixel data last, as scanners write it (CT_small.dcm has a
        // trailing padding element).
        let after: Vec<_> = obj
            .iter()
            .map(|e| e.header().tag)
            .filter(|t| *t > tags::PIXEL_DATA)
            .collect();
        for tag in after {
            obj.remove_element(tag);
        }
        let obj = obj
            .into_inner()
            .with_meta(
                dicom_object::meta::FileMetaTableBuilder::new().transfer_syntax(if encapsulated {
                    dicom_dictionary_std::uids::JPEG_BASELINE8_BIT
                } else {
                    dicom_dictionary_std::uids::EXPLICIT_VR_LITTLE_ENDIAN
                }),
            )
            .unwrap();
        obj.write_to_file(&path).unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    let out = root.join("large-out");
    let copied_to = root.join("large-copy.dcm");
    let kind = if encapsulated {
        "encapsulated"
    } else {
        "native"
    };
    // Alternating rounds, as above: ours (durable, as by default), ours
    // with `--sync none`, `cp`, and `cp` then `sync` of the copy (the same
    // guarantee as ours by default).
    let mut runs: [Vec<Cost>; 4] = Default::default();
    let mut copied = true;
    for round in 0..LARGE_ROUNDS {
        for (i, sync) in [(0, None), (1, Some("none"))] {
            let _ = std::fs::remove_dir_all(&out);
            let mut cmd = ours(&input, &out, script);
            if let Some(how) = sync {
                cmd.args(["--sync", how]);
            }
            let (run, log) = measure(&mut cmd);
            assert!(log.contains("anonymized 1 files"), "{log}");
            copied &= log.contains("pixel data copied as bytes, not decoded: 1 files");
            runs[i].push(run);
        }
        let _ = std::fs::remove_file(&copied_to);
        runs[2].push(measure(&mut cp(&path, &copied_to)).0);
        let _ = std::fs::remove_file(&copied_to);
        runs[3].push(
            measure(&mut shell(
                r#"cp "$1" "$2" && sync "$2""#,
                &path,
                &copied_to,
            ))
            .0,
        );
        println!(
            "large {kind} file, round {round}: wall s: ours {:.2}; ours --sync none {:.2}; cp {:.2}; cp + sync {:.2}",
            runs[0][round].wall, runs[1][round].wall, runs[2][round].wall, runs[3][round].wall
        );
    }
    let median = |costs: &[Cost], f: fn(&Cost) -> f64| {
        let mut v: Vec<f64> = costs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let wall = |i: usize| median(&runs[i], |c| c.wall);
    let peak = |i: usize| median(&runs[i], |c| c.peak_mb);
    println!(
        "one {size:.0} MB {kind} file ({LARGE_FRAMES} frames), medians of {LARGE_ROUNDS}: dicom-anonymizer {:.2} s, peak {:.0} MB ({}); with --sync none {:.2} s; cp {:.2} s, peak {:.0} MB; cp + sync {:.2} s",
        wall(0),
        peak(0),
        if copied {
            "pixel data copied as bytes"
        } else {
            "read whole"
        },
        wall(1),
        wall(2),
        peak(2),
        wall(3),
    );
    println!(
        "  large {kind} file: ours {:.1}x cp, {:.1}x cp + sync; --sync none {:.1}x cp",
        wall(0) / wall(2),
        wall(0) / wall(3),
        wall(1) / wall(2)
    );
    let _ = std::fs::remove_dir_all(&input);
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_file(root.join("large-copy.dcm"));
}

/// Fail the bench unless `anonymize` took every file.
fn check_summary(summary: &str, output: &Path) {
    if !summary.contains(&format!("anonymized {FILES} files")) {
        let report = std::fs::read_to_string(output.join("quarantine/report.csv"));
        panic!(
            "{summary}\n{}",
            report
                .unwrap_or_default()
                .lines()
                .take(4)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// The floor under `anonymize` set by dicom-rs: every file of `input` read
/// into an in-memory data set and encoded back into a buffer, on all cores,
/// as `anonymize` reads and writes them, with nothing else.
fn read_and_encode(input: &Path) -> f64 {
    use rayon::prelude::*;
    let files: Vec<PathBuf> = walkdir::WalkDir::new(input)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    let t = Instant::now();
    let bytes: usize = files
        .par_iter()
        .map(|path| {
            let obj = dicom_anonymizer::dicom_file::open(path, None).expect("readable");
            let mut out = Vec::new();
            obj.write_all(&mut out).expect("encodable");
            out.len()
        })
        .sum();
    let elapsed = t.elapsed().as_secs_f64();
    assert!(bytes > 0);
    elapsed
}
