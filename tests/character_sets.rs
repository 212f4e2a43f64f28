//! Character sets: values are decoded with the file's SpecificCharacterSet
//! before they are hashed or copied, and written back correctly encoded.
//! pydicom's test files cover Latin-1, Greek, Cyrillic, Arabic, Hebrew,
//! UTF-8, GB18030, and the ISO 2022 code extensions of Japanese and Korean
//! (which dicom-rs alone cannot read: see `src/charset.rs`). The expected
//! hashes are what CTP itself wrote for `@hash(this)` on these files.

mod common;

use std::process::Command;

use dicom_dictionary_std::tags;

/// (file, the name as pydicom decodes it, CTP's `@hash(PatientName)`).
const NAMES: &[(&str, &str, &str)] = &[
    (
        "chrH31",
        "Yamada^Tarou=山田^太郎=やまだ^たろう",
        "295541891234394700134494535599582733196",
    ),
    (
        "chrH32",
        "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう",
        "175964911557343810287806260999717970046",
    ),
    (
        "chrI2",
        "Hong^Gildong=洪^吉洞=홍^길동",
        "124001934729916976921002687201234135891",
    ),
    (
        "chrJapMulti",
        "やまだ^たろう",
        "292457077094501881660739473115949133723",
    ),
    (
        "chrKoreanMulti",
        "김희중",
        "7081565802135017743285665989267226423",
    ),
    (
        "chrFren",
        "Buc^Jérôme",
        "228304266424012963522513904505125559024",
    ),
    (
        "chrGreek",
        "Διονυσιος",
        "137302646383060284185659264928088794866",
    ),
    (
        "chrRuss",
        "Люкceмбypг",
        "295431050133039149510468475539888557875",
    ),
    (
        "chrArab",
        "قباني^لنزار",
        "107594361851327808581227483854784919148",
    ),
    (
        "chrHbrw",
        "שרון^דבורה",
        "68951164304199207341050187286187497625",
    ),
    (
        "chrX1",
        "Wang^XiaoDong=王^小東",
        "32389602676280431639301767530800080130",
    ),
    (
        "chrX2",
        "Wang^XiaoDong=王^小东",
        "182648157164077057437314175826441272641",
    ),
    (
        "chrGerm",
        "Äneas^Rüdiger",
        "94974136624618619680653311615902431345",
    ),
];

fn name_expected(file: &str) -> &'static str {
    NAMES.iter().find(|(f, _, _)| *f == file).unwrap().1
}

const SCRIPT: &str = r#"<script>
 <e en="T" t="00100010" n="PatientName">@hash(this)</e>
 <e en="T" t="00101001" n="OtherPatientNames">@always()@contents(PatientName)</e>
</script>"#;

#[test]
fn names_are_decoded_hashed_as_ctp_hashes_them_and_written_back() {
    let Some(corpus) = common::reference::pydicom_corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    for (file, _, _) in NAMES {
        std::fs::copy(
            corpus.join(format!("charset_files/{file}.dcm")),
            input.join(format!("{file}.dcm")),
        )
        .unwrap();
    }
    let script = dir.path().join("s.script");
    std::fs::write(&script, SCRIPT).unwrap();
    let output = dir.path().join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_dicom-anonymizer"))
        .args([
            "anonymize",
            "--dialect",
            "ctp",
            "--site-id",
            "1",
            "--script",
        ])
        .arg(&script)
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for (file, _, hash) in NAMES {
        let obj = dicom_object::open_file(output.join(format!("{file}.dcm")))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let text = |tag| {
            obj.element(tag)
                .unwrap()
                .to_str()
                .unwrap()
                .trim_end_matches([' ', '\0'])
                .to_string()
        };
        assert_eq!(
            text(tags::PATIENT_NAME),
            *hash,
            "{file}: the hash of the decoded name"
        );
        // The character set is kept; ISO 2022 text is written back in its
        // code extensions (read here through our reader, which decodes them).
        let original = dicom_object::open_file(input.join(format!("{file}.dcm"))).unwrap();
        assert_eq!(
            obj.element(tags::SPECIFIC_CHARACTER_SET)
                .unwrap()
                .to_str()
                .unwrap(),
            original
                .element(tags::SPECIFIC_CHARACTER_SET)
                .unwrap()
                .to_str()
                .unwrap(),
            "{file}: the character set is kept"
        );
        let reread =
            dicom_anonymizer::dicom_file::open(&output.join(format!("{file}.dcm")), None).unwrap();
        let name = reread
            .element(tags::OTHER_PATIENT_NAMES)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(
            name.trim_end_matches([' ', '\0', '=']),
            name_expected(file),
            "{file}: read back"
        );
    }
}
