//! The parser and checker never panic, whatever bytes they are given:
//! arbitrary text, and random edits of a real script (which reach far deeper
//! into the grammar than random text does). CI runs more cases
//! (`PARSER_FUZZ_CASES`), bounded in time.

use dicom_anonymizer::check::check;
use dicom_anonymizer::dialect::Dialect;
use dicom_anonymizer::script::{parse, print_script};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PARSER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

const SEED: &str = include_str!("scripts/valid/ctp_every_construct.script");

fn exercise(text: &str) {
    let parsed = parse(text);
    for dialect in [Dialect::Rsna, Dialect::Ctp] {
        for d in check(&parsed, dialect) {
            let _ = d.render("fuzz", text, &parsed.lines);
        }
    }
    if let Some(script) = &parsed.script {
        let _ = parse(&print_script(script));
    }
}

/// One edit: delete, insert or replace a short run at a position.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    Replace(usize, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    let chunk = prop_oneof![
        "[<>/&;@(){}\\[\\],\"'\\\\=:!?-]{1,3}",
        prop::sample::select(
            &[
                "<e",
                "</e>",
                "<!--",
                "-->",
                "<![CDATA[",
                "]]>",
                "@if(",
                "){",
                "}{",
                "&amp;",
                "&#x",
                "::",
                "root:"
            ][..]
        )
        .prop_map(str::to_string),
        any::<String>().prop_map(|s| s.chars().take(4).collect()),
    ];
    prop_oneof![
        (any::<usize>(), 1usize..8).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), chunk.clone()).prop_map(|(p, s)| Edit::Insert(p, s)),
        (any::<usize>(), chunk).prop_map(|(p, s)| Edit::Replace(p, s)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let len = chars.len().max(1);
        match e {
            Edit::Delete(p, n) => {
                let p = p % len;
                let end = (p + n).min(chars.len());
                chars.drain(p.min(end)..end);
            }
            Edit::Insert(p, s) => {
                let p = p % (chars.len() + 1);
                chars.splice(p..p, s.chars());
            }
            Edit::Replace(p, s) => {
                let p = p % len;
                let end = (p + s.chars().count()).min(chars.len());
                chars.splice(p.min(end)..end, s.chars());
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        exercise(&text);
        exercise(&format!("<script><e en=\"T\" t=\"00100010\">{text}</e></script>"));
    }

    #[test]
    fn edited_real_scripts_never_panic(edits in prop::collection::vec(edit(), 1..6)) {
        exercise(&apply(SEED, &edits));
    }
}
