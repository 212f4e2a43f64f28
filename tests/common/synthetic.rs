//! Small synthetic DICOM files the tests write for themselves.

use std::path::Path;

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;

pub fn text(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

/// A small MR-like file of one patient, with an age, a weight, a kept
/// sequence holding a PatientName, and a private element. `n` makes its
/// UIDs unique.
pub fn mr_file(path: &Path, n: u32, patient_name: &str, age: &str) {
    let item = InMemDicomObject::from_element_iter([
        text(tags::CODE_VALUE, VR::SH, "113072"),
        text(tags::PATIENT_NAME, VR::PN, "Nested^Name"),
    ]);
    let obj = InMemDicomObject::from_element_iter([
        text(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE),
        text(tags::SOP_INSTANCE_UID, VR::UI, &format!("2.25.7{n}.3")),
        text(tags::STUDY_DATE, VR::DA, "20200115"),
        text(tags::MODALITY, VR::CS, "MR"),
        text(tags::INSTITUTION_NAME, VR::LO, "Saint Synthetic Hospital"),
        DataElement::new(
            tags::DERIVATION_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![item]),
        ),
        text(tags::PATIENT_NAME, VR::PN, patient_name),
        text(tags::PATIENT_ID, VR::LO, &format!("MRN-{n}")),
        text(tags::PATIENT_SEX, VR::CS, "F"),
        text(tags::PATIENT_AGE, VR::AS, age),
        text(tags::PATIENT_WEIGHT, VR::DS, "61.5"),
        text(tags::STUDY_INSTANCE_UID, VR::UI, &format!("2.25.7{n}.1")),
        text(tags::SERIES_INSTANCE_UID, VR::UI, &format!("2.25.7{n}.2")),
        text(Tag(0x0029, 0x0010), VR::LO, "SYNTHETIC CREATOR"),
        text(Tag(0x0029, 0x1001), VR::LO, "Synthetic Private Value"),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U8(vec![3u8; 32].into()),
        ),
    ]);
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    file.write_to_file(path).unwrap();
}

/// A small CT-like file: instance `instance` of the one series of study
/// `study` of patient `patient`, with an accession number and a reference
/// to the previous instance (a UID met at depth).
pub fn ct_file(path: &Path, patient: u32, study: u32, instance: u32) {
    let base = format!("2.25.9{patient}.{study}");
    let reference = InMemDicomObject::from_element_iter([
        text(
            tags::REFERENCED_SOP_CLASS_UID,
            VR::UI,
            uids::CT_IMAGE_STORAGE,
        ),
        text(
            tags::REFERENCED_SOP_INSTANCE_UID,
            VR::UI,
            &format!("{base}.2.{}", instance.saturating_sub(1)),
        ),
    ]);
    let obj = InMemDicomObject::from_element_iter([
        text(tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE),
        text(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            &format!("{base}.2.{instance}"),
        ),
        text(
            tags::STUDY_DATE,
            VR::DA,
            &format!("2019{:02}15", study % 12 + 1),
        ),
        text(
            tags::ACCESSION_NUMBER,
            VR::SH,
            &format!("ACC{patient}{study}"),
        ),
        text(tags::MODALITY, VR::CS, "CT"),
        DataElement::new(
            tags::REFERENCED_IMAGE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![reference]),
        ),
        text(
            tags::PATIENT_NAME,
            VR::PN,
            &format!("Shared^Patient{patient}"),
        ),
        text(tags::PATIENT_ID, VR::LO, &format!("MRN-{patient}")),
        text(tags::PATIENT_BIRTH_DATE, VR::DA, "19600101"),
        text(tags::STUDY_INSTANCE_UID, VR::UI, &base),
        text(tags::SERIES_INSTANCE_UID, VR::UI, &format!("{base}.1")),
        text(tags::INSTANCE_NUMBER, VR::IS, &instance.to_string()),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U8(vec![7u8; 64].into()),
        ),
    ]);
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    file.write_to_file(path).unwrap();
}
