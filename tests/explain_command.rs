//! `dicom-anonymizer explain`: the rule, line, outcome and values of every
//! element, with PHI hidden unless asked for.

mod common;

use std::process::{Command, Output};

use dicom_anonymizer::policy::HIGH_LEVEL;

fn explain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .arg("explain")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn explains_each_element_with_phi_hidden_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.dcm");
    common::synthetic::mr_file(&file, 1, "Secret^Patient", "047Y");
    let out = explain(&["--script", "high", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    for phi in [
        "Secret^Patient",
        "MRN-1",
        "Saint Synthetic Hospital",
        "Nested^Name",
        "20200115",
    ] {
        assert!(
            !text.contains(phi),
            "{phi} shown without --show-phi:\n{text}"
        );
    }
    assert!(text.contains("(0010,1010) PatientAge AS  line "), "{text}");
    assert!(
        text.contains("@agegroup(this,5)  binned  (hidden) → \"045Y\""),
        "{text}"
    );
    assert!(
        text.contains("(0008,0080) InstitutionName LO  no rule  removed  (hidden) → (gone)"),
        "{text}"
    );
    assert!(
        text.contains("(0029,1001) - LO  no rule  removed (private)"),
        "{text}"
    );
    // The sequence's item is explained, indented under it.
    assert!(
        text.contains("\n  (0010,0010) PatientName PN  line "),
        "{text}"
    );
    // What the engine adds after the script.
    assert!(
        text.contains("(0012,0062) PatientIdentityRemoved CS  no rule  added  (absent) → \"YES\""),
        "{text}"
    );

    let shown = stdout(&explain(&[
        "--script",
        "high",
        "--show-phi",
        file.to_str().unwrap(),
    ]));
    assert!(shown.contains("\"Secret^Patient\" → \"\""), "{shown}");
    assert!(shown.contains("\"047Y\" → \"045Y\""), "{shown}");
}

#[test]
fn json_names_the_script_line_of_each_rule() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.dcm");
    common::synthetic::mr_file(&file, 2, "Secret^Patient", "033Y");
    let out = explain(&[
        "--script",
        "high",
        "--format",
        "json",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let lines: Vec<&str> = HIGH_LEVEL.lines().collect();
    let mut with_rule = 0;
    for e in &entries {
        assert!(
            e.get("before").is_none(),
            "PHI in JSON without --show-phi: {e}"
        );
        if let Some(line) = e["line"].as_u64() {
            let tag = e["tag"].as_str().unwrap().replace(['(', ')', ','], "");
            assert!(
                lines[line as usize - 1].contains(&format!("t=\"{tag}\"")),
                "line {line} is not the rule for {tag}: {}",
                lines[line as usize - 1]
            );
            with_rule += 1;
        }
    }
    assert!(with_rule >= 8, "{entries:#?}");
    let age = entries
        .iter()
        .find(|e| e["keyword"] == "PatientAge")
        .unwrap();
    assert_eq!(age["outcome"], "binned");
    assert_eq!(age["after"], "030Y");
    assert_eq!(age["depth"], 0);
}

#[test]
fn bad_input_is_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.dcm");
    let out = explain(&["--script", "low", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.dcm"));

    // Previews cover the rsna dialect only, and say so.
    let out = explain(&[
        "--dialect",
        "ctp",
        "--script",
        "low",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ctp dialect"));

    let script = dir.path().join("bad.script");
    std::fs::write(
        &script,
        "<script>\n <e en=\"T\" t=\"00100010\">@hsah(this)</e>\n</script>\n",
    )
    .unwrap();
    let file = dir.path().join("a.dcm");
    common::synthetic::mr_file(&file, 3, "X^Y", "040Y");
    let out = explain(&["--script", script.to_str().unwrap(), file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.script:2:"), "{stderr}");
}

#[test]
fn names_the_filter_result_and_the_matching_signature_with_its_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.dcm");
    common::synthetic::mr_file(&file, 1, "Secret^Patient", "047Y");
    let pixel = dir.path().join("p.script");
    std::fs::write(
        &pixel,
        "Library\n{ Modality.equals(\"CT\") }\n(0,0,5,5)\n\n{ Modality.equals(\"MR\") *\n  PatientName.startsWith(\"Secret\") }\n(0,0,10,4) (-3,2,100,1)\n",
    )
    .unwrap();
    let filter = dir.path().join("f.filter");
    std::fs::write(&filter, "!Modality.equals(\"MR\")").unwrap();
    let (p, f) = (pixel.to_str().unwrap(), filter.to_str().unwrap());
    let file = file.to_str().unwrap();
    let out = explain(&["--script", "low", "--pixel-script", p, "--filter", f, file]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("does not pass the file"), "{text}");
    assert!(text.contains("signature 2 (line 5) matches"), "{text}");
    // No Rows or Columns in this file: the regions blank nothing.
    assert!(
        text.contains("region (0, 0, 10, 4) blanks nothing"),
        "{text}"
    );
    let out = explain(&[
        "--script",
        "low",
        "--pixel-script",
        p,
        "--format",
        "json",
        file,
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["pixel_script"]["signature"], 2);
    assert_eq!(json["pixel_script"]["regions"][1]["x"], -3);
    assert!(json["elements"].as_array().is_some_and(|e| !e.is_empty()));
}
