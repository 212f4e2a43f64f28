//! The RSNA DICOM Anonymizer's own `default-anonymizer.script` (from its
//! PyPI wheel, fetched by `tests/fetch_reference.sh`) parses, unchanged, and
//! checks clean in the rsna dialect.

mod common;

use dicom_anonymizer::check::check;
use dicom_anonymizer::diagnostic::Severity;
use dicom_anonymizer::dialect::Dialect;
use dicom_anonymizer::script::ast::{ArgValue, Item, Part, RemoveTarget, TagSpec};
use dicom_anonymizer::script::{parse, print_script};

#[test]
fn rsna_default_script_parses_and_checks_clean() {
    let Some(path) = common::reference::rsna_default_script() else {
        return;
    };
    let source = std::fs::read_to_string(&path).expect("read");
    let parsed = parse(&source);
    let script = parsed
        .script
        .as_ref()
        .expect("the RSNA default script parses");
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);

    let rules: Vec<_> = script
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Element(e) => Some(e),
            _ => None,
        })
        .collect();
    assert!(rules.len() > 4600, "{} element rules", rules.len());
    assert!(rules.iter().all(|r| r.expr.is_some() && r.tag.is_some()));
    assert!(
        script
            .items
            .iter()
            .any(|i| matches!(i, Item::Remove(r) if r.target == Some(RemoveTarget::PrivateGroups)))
    );

    // Spot checks against the file's text.
    let age = rules
        .iter()
        .find(|r| {
            r.tag
                == Some(TagSpec::Tag {
                    group: 0x0010,
                    element: 0x1010,
                })
        })
        .expect("PatientAge rule");
    let Part::Call(round) = &age.expr.as_ref().unwrap().parts[0] else {
        panic!("call")
    };
    assert_eq!(round.name.value, "round");
    let args: Vec<_> = round
        .args
        .as_ref()
        .unwrap()
        .iter()
        .map(|a| &a.value)
        .collect();
    assert_eq!(args, [&ArgValue::This, &ArgValue::Number("5".into())]);
    assert_eq!(
        age.span.line,
        source
            .lines()
            .position(|l| l.contains("\"00101010\""))
            .unwrap() as u32
            + 1
    );

    let diagnostics = check(&parsed, Dialect::Rsna);
    let validity = dicom_anonymizer::check::validity::CODES;
    let serious: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity > Severity::Info && !validity.contains(&d.code))
        .collect();
    assert!(serious.is_empty(), "{serious:?}");
    // The script is valid, but the objects it writes are not all valid:
    // it removes, for one, RTPlanLabel (Type 1 in RT Plan) and
    // ReferringPhysicianName (Type 2 in every image IOD).
    let invalid: Vec<&str> = diagnostics
        .iter()
        .filter(|d| validity.contains(&d.code))
        .map(|d| d.message.as_str())
        .collect();
    for keyword in ["RTPlanLabel", "ReferringPhysicianName"] {
        assert!(
            invalid
                .iter()
                .any(|m| m.contains(&format!("removes {keyword},"))),
            "{invalid:#?}"
        );
    }

    // Printing and parsing again gives the same syntax tree.
    let printed = print_script(script);
    let again = parse(&printed);
    assert_eq!(again.script.as_ref(), Some(script));
}
