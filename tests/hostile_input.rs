//! Hostile input: files built to crash a run or exhaust its memory cost
//! one quarantine line each, and the good files beside them are written.
//! Each case failed on the main of 2026-11-28: the process aborted (stack
//! overflow, or an allocation of the declared length under a memory cap)
//! and wrote nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::synthetic::mr_file;

/// The reader's nesting limit (`dicom_file::bounded::MAX_DEPTH`).
const MAX_DEPTH: usize = dicom_anonymizer::dicom_file::bounded::MAX_DEPTH;

/// An explicit VR little endian element with a 2-byte length.
fn short(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&group.to_le_bytes());
    b.extend_from_slice(&element.to_le_bytes());
    b.extend_from_slice(vr);
    b.extend_from_slice(&(value.len() as u16).to_le_bytes());
    b.extend_from_slice(value);
    b
}

/// An explicit VR little endian header with a 4-byte length (OB, SQ, UT…).
fn long_header(group: u16, element: u16, vr: &[u8; 2], len: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&group.to_le_bytes());
    b.extend_from_slice(&element.to_le_bytes());
    b.extend_from_slice(vr);
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// An implicit VR little endian header.
fn implicit_header(group: u16, element: u16, len: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&group.to_le_bytes());
    b.extend_from_slice(&element.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b
}

fn item_header(tag_element: u16, len: u32) -> Vec<u8> {
    let mut b = vec![0xFE, 0xFF];
    b.extend_from_slice(&tag_element.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// Even-length UID text.
fn uid(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    if v.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// A part 10 file: preamble, `DICM`, a meta group for `ts`, then `body`.
fn part10(ts: &str, sop: &str, body: &[u8]) -> Vec<u8> {
    let meta = dicom_object::meta::FileMetaTableBuilder::new()
        .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.7")
        .media_storage_sop_instance_uid(sop)
        .transfer_syntax(ts)
        .build()
        .unwrap();
    let mut b = vec![0u8; 128];
    b.extend_from_slice(b"DICM");
    meta.write(&mut b).unwrap();
    b.extend_from_slice(body);
    b
}

/// The elements every file needs, explicit VR, in tag order up to (0010,0010).
fn required_explicit(n: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(short(
        0x0008,
        0x0016,
        b"UI",
        &uid("1.2.840.10008.5.1.4.1.1.7"),
    ));
    b.extend(short(0x0008, 0x0018, b"UI", &uid(&format!("2.25.99{n}.3"))));
    b.extend(short(0x0008, 0x0060, b"CS", b"OT"));
    b.extend(short(0x0010, 0x0010, b"PN", b"Hostile^Harry"));
    b.extend(short(0x0010, 0x0020, b"LO", b"HOSTILE-1"));
    b.extend(short(0x0020, 0x000D, b"UI", &uid(&format!("2.25.99{n}.1"))));
    b.extend(short(0x0020, 0x000E, b"UI", &uid(&format!("2.25.99{n}.2"))));
    b
}

/// A file whose ContentSequence nests `levels` undefined-length sequences.
fn nested_file(n: u32, levels: usize) -> Vec<u8> {
    let mut body = required_explicit(n);
    for _ in 0..levels {
        body.extend(long_header(0x0040, 0xA730, b"SQ", u32::MAX));
        body.extend(item_header(0xE000, u32::MAX));
    }
    body.extend(long_header(0x0040, 0xA160, b"UT", 8));
    body.extend_from_slice(b"deepest!");
    for _ in 0..levels {
        body.extend(item_header(0xE00D, 0));
        body.extend(item_header(0xE0DD, 0));
    }
    part10("1.2.840.10008.1.2.1", &format!("2.25.99{n}.3"), &body)
}

/// A file whose last element declares `len` bytes that are not there.
fn inflated_explicit(n: u32, vr: &[u8; 2], len: u32) -> Vec<u8> {
    let mut body = required_explicit(n);
    body.extend(long_header(0x0040, 0xA160, vr, len));
    body.extend_from_slice(&[b'x'; 64]);
    part10("1.2.840.10008.1.2.1", &format!("2.25.99{n}.3"), &body)
}

/// An implicit VR file whose PatientName (LO/PN) declares `len` bytes.
fn inflated_implicit(n: u32, len: u32) -> Vec<u8> {
    let mut body = Vec::new();
    for (element, value) in [
        (0x0016u16, uid("1.2.840.10008.5.1.4.1.1.7")),
        (0x0018, uid(&format!("2.25.99{n}.3"))),
    ] {
        body.extend(implicit_header(0x0008, element, value.len() as u32));
        body.extend(value);
    }
    for (element, value) in [
        (0x000Du16, uid(&format!("2.25.99{n}.1"))),
        (0x000E, uid(&format!("2.25.99{n}.2"))),
    ] {
        body.extend(implicit_header(0x0020, element, value.len() as u32));
        body.extend(value);
    }
    // Out of tag order on purpose: the reader does not require order.
    body.extend(implicit_header(0x0010, 0x0010, len));
    body.extend_from_slice(&[b'y'; 64]);
    part10("1.2.840.10008.1.2", &format!("2.25.99{n}.3"), &body)
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dicom-anonymizer"))
}

/// Run the binary with its address space capped at `cap_mib` MiB, as
/// `prlimit --as` does: an allocation of a declared length would abort it.
fn run_capped(cap_mib: u64, args: &[&str]) -> Output {
    let mut cmd = Command::new(binary());
    cmd.args(args);
    common::limits::cap_address_space(&mut cmd, cap_mib << 20);
    cmd.output().unwrap()
}

/// `anonymize` of `input` into `output` with `script`, capped as
/// [`run_capped`], with `extra` arguments.
fn anonymize_capped(
    cap_mib: u64,
    input: &Path,
    output: &Path,
    script: &str,
    extra: &[&str],
) -> Output {
    let mut args = vec![
        "anonymize",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--script",
        script,
        "--site-id",
        "7",
    ];
    args.extend_from_slice(extra);
    run_capped(cap_mib, &args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn report(output: &Path) -> String {
    std::fs::read_to_string(output.join("quarantine/report.csv")).unwrap_or_default()
}

/// The line of `report.csv` about `name`.
fn report_line(output: &Path, name: &str) -> String {
    report(output)
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no report line for {name}:\n{}", report(output)))
        .to_string()
}

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/scripts/valid/rsna_small.script"
);

#[test]
fn deep_nesting_and_inflated_lengths_each_cost_one_quarantine_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let output = dir.path().join("out");
    std::fs::create_dir_all(&input).unwrap();
    mr_file(&input.join("a_good.dcm"), 1, "Good^One", "041Y");
    std::fs::write(input.join("b_nested.dcm"), nested_file(2, 2_000)).unwrap();
    std::fs::write(
        input.join("c_ut_huge.dcm"),
        inflated_explicit(3, b"UT", 0xFFFF_FFF0),
    )
    .unwrap();
    std::fs::write(
        input.join("d_ob_huge.dcm"),
        inflated_explicit(4, b"OB", 0x7FFF_FFF0),
    )
    .unwrap();
    std::fs::write(
        input.join("e_lo_implicit.dcm"),
        inflated_implicit(5, 0x7FFF_FFF0),
    )
    .unwrap();
    mr_file(&input.join("z_good.dcm"), 6, "Good^Two", "052Y");

    let out = anonymize_capped(1024, &input, &output, SCRIPT, &["--jobs", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(output.join("a_good.dcm").is_file(), "{}", stderr(&out));
    assert!(output.join("z_good.dcm").is_file(), "{}", stderr(&out));
    let nested = report_line(&output, "b_nested.dcm");
    assert!(nested.contains("DICOM_Read_Error"), "{nested}");
    assert!(
        nested.contains(&format!(
            "nested deeper than {MAX_DEPTH} levels at (0040,A730)"
        )),
        "{nested}"
    );
    for (name, tag, len) in [
        ("c_ut_huge.dcm", "(0040,A160)", 0xFFFF_FFF0u32),
        ("d_ob_huge.dcm", "(0040,A160)", 0x7FFF_FFF0),
        ("e_lo_implicit.dcm", "(0010,0010)", 0x7FFF_FFF0),
    ] {
        let line = report_line(&output, name);
        assert!(line.contains("DICOM_Read_Error"), "{line}");
        assert!(
            line.contains(&format!("{tag} declares {len} bytes at byte")),
            "{line}"
        );
        assert!(line.contains("but only 64 remain"), "{line}");
        assert!(
            output
                .join("quarantine/DICOM_Read_Error")
                .join(name)
                .is_file(),
            "{name} copied to the quarantine"
        );
    }
}

#[test]
fn nesting_at_the_limit_is_read_and_anonymized_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let file = input.join("deep.dcm");
    std::fs::write(&file, nested_file(7, MAX_DEPTH)).unwrap();
    // A script that keeps the nested sequence, so every level is walked.
    let script = dir.path().join("keep_content.script");
    std::fs::write(
        &script,
        std::fs::read_to_string(SCRIPT).unwrap().replace(
            "</script>",
            "  <e en=\"T\" t=\"0040A730\" n=\"ContentSequence\"></e>\n  <e en=\"T\" t=\"0040A160\" n=\"TextValue\"></e>\n</script>",
        ),
    )
    .unwrap();
    for (dialect, script) in [
        ("rsna", script.to_str().unwrap()),
        ("rsna", "high"),
        (
            "ctp",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/scripts/valid/ctp_reference.script"
            ),
        ),
    ] {
        let output = dir.path().join(format!("out-{dialect}-{}", script.len()));
        let out = anonymize_capped(
            2048,
            &input,
            &output,
            script,
            &["--dialect", dialect, "--no-deface"],
        );
        assert_eq!(out.status.code(), Some(0), "{script}: {}", stderr(&out));
        assert!(output.join("deep.dcm").is_file(), "{script}");
    }
    let kept = dicom_object::open_file(
        dir.path()
            .join(format!("out-rsna-{}", script.to_str().unwrap().len()))
            .join("deep.dcm"),
    )
    .unwrap();
    let mut depth = 0;
    let mut item = kept.into_inner();
    while let Some(next) = item
        .get(dicom_dictionary_std::tags::CONTENT_SEQUENCE)
        .and_then(|e| e.items().and_then(|items| items.first().cloned()))
    {
        depth += 1;
        item = next;
    }
    assert_eq!(depth, MAX_DEPTH, "every level written");

    let explain = run_capped(
        2048,
        &[
            "explain",
            "--script",
            script.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(explain.status.code(), Some(0), "{}", stderr(&explain));
    let diff = run_capped(
        2048,
        &[
            "diff",
            "--from",
            "low",
            "--to",
            "high",
            "--input",
            input.to_str().unwrap(),
        ],
    );
    assert!(
        matches!(diff.status.code(), Some(0 | 1)),
        "{}",
        stderr(&diff)
    );
}

#[test]
fn explain_diff_and_deface_refuse_a_too_deep_file_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let subject = dir.path().join("in/sub001");
    std::fs::create_dir_all(&subject).unwrap();
    let file = subject.join("nested.dcm");
    std::fs::write(&file, nested_file(8, 2_000)).unwrap();
    let explain = run_capped(
        2048,
        &["explain", "--script", "high", file.to_str().unwrap()],
    );
    assert_eq!(explain.status.code(), Some(2), "{}", stderr(&explain));
    assert!(
        stderr(&explain).contains("nested deeper than"),
        "{}",
        stderr(&explain)
    );

    let input = dir.path().join("in");
    let diff = run_capped(
        2048,
        &[
            "diff",
            "--from",
            "low",
            "--to",
            "high",
            "--input",
            subject.to_str().unwrap(),
        ],
    );
    assert!(
        diff.status.code().is_some(),
        "diff ended by a signal: {}",
        stderr(&diff)
    );

    let out = dir.path().join("defaced");
    let deface = run_capped(
        2048,
        &[
            "deface",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(deface.status.code(), Some(1), "{}", stderr(&deface));
}

#[test]
fn check_refuses_calls_nested_beyond_the_limit_at_their_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    for levels in [2_000usize, 10_000] {
        let mut rule = String::new();
        for _ in 0..levels {
            rule.push_str("@if(this,isblank){");
        }
        rule.push_str("@remove()");
        for _ in 0..levels {
            rule.push_str("}{@keep()}");
        }
        let script = dir.path().join(format!("deep{levels}.script"));
        std::fs::write(
            &script,
            format!(
                "<script>\n<e en=\"T\" t=\"00100010\" n=\"PatientName\">{rule}</e>\n</script>\n"
            ),
        )
        .unwrap();
        let out = run_capped(
            2048,
            &["check", "--dialect", "ctp", script.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        // Column of the call that is one level too deep.
        let column = 40 + MAX_EXPR_DEPTH * "@if(this,isblank){".len();
        let expected = format!(
            "{}:2:{column}: error: calls are nested more than {MAX_EXPR_DEPTH} levels deep",
            script.display()
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&expected)
                || stderr(&out).contains(&expected),
            "{expected}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
    }
}

const MAX_EXPR_DEPTH: usize = dicom_anonymizer::script::expr_parser::MAX_EXPR_DEPTH;
