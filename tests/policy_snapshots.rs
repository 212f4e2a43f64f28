//! Policy migrations: what each bundled script does to each file of the
//! test corpus (pydicom's test files), as `insta` snapshots under
//! `snapshots/policy/`. A change to a bundled script changes these files,
//! so its review shows exactly which elements of which files change.
//!
//! The view is value-free: per element, its path, keyword, VR, the outcome
//! and the rule's text. Script line numbers are left out, so adding a rule
//! does not touch every snapshot.

mod common;

use dicom_anonymizer::dicom_file;
use dicom_anonymizer::explain::{ElementExplanation, Explainer};
use dicom_anonymizer::functions::rsna::{acc, uid::UidGenerator};
use dicom_anonymizer::interpreter::rsna::{Project, RsnaRules};
use dicom_anonymizer::policy::{HIGH_LEVEL, LOW_LEVEL};
use dicom_anonymizer::script::parse;

fn view(result: Result<Vec<ElementExplanation>, String>) -> String {
    let entries = match result {
        Ok(e) => e,
        Err(e) => return format!("not anonymized: {e}\n"),
    };
    let mut s = String::new();
    for e in entries {
        let keyword = if e.keyword.is_empty() {
            "-"
        } else {
            &e.keyword
        };
        let rule = match &e.rule {
            Some(text) if !text.is_empty() => format!("  {text}"),
            _ => String::new(),
        };
        s.push_str(&format!(
            "{}{} {keyword} {}  {}{rule}\n",
            "  ".repeat(e.depth),
            e.tag,
            e.vr,
            e.outcome
        ));
    }
    s
}

#[test]
fn what_each_bundled_policy_does_to_each_corpus_file() {
    let Some(corpus) = common::reference::pydicom_corpus() else {
        return;
    };
    let uid_root = "1.2.826.0.1.3680043.10.474.2";
    let project = Project {
        site_id: "99".into(),
        project_name: "SNAPSHOT".into(),
        uids: UidGenerator::new(uid_root, "99").unwrap(),
        rsna_exact: false,
    };
    let levels: Vec<(&str, RsnaRules)> = [("low", LOW_LEVEL), ("high", HIGH_LEVEL)]
        .into_iter()
        .map(|(n, s)| (n, RsnaRules::compile(&parse(s).script.unwrap())))
        .collect();

    let mut files: Vec<_> = walkdir::WalkDir::new(&corpus)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let mut index = String::new();
    let mut snapshots = 0;
    for path in &files {
        let rel = path
            .strip_prefix(&corpus)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let obj = match dicom_file::open(path, None) {
            Ok(f) => f.into_inner(),
            Err(e) => {
                index.push_str(&format!("{rel}: not read: {e}\n"));
                continue;
            }
        };
        let mut text = String::new();
        for (level, rules) in &levels {
            let explainer = Explainer {
                rules,
                project: &project,
                accession_salt: acc::salt("99", uid_root),
                show_phi: false,
            };
            text.push_str(&format!("## {level} level\n"));
            text.push_str(&view(explainer.explain(&obj).map_err(|e| e.to_string())));
            text.push('\n');
        }
        index.push_str(&format!("{rel}: snapshot\n"));
        snapshots += 1;
        insta::with_settings!({
            snapshot_path => "../snapshots/policy",
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => format!("pydicom-2.4.4/data/{rel}"),
        }, {
            insta::assert_snapshot!(rel.replace('/', "__"), text);
        });
    }
    println!("{snapshots} corpus files snapshot under snapshots/policy/");
    assert!(
        snapshots > 100,
        "only {snapshots} corpus files could be read"
    );
    insta::with_settings!({
        snapshot_path => "../snapshots/policy",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("_corpus_index", index);
    });
}
