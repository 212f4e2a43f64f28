//! `anonymize` on hostile trees: file names that are not UTF-8 or are
//! 250 bytes long, inputs that would land on the output's own files, a
//! broken copy of a good file, private inputs, unreadable directories,
//! symbolic links and FIFOs, and a second run on the same store. Each
//! lost an output, exposed PHI or ended the run on the main of 2026-11-28.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::synthetic::mr_file;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/scripts/valid/rsna_small.script"
);

fn anonymize(input: &Path, output: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args(["anonymize", "--input"])
        .arg(input)
        .arg("--output")
        .arg(output)
        .args(["--script", SCRIPT, "--site-id", "7"])
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A copy of `good` cut inside its pixel data: its header reads, its
/// whole does not.
fn truncated_copy(good: &Path, to: &Path) {
    let bytes = std::fs::read(good).unwrap();
    std::fs::write(to, &bytes[..bytes.len() - 10]).unwrap();
}

fn report(output: &Path) -> String {
    std::fs::read_to_string(output.join("quarantine/report.csv")).unwrap_or_default()
}

#[test]
fn names_that_are_not_utf8_keep_their_bytes_and_never_collide() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let names = [&b"a\xe9.dcm"[..], b"a\xff.dcm", b"a%E9.dcm"];
    for (n, name) in names.iter().enumerate() {
        mr_file(
            &input.join(OsStr::from_bytes(name)),
            10 + n as u32,
            "Doe^Jane",
            "041Y",
        );
    }
    let output = dir.path().join("out");
    let out = anonymize(&input, &output, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("anonymized 3 files"),
        "{}",
        stderr(&out)
    );
    for name in names {
        assert!(
            output.join(OsStr::from_bytes(name)).is_file(),
            "{}",
            String::from_utf8_lossy(name)
        );
    }
    // A second run finds all three done.
    let again = anonymize(&input, &output, &[]);
    assert!(
        stderr(&again).contains("already done 3"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn inputs_that_would_land_on_the_outputs_own_files_are_refused_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    mr_file(
        &input.join(".anonymizer/store.sqlite"),
        20,
        "Store^Clobber",
        "041Y",
    );
    mr_file(
        &input.join("quarantine/report.csv"),
        21,
        "Report^Clobber",
        "041Y",
    );
    mr_file(
        &input.join("quarantine/DICOM_Read_Error/x.dcm"),
        22,
        "Copy^Clobber",
        "041Y",
    );
    mr_file(&input.join(".anon-tmp-1-1"), 23, "Temp^Name", "041Y");
    // Read errors are quarantined whole by the header step: cut the header.
    mr_file(&dir.path().join("x-good.dcm"), 24, "Broken^Header", "041Y");
    let bytes = std::fs::read(dir.path().join("x-good.dcm")).unwrap();
    std::fs::write(input.join("x.dcm"), &bytes[..300]).unwrap();
    mr_file(&input.join("ok.dcm"), 25, "Good^One", "041Y");
    let output = dir.path().join("out");
    let out = anonymize(&input, &output, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("refused 4"), "{err}");
    for name in [
        ".anonymizer/store.sqlite",
        "quarantine/report.csv",
        "quarantine/DICOM_Read_Error/x.dcm",
        ".anon-tmp-1-1",
    ] {
        assert!(err.contains(&format!("refused {name}")), "{name}: {err}");
        assert!(report(&output).contains(name), "{name} in the report");
    }
    assert!(output.join("ok.dcm").is_file());
    assert!(report(&output).starts_with("source,reason,detail\n"));
    assert_eq!(
        std::fs::read(output.join("quarantine/DICOM_Read_Error/x.dcm")).unwrap(),
        &bytes[..300],
        "the quarantine copy is the broken file's"
    );
    let export = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args(["lookup", "export", "--store"])
        .arg(output.join(".anonymizer/store.sqlite"))
        .output()
        .unwrap();
    assert_eq!(
        export.status.code(),
        Some(0),
        "the store is intact: {}",
        stderr(&export)
    );
}

/// Anonymize `input`, where `broken` is a truncated copy of `good`: the
/// good file is written, the broken one quarantined, and neither is taken
/// as a duplicate of the other; `anonymized` files in all.
fn assert_the_good_twin_is_kept(input: &Path, good: &str, broken: &str, anonymized: usize) {
    let output = input.with_file_name("out");
    let out = anonymize(input, &output, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(output.join(good).is_file(), "{err}");
    let quarantined = output.join("quarantine/DICOM_Read_Error").join(broken);
    assert!(quarantined.is_file(), "{}", report(&output));
    assert!(
        err.contains(&format!("anonymized {anonymized} files")),
        "{err}"
    );
    assert!(err.contains("duplicate SOPInstanceUID 0"), "{err}");
}

#[test]
fn a_broken_copy_never_hides_its_good_twin() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    mr_file(&input.join("b_good.dcm"), 30, "Twin^Good", "041Y");
    truncated_copy(&input.join("b_good.dcm"), &input.join("a_broken.dcm"));
    assert_the_good_twin_is_kept(&input, "b_good.dcm", "a_broken.dcm", 1);
}

#[test]
fn a_broken_copy_at_the_end_of_a_chunk_never_hides_its_good_twin_in_the_next() {
    // The batch takes files in chunks of 512, in path order, and captures a
    // chunk's identities while the chunk before is still being committed:
    // the broken copy is the 512th file, its good twin the 513th.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    for n in 0..511 {
        let filler = input.join(format!("f{n:03}.dcm"));
        mr_file(&filler, 100 + n, "Filler^F", "050Y");
    }
    mr_file(&input.join("h_good.dcm"), 30, "Twin^Good", "041Y");
    truncated_copy(&input.join("h_good.dcm"), &input.join("g_broken.dcm"));
    assert_the_good_twin_is_kept(&input, "h_good.dcm", "g_broken.dcm", 512);
}

#[test]
fn quarantine_report_and_store_are_owner_only_and_the_report_is_current() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    mr_file(&dir.path().join("good.dcm"), 40, "Private^File", "041Y");
    let bytes = std::fs::read(dir.path().join("good.dcm")).unwrap();
    std::fs::create_dir_all(input.join("sub")).unwrap();
    let broken = input.join("sub/=cmd|calc.dcm");
    std::fs::write(&broken, &bytes[..300]).unwrap();
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o600)).unwrap();
    let output = dir.path().join("out");
    let out = anonymize(&input, &output, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let q = output.join("quarantine");
    assert_eq!(mode(&q), 0o700, "quarantine/");
    assert_eq!(mode(&q.join("DICOM_Read_Error/sub/=cmd|calc.dcm")), 0o600);
    assert_eq!(mode(&q.join("report.csv")), 0o600);
    assert_eq!(mode(&output.join(".anonymizer")), 0o700);
    assert_eq!(mode(&output.join(".anonymizer/store.sqlite")), 0o600);
    assert!(
        report(&output).contains("\nsub/=cmd|calc.dcm,"),
        "a path is not a formula once it is inside a directory: {}",
        report(&output)
    );

    // A store others could read is narrowed, with a warning.
    let store = output.join(".anonymizer/store.sqlite");
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).unwrap();
    // The broken file is mended: the next run leaves no stale report.
    std::fs::write(&broken, &bytes).unwrap();
    let again = anonymize(&input, &output, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("could be read by others"),
        "{}",
        stderr(&again)
    );
    assert_eq!(mode(&store), 0o600);
    assert!(
        !q.join("report.csv").exists(),
        "no stale report after a clean resume"
    );
}

#[test]
fn a_report_cell_that_looks_like_a_formula_is_written_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    mr_file(&dir.path().join("good.dcm"), 45, "Formula^Name", "041Y");
    let bytes = std::fs::read(dir.path().join("good.dcm")).unwrap();
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("=HYPERLINK(1).dcm"), &bytes[..300]).unwrap();
    std::fs::write(input.join("@SUM(1).dcm"), &bytes[..300]).unwrap();
    let output = dir.path().join("out");
    anonymize(&input, &output, &[]);
    let report = report(&output);
    assert!(report.contains("\n'=HYPERLINK(1).dcm,"), "{report}");
    assert!(report.contains("\n'@SUM(1).dcm,"), "{report}");
}

#[test]
fn names_of_250_bytes_are_written_and_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let long = |c: char| format!("{}.dcm", c.to_string().repeat(246));
    mr_file(&input.join(long('g')), 50, "Long^Name", "041Y");
    truncated_copy(&input.join(long('g')), &input.join(long('b')));
    // (a distinct instance, so it is not a duplicate)
    mr_file(&dir.path().join("other.dcm"), 51, "Long^Broken", "041Y");
    truncated_copy(&dir.path().join("other.dcm"), &input.join(long('b')));
    let output = dir.path().join("out");
    let out = anonymize(&input, &output, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(output.join(long('g')).is_file(), "{}", stderr(&out));
    assert!(
        output
            .join("quarantine/DICOM_Read_Error")
            .join(long('b'))
            .is_file(),
        "{}",
        report(&output)
    );
    assert!(!report(&output).contains("copy to quarantine failed"));
}

#[test]
fn symbolic_links_and_fifos_are_counted_and_broken_links_named() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    mr_file(
        &dir.path().join("elsewhere/linked.dcm"),
        60,
        "Linked^File",
        "041Y",
    );
    mr_file(&input.join("plain.dcm"), 61, "Plain^File", "041Y");
    std::os::unix::fs::symlink(
        dir.path().join("elsewhere/linked.dcm"),
        input.join("link.dcm"),
    )
    .unwrap();
    std::os::unix::fs::symlink(dir.path().join("nowhere.dcm"), input.join("dangling.dcm")).unwrap();
    let fifo = input.join("pipe");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);

    let output = dir.path().join("out");
    let out = anonymize(&input, &output, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("anonymized 1 files"), "{err}");
    assert!(err.contains("symbolic links skipped 2"), "{err}");
    assert!(err.contains("special files skipped 1"), "{err}");

    let followed = dir.path().join("out-followed");
    let out = anonymize(&input, &followed, &["--follow-symlinks"]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the dangling link is unreadable: {err}"
    );
    assert!(followed.join("link.dcm").is_file(), "{err}");
    assert!(err.contains("cannot read dangling.dcm"), "{err}");
    assert!(
        report(&followed).contains("dangling.dcm,unreadable,"),
        "{}",
        report(&followed)
    );
}

/// The binary and the script, to run `anonymize` from `dir` (world-
/// readable): as `nobody` when the tests run as root, since root reads any
/// directory. `nobody` may not be able to reach the build tree (a clone
/// under a private directory), so both are copied into `dir` first.
fn anonymize_as_nobody_if_root(dir: &Path) -> Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"));
        cmd.args(["anonymize", "--script", SCRIPT]);
        return cmd;
    }
    let binary = dir.join("dicom-anonymizer");
    let script = dir.join("script.script");
    std::fs::copy(env!("CARGO_BIN_EXE_dicom-anonymizer"), &binary).unwrap();
    std::fs::copy(SCRIPT, &script).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = Command::new(binary);
    cmd.arg("anonymize").arg("--script").arg(script);
    cmd.uid(65534).gid(65534);
    cmd
}

/// Run `cmd` to its end. Executing a binary this process just copied
/// can fail with "Text file busy" (ETXTBSY) while another test thread's
/// child, forked before it execs, still holds the copy's write descriptor:
/// tried again after a pause.
fn output_when_not_busy(cmd: &mut Command) -> std::process::Output {
    for _ in 0..50 {
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            other => return other.unwrap(),
        }
    }
    panic!("the copied binary stayed busy for 5 s");
}

#[test]
fn an_unreadable_directory_is_named_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let input = dir.path().join("in");
    mr_file(&input.join("a/readable.dcm"), 70, "Readable^File", "041Y");
    mr_file(
        &input.join("b/locked/hidden.dcm"),
        71,
        "Locked^File",
        "041Y",
    );
    mr_file(&input.join("c/readable.dcm"), 72, "Readable^Too", "041Y");
    for d in walk_dirs(&input) {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for f in [&input.join("a/readable.dcm"), &input.join("c/readable.dcm")] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(
        input.join("b/locked"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let output = dir.path().join("out");
    let mut cmd = anonymize_as_nobody_if_root(dir.path());
    let out = cmd
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .args(["--site-id", "7"]);
    let out = output_when_not_busy(out);
    std::fs::set_permissions(
        input.join("b/locked"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot read b/locked"), "{err}");
    assert!(err.contains("anonymized 2 files"), "{err}");
    assert!(
        report(&output).contains("b/locked,unreadable,"),
        "{}",
        report(&output)
    );
}

fn walk_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![root.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        for e in std::fs::read_dir(&dirs[i]).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            }
        }
        i += 1;
    }
    dirs
}

#[test]
fn a_second_run_on_the_same_store_waits_for_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    for n in 0..300 {
        mr_file(
            &input.join(format!("f{n:03}.dcm")),
            1000 + n,
            "Many^Files",
            "041Y",
        );
    }
    let store = dir.path().join("shared.sqlite");
    let spawn = |out: &str| {
        Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
            .args(["anonymize", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(dir.path().join(out))
            .args([
                "--script",
                SCRIPT,
                "--site-id",
                "7",
                "--jobs",
                "1",
                "--store",
            ])
            .arg(&store)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn("out1");
    std::thread::sleep(std::time::Duration::from_millis(50));
    let second = spawn("out2");
    let (first, second) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    for out in ["out1", "out2"] {
        let written = std::fs::read_dir(dir.path().join(out))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some(OsStr::new("dcm")))
            .count();
        assert_eq!(written, 300, "{out}");
    }
}

#[test]
fn an_output_inside_the_input_is_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    mr_file(&input.join("a.dcm"), 80, "Nested^Output", "041Y");
    let out = anonymize(&input, &input.join("out/deeper"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("must not contain one another"),
        "{}",
        stderr(&out)
    );
    assert!(
        !input.join("out").exists(),
        "nothing created inside the input"
    );
}

#[test]
fn jobs_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    mr_file(&input.join("a.dcm"), 90, "Many^Jobs", "041Y");
    let out = anonymize(&input, &dir.path().join("out"), &["--jobs", "100000"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--jobs 100000 is more than 256; using 256"),
        "{}",
        stderr(&out)
    );
}
