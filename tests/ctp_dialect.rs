//! The `ctp` dialect: CTP DicomAnonymizer semantics on synthetic data sets,
//! one behaviour per test, each checked against what `DICOMAnonymizer.java`
//! does (cited in `src/interpreter/ctp.rs`).

use std::collections::HashMap;

use dicom_anonymizer::functions::ctp::hash::us_md5;
use dicom_anonymizer::functions::ctp::integer::MemoryIntegerTable;
use dicom_anonymizer::interpreter::ctp::{self, CtpScript, Meta, Stop, Tables};
use dicom_anonymizer::script::parse;
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

fn text(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

fn sample() -> InMemDicomObject {
    let item = InMemDicomObject::from_element_iter([
        text(
            tags::REFERENCED_SOP_CLASS_UID,
            VR::UI,
            "1.2.840.10008.5.1.4.1.1.2",
        ),
        text(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5.6"),
        text(tags::PATIENT_NAME, VR::PN, "Nested^Name"),
    ]);
    InMemDicomObject::from_element_iter([
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"),
        text(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2"),
        text(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5.100"),
        text(tags::STUDY_DATE, VR::DA, "20200115"),
        text(tags::ACCESSION_NUMBER, VR::SH, "ACC42"),
        text(tags::INSTITUTION_NAME, VR::LO, "General Hospital"),
        seq(tags::REFERENCED_IMAGE_SEQUENCE, vec![item]),
        text(tags::PATIENT_NAME, VR::PN, "Doe^John^Q"),
        text(tags::PATIENT_ID, VR::LO, "MRN123"),
        text(tags::PATIENT_AGE, VR::AS, "047Y"),
        text(tags::PATIENT_SEX, VR::CS, "M"),
        text(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4.5"),
        text(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3.4.5.1"),
        DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(512u16)),
        text(Tag(0x0009, 0x0010), VR::LO, "ACME"),
        text(Tag(0x0009, 0x1001), VR::LO, "private value"),
        text(Tag(0x6000, 0x3000), VR::OW, ""),
    ])
}

struct Run {
    result: Result<InMemDicomObject, Stop>,
}

fn run_with(script: &str, obj: InMemDicomObject, lookup: &[(&str, &str)]) -> Run {
    let parsed = parse(script).script.expect("the test script parses");
    let compiled = CtpScript::compile(&parsed);
    let lookup: HashMap<String, String> = lookup
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let integers = MemoryIntegerTable::default();
    let tables = Tables {
        lookup: &lookup,
        integers: &integers,
    };
    let mut obj = obj;
    let result = ctp::anonymize(&mut obj, &Meta::new(), &compiled, &tables).map(|_| obj);
    Run { result }
}

fn run(body: &str) -> InMemDicomObject {
    run_with(&format!("<script>{body}</script>"), sample(), &[])
        .result
        .expect("no skip or quarantine")
}

fn value(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.get(tag).map(|e| {
        e.value()
            .to_multi_str()
            .map(|v| {
                v.iter()
                    .map(|s| s.trim_end_matches([' ', '\0']).to_string())
                    .collect::<Vec<_>>()
                    .join("\\")
            })
            .unwrap_or_default()
    })
}

/// The stored text of a one-valued element, padding included.
fn raw(obj: &InMemDicomObject, tag: Tag) -> String {
    match obj.get(tag).unwrap().value() {
        dicom_core::value::Value::Primitive(PrimitiveValue::Str(s)) => s.clone(),
        dicom_core::value::Value::Primitive(PrimitiveValue::Strs(v)) if v.len() == 1 => {
            v[0].clone()
        }
        other => panic!("not one text value: {other:?}"),
    }
}

#[test]
fn global_rules_remove_private_groups_overlays_and_unscripted_elements() {
    let out = run(r#"
        <r en="T" t="privategroups">x</r>
        <r en="T" t="unspecifiedelements">x</r>
        <r en="T" t="overlays">x</r>
        <e en="T" t="00100010" n="PatientName">@keep()</e>"#);
    // Kept by rule, and always kept: SOP class/instance, study UID, group 0028.
    for tag in [
        tags::PATIENT_NAME,
        tags::SOP_CLASS_UID,
        tags::SOP_INSTANCE_UID,
        tags::STUDY_INSTANCE_UID,
        tags::ROWS,
    ] {
        assert!(out.get(tag).is_some(), "{tag} kept");
    }
    for tag in [
        tags::PATIENT_ID,
        tags::INSTITUTION_NAME,
        tags::SERIES_INSTANCE_UID,
        Tag(0x0009, 0x1001),
        Tag(0x0009, 0x0010),
        Tag(0x6000, 0x3000),
    ] {
        assert!(out.get(tag).is_none(), "{tag} removed");
    }
}

#[test]
fn without_global_rules_unscripted_elements_stay() {
    let out = run(r#"<e en="T" t="00100010" n="PatientName">@remove()</e>"#);
    assert!(out.get(tags::PATIENT_NAME).is_none());
    assert_eq!(
        value(&out, tags::INSTITUTION_NAME).as_deref(),
        Some("General Hospital")
    );
    assert!(out.get(Tag(0x0009, 0x1001)).is_some());
}

#[test]
fn keep_groups_survive_the_unspecified_elements_rule() {
    let out = run(r#"<r en="T" t="unspecifiedelements">x</r><k en="T" t="0010">x</k>"#);
    assert_eq!(value(&out, tags::PATIENT_ID).as_deref(), Some("MRN123"));
    assert!(out.get(tags::INSTITUTION_NAME).is_none());
}

#[test]
fn disabled_rules_do_nothing() {
    let out = run(r#"<e en="F" t="00100010" n="PatientName">@remove()</e>
        <r en="F" t="unspecifiedelements">x</r>"#);
    assert_eq!(
        value(&out, tags::PATIENT_NAME).as_deref(),
        Some("Doe^John^Q")
    );
    assert!(out.get(tags::INSTITUTION_NAME).is_some());
}

#[test]
fn empty_blank_literal_and_multi_valued_text() {
    let out = run(r#"
        <e en="T" t="00100010" n="PatientName">@empty()</e>
        <e en="T" t="00080080" n="InstitutionName">@blank(4)</e>
        <e en="T" t="00080050" n="AccessionNumber">A\\B</e>
        <e en="T" t="00100040" n="PatientSex">O</e>"#);
    // An empty PN is written as one space, as dcm4che does.
    assert_eq!(raw(&out, tags::PATIENT_NAME), " ");
    assert_eq!(raw(&out, tags::INSTITUTION_NAME), "    ");
    assert_eq!(value(&out, tags::ACCESSION_NUMBER).as_deref(), Some("A\\B"));
    assert_eq!(value(&out, tags::PATIENT_SEX).as_deref(), Some("O"));
}

#[test]
fn hashes_are_ctp_hashes() {
    let out = run(r#"
        <p t="UIDROOT">1.2.826.0.1.3680043.10.99</p>
        <p t="SITEID">7</p>
        <e en="T" t="00100020" n="PatientID">@hashptid(@SITEID,this,10)</e>
        <e en="T" t="00080050" n="AccessionNumber">@hash(this,16)</e>
        <e en="T" t="0020000D" n="StudyInstanceUID">@hashuid(@UIDROOT,this)</e>
        <e en="T" t="00100010" n="PatientName">@hashname(this,6,2)</e>"#);
    assert_eq!(
        value(&out, tags::PATIENT_ID).unwrap(),
        us_md5("[7]MRN123")[..10]
    );
    assert_eq!(
        value(&out, tags::ACCESSION_NUMBER).unwrap(),
        us_md5("ACC42")[..16]
    );
    assert_eq!(
        value(&out, tags::STUDY_INSTANCE_UID).unwrap(),
        format!("1.2.826.0.1.3680043.10.99.{}", us_md5("1.2.3.4.5"))
    );
    assert_eq!(
        value(&out, tags::PATIENT_NAME).unwrap(),
        us_md5("DOEJOHN")[..6]
    );
}

#[test]
fn a_missing_element_makes_hash_functions_remove() {
    let out = run(
        r#"<e en="T" t="00100021" n="IssuerOfPatientID">@always()@hash(this)</e>
        <e en="T" t="00080090" n="ReferringPhysicianName">@always()@hashuid(@X,PatientComments)</e>"#,
    );
    assert!(out.get(tags::ISSUER_OF_PATIENT_ID).is_none());
}

#[test]
fn if_conditions() {
    let out = run(r#"
        <e en="T" t="00100010" n="PatientName">@if(this,contains,"john"){yes}{no}</e>
        <e en="T" t="00100020" n="PatientID">@if(this,matches,"MRN\\d+"){matched}{no}</e>
        <e en="T" t="00100040" n="PatientSex">@if(this,equals,"m"){male}{other}</e>
        <e en="T" t="00101010" n="PatientAge">@if(this,greaterthan,50){old}{young}</e>
        <e en="T" t="00080080" n="InstitutionName">@if(PatientComments,exists){x}{@if(PatientComments,isblank){blank}{y}}</e>"#);
    assert_eq!(value(&out, tags::PATIENT_NAME).as_deref(), Some("yes"));
    assert_eq!(value(&out, tags::PATIENT_ID).as_deref(), Some("matched"));
    assert_eq!(value(&out, tags::PATIENT_SEX).as_deref(), Some("male"));
    assert_eq!(value(&out, tags::PATIENT_AGE).as_deref(), Some("young"));
    assert_eq!(
        value(&out, tags::INSTITUTION_NAME).as_deref(),
        Some("blank")
    );
}

#[test]
fn dates_shift_as_ctp_shifts_them() {
    let out = run(r#"
        <p t="DATEINC">-10</p>
        <e en="T" t="00080020" n="StudyDate">@incrementdate(this,@DATEINC)</e>"#);
    assert_eq!(value(&out, tags::STUDY_DATE).as_deref(), Some("20200105"));
    let out = run(r#"<e en="T" t="00080020" n="StudyDate">@modifydate(this,*,1,1)</e>"#);
    assert_eq!(value(&out, tags::STUDY_DATE).as_deref(), Some("20200101"));
    let out = run(r#"<e en="T" t="00080020" n="StudyDate">@hashdate(this,PatientID)</e>"#);
    let days = dicom_anonymizer::functions::ctp::hashdate::offset_days("MRN123");
    let expected =
        chrono::NaiveDate::from_ymd_opt(2020, 1, 15).unwrap() + chrono::Duration::days(days);
    assert_eq!(
        value(&out, tags::STUDY_DATE).unwrap(),
        expected.format("%Y%m%d").to_string()
    );
}

#[test]
fn always_inserts_and_append_extends() {
    let out = run(r#"
        <p t="PROFILE">Basic</p>
        <e en="T" t="00120062" n="PatientIdentityRemoved">@always()YES</e>
        <e en="T" t="00120063" n="DeIdentificationMethod">@always()@append(){CTP @param(@PROFILE)}</e>
        <e en="T" t="00120064" n="DeIdentificationMethodCodeSequence">113100/113105</e>
        <e en="T" t="00080080" n="InstitutionName">@append(){X}</e>"#);
    assert_eq!(
        value(&out, tags::PATIENT_IDENTITY_REMOVED).as_deref(),
        Some("YES")
    );
    assert_eq!(
        value(&out, tags::DEIDENTIFICATION_METHOD).as_deref(),
        Some("CTP Basic")
    );
    assert_eq!(
        value(&out, tags::INSTITUTION_NAME).as_deref(),
        Some("General Hospital\\X")
    );
    let items = out
        .get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
        .unwrap()
        .items()
        .unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        value(&items[1], tags::CODE_MEANING).as_deref(),
        Some("Clean Descriptors Option")
    );
}

#[test]
fn process_applies_the_script_inside_sequence_items() {
    let script = r#"<p t="ROOT">9.9</p>
        <r en="T" t="unspecifiedelements">x</r>
        <e en="T" t="00081140" n="ReferencedImageSequence">@process()</e>
        <e en="T" t="00081150" n="ReferencedSOPClassUID">@keep()</e>
        <e en="T" t="00081155" n="ReferencedSOPInstanceUID">@hashuid(@ROOT,this)</e>"#;
    let out = run(script);
    let items = out
        .get(tags::REFERENCED_IMAGE_SEQUENCE)
        .unwrap()
        .items()
        .unwrap();
    assert_eq!(
        value(&items[0], tags::REFERENCED_SOP_INSTANCE_UID).unwrap(),
        format!("9.9.{}", us_md5("1.2.3.4.5.6"))
    );
    assert!(
        items[0].get(tags::PATIENT_NAME).is_none(),
        "unspecified inside the item"
    );
    // Without @process the sequence is kept as it was (CTP does not recurse).
    let out = run(r#"<e en="T" t="00081140" n="ReferencedImageSequence">@keep()</e>"#);
    let items = out
        .get(tags::REFERENCED_IMAGE_SEQUENCE)
        .unwrap()
        .items()
        .unwrap();
    assert_eq!(
        value(&items[0], tags::PATIENT_NAME).as_deref(),
        Some("Nested^Name")
    );
}

#[test]
fn empty_on_a_sequence_empties_it() {
    let out = run(r#"<e en="T" t="00081140" n="ReferencedImageSequence">@empty()</e>"#);
    assert_eq!(
        out.get(tags::REFERENCED_IMAGE_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn private_rules_by_creator_and_names() {
    let out = run(r#"<r en="T" t="privategroups">x</r>
        <e en="T" t="0009[ACME]01" n="AcmeValue">@uppercase(this)</e>
        <e en="T" t="00100010" n="PatientName">@contents(AcmeValue)</e>"#);
    assert_eq!(
        value(&out, Tag(0x0009, 0x1001)).as_deref(),
        Some("PRIVATE VALUE")
    );
    assert_eq!(
        value(&out, tags::PATIENT_NAME).as_deref(),
        Some("private value")
    );
}

#[test]
fn text_functions() {
    let out = run(r#"
        <e en="T" t="00100010" n="PatientName">@initials(this)</e>
        <e en="T" t="00100020" n="PatientID">@truncate(this,-3)</e>
        <e en="T" t="00080080" n="InstitutionName">@contents(this,"[aeiou]","_")</e>
        <e en="T" t="00101010" n="PatientAge">@round(this,10)</e>
        <e en="T" t="00100040" n="PatientSex">@lowercase(this)</e>
        <e en="T" t="00080050" n="AccessionNumber">@value(StudyID,"none")-@contents(root:PatientID)</e>"#);
    assert_eq!(value(&out, tags::PATIENT_NAME).as_deref(), Some("JQD"));
    assert_eq!(value(&out, tags::PATIENT_ID).as_deref(), Some("123"));
    assert_eq!(
        value(&out, tags::INSTITUTION_NAME).as_deref(),
        Some("G_n_r_l H_sp_t_l")
    );
    assert_eq!(value(&out, tags::PATIENT_AGE).as_deref(), Some("050Y"));
    assert_eq!(value(&out, tags::PATIENT_SEX).as_deref(), Some("m"));
    assert_eq!(
        value(&out, tags::ACCESSION_NUMBER).as_deref(),
        Some("none-MRN123")
    );
}

#[test]
fn lookup_and_integer() {
    let script = r#"<script>
        <e en="T" t="00100020" n="PatientID">@lookup(this,ptid)</e>
        <e en="T" t="00100010" n="PatientName">@integer(PatientID,names,4)</e>
        <e en="T" t="00080080" n="InstitutionName">@lookup(this,site,default,SITE-X)</e>
        </script>"#;
    let out = run_with(script, sample(), &[("ptid/MRN123", "ANON-1")])
        .result
        .unwrap();
    assert_eq!(value(&out, tags::PATIENT_ID).as_deref(), Some("ANON-1"));
    assert_eq!(value(&out, tags::PATIENT_NAME).as_deref(), Some("0001"));
    assert_eq!(
        value(&out, tags::INSTITUTION_NAME).as_deref(),
        Some("SITE-X")
    );
    // A miss without an action quarantines the object.
    let missing = run_with(script, sample(), &[("ptid/OTHER", "ANON-2")]);
    assert!(matches!(missing.result, Err(Stop::Quarantine(m)) if m.contains("ptid/MRN123")));
}

#[test]
fn skip_and_quarantine_stop_the_object() {
    let skip = run_with(
        r#"<script><e en="T" t="00080060" n="Modality">@always()@skip()</e></script>"#,
        sample(),
        &[],
    );
    assert!(matches!(skip.result, Err(Stop::Skip(_))));
    let q = run_with(
        r#"<script><e en="T" t="00100040" n="PatientSex">@if(this,equals,M){@quarantine()}{@keep()}</e></script>"#,
        sample(),
        &[],
    );
    assert!(matches!(q.result, Err(Stop::Quarantine(_))));
}

#[test]
fn a_value_the_vr_cannot_hold_removes_the_element() {
    let out = run(r#"<e en="T" t="00280010" n="Rows">many</e>"#);
    assert!(out.get(tags::ROWS).is_none());
    let out = run(r#"<e en="T" t="00280010" n="Rows">256</e>"#);
    assert_eq!(
        out.get(tags::ROWS)
            .unwrap()
            .value()
            .to_int::<u16>()
            .unwrap(),
        256
    );
}

#[test]
fn a_missing_character_set_becomes_latin_1() {
    let mut obj = sample();
    obj.remove_element(tags::SPECIFIC_CHARACTER_SET);
    let out = run_with("<script></script>", obj, &[]).result.unwrap();
    assert_eq!(
        value(&out, tags::SPECIFIC_CHARACTER_SET).as_deref(),
        Some("ISO_IR 100")
    );
}

#[test]
fn unknown_functions_are_written_back_as_text() {
    let out = run(r#"<e en="T" t="00100040" n="PatientSex">@nosuch(this)</e>"#);
    assert_eq!(
        value(&out, tags::PATIENT_SEX).as_deref(),
        Some("@nosuch(this)")
    );
}

#[test]
fn encrypt_then_decrypt_gives_the_value_back() {
    let out =
        run(r#"<p t="KEY">secret</p><e en="T" t="00100020" n="PatientID">@encrypt(this,@KEY)</e>"#);
    let encrypted = value(&out, tags::PATIENT_ID).unwrap();
    assert_ne!(encrypted, "MRN123");
    let mut obj = sample();
    obj.put(text(tags::PATIENT_ID, VR::LO, &encrypted));
    let back = run_with(r#"<script><p t="KEY">secret</p><e en="T" t="00100020" n="PatientID">@decrypt(this,@KEY)</e></script>"#, obj, &[]).result.unwrap();
    assert_eq!(value(&back, tags::PATIENT_ID).as_deref(), Some("MRN123"));
}
