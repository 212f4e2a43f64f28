//! `@dummy()`: a fixed value of the element's VR, for an attribute that
//! must go but must have a value (PS3.15 action D on a Type 1 attribute):
//! the object stays valid and the original is gone.
//!
//! | VR | value |
//! |---|---|
//! | DA | `19000101` |
//! | TM | `000000` |
//! | DT | `19000101000000` |
//! | AE, CS, LO, LT, PN, SH, ST, UC, UT | `ANONYMIZED` |
//! | DS, IS | `0` |
//!
//! Other VRs (UIDs, ages, binary values, sequences) have no dummy: a rule
//! with `@dummy()` on one is an error at run time, and the file is
//! quarantined.

use dicom_core::VR;

/// The text every text VR gets.
pub const TEXT: &str = "ANONYMIZED";

/// The dummy value of `vr`, if it has one.
pub fn dummy(vr: VR) -> Option<&'static str> {
    Some(match vr {
        VR::DA => "19000101",
        VR::TM => "000000",
        VR::DT => "19000101000000",
        VR::AE | VR::CS | VR::LO | VR::LT | VR::PN | VR::SH | VR::ST | VR::UC | VR::UT => TEXT,
        VR::DS | VR::IS => "0",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dummy_is_valid_for_its_vr() {
        assert_eq!(dummy(VR::DA), Some("19000101"));
        assert_eq!(dummy(VR::TM), Some("000000"));
        assert_eq!(dummy(VR::DT), Some("19000101000000"));
        // SH and AE hold 16 characters, CS upper case only.
        assert!(TEXT.len() <= 16 && TEXT.bytes().all(|b| b.is_ascii_uppercase()));
        assert_eq!(dummy(VR::SH), Some(TEXT));
        assert_eq!(dummy(VR::IS), Some("0"));
        for vr in [VR::UI, VR::AS, VR::SQ, VR::OB, VR::US, VR::FD] {
            assert_eq!(dummy(vr), None, "{vr:?}");
        }
    }
}
