//! `dicom-anonymizer check`: output formats and exit statuses.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run dicom-anonymizer")
}

const VALID: &str = "tests/scripts/valid/ctp_every_construct.script";
const BROKEN: &str = "tests/scripts/broken/ctp/invalid-regex.script";

#[test]
fn exit_status_is_0_without_errors_1_with_errors_2_on_usage_errors() {
    assert_eq!(
        run(&["check", "--dialect", "ctp", VALID]).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&["check", "--dialect", "ctp", VALID, BROKEN])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(run(&["check"]).status.code(), Some(2));
    assert_eq!(
        run(&["check", "--dialect", "dcmtk", VALID]).status.code(),
        Some(2)
    );
    let missing = run(&["check", "no/such.script"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such.script"));
}

#[test]
fn text_output_names_file_line_and_column_and_counts() {
    let out = run(&["check", "--dialect", "ctp", BROKEN]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with(&format!(
            "{BROKEN}:3:56: error: `@contents` cannot use this: regular expression \"(Doe\""
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("= help: CTP would quarantine every object this rule reaches"),
        "{stdout}"
    );
    assert!(
        stdout
            .trim_end()
            .ends_with("1 file: 5 errors, 1 warning, 1 note (ctp dialect)"),
        "{stdout}"
    );
}

#[test]
fn json_output_is_an_array_of_located_diagnostics() {
    let out = run(&["check", "--dialect", "ctp", "--format", "json", BROKEN]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let first = &v.as_array().expect("array")[0];
    assert_eq!(first["file"], BROKEN);
    assert_eq!(first["line"], 3);
    assert_eq!(first["column"], 56);
    assert_eq!(first["end_column"], 62);
    assert_eq!(first["severity"], "error");
    assert_eq!(first["code"], "invalid-regex");
}

#[test]
fn ast_output_keeps_the_envelope_apart_from_expressions_with_spans() {
    let out = run(&["check", "--ast", VALID]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["file"], VALID);
    let items = v["script"]["items"].as_array().unwrap();
    let param = items.iter().find(|i| i["kind"] == "param").unwrap();
    assert_eq!(param["name"]["value"], "UIDROOT");
    assert_eq!(param["span"]["line"], 5);
    let hashuid = items
        .iter()
        .find(|i| i["kind"] == "element" && i["tag_text"]["value"] == "00080018")
        .unwrap();
    let call = &hashuid["expr"]["parts"][0];
    assert_eq!(call["kind"], "call");
    assert_eq!(call["name"]["value"], "hashuid");
    assert_eq!(
        call["args"][0]["value"],
        serde_json::json!({"kind": "param", "value": "UIDROOT"})
    );
    assert_eq!(call["args"][1]["value"]["kind"], "this");
    assert_eq!(call["span"]["line"], 15);
    assert_eq!(call["span"]["column"], 44);
}

#[test]
fn a_file_that_is_not_utf8_is_a_usage_error_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("dicom-anonymizer-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("latin1.script");
    std::fs::write(
        &path,
        b"<script>\n <e en=\"T\" t=\"00100010\">M\xfcller</e>\n</script>\n",
    )
    .unwrap();
    let out = run(&["check", path.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("latin1.script") && stderr.contains("not UTF-8"),
        "{stderr}"
    );
}
