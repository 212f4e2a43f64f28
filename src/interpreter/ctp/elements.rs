//! Element references as CTP resolves them (`DicomObject.getElementValue`
//! and `getElementTag`): a keyword, a tag in any of CTP's hex forms, a
//! private element by its creator (`gggg[creator]ee`), `A::B` for the
//! first item of a sequence, and `root:` for the top-level data set; and
//! an element's value as CTP reads it as text. Shared by the header
//! interpreter and by the condition language of CTP's filter and pixel
//! scripts ([`crate::filter`]).

use std::collections::HashMap;

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, Tag};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::Meta;
use crate::functions::ctp::put::standard_tag;
use crate::interpreter::values::is_text_vr;

/// The value of an element reference in `ds` (with `root` the top-level
/// data set), `None` when there is no such element. `private_names` are
/// the names a script gave private elements.
pub fn contents(
    name: &str,
    ds: &InMemDicomObject,
    root: &InMemDicomObject,
    meta: &Meta,
    private_names: &HashMap<String, Tag>,
) -> Option<String> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let (mut ds, spec) = match name.strip_prefix("root:") {
        Some(rest) => (root, rest.trim()),
        None => (ds, name),
    };
    let specs: Vec<&str> = spec.split("::").collect();
    for (k, spec) in specs.iter().enumerate() {
        let tag = element_tag(spec, ds, private_names)?;
        if k == specs.len() - 1 {
            return value_of(ds, meta, tag);
        }
        ds = ds.get(tag)?.items()?.first()?;
    }
    None
}

/// The value of `tag` in `ds` (group 0002 from the file meta).
pub fn value_of(ds: &InMemDicomObject, meta: &Meta, tag: Tag) -> Option<String> {
    if tag.group() == 0x0002 {
        return meta.get(&tag).cloned();
    }
    element_string(ds.get(tag)?)
}

/// `getElementTag`: a keyword, a hex tag in any of CTP's forms, a name
/// the script gave a private element, or `gggg[creator]ee`.
pub fn element_tag(
    name: &str,
    ds: &InMemDicomObject,
    private_names: &HashMap<String, Tag>,
) -> Option<Tag> {
    let mut name = name.trim();
    for (open, close) in [('[', ']'), ('(', ')')] {
        if name.starts_with(open) && name.ends_with(close) && name.len() >= 2 {
            name = name[1..name.len() - 1].trim();
            break;
        }
    }
    if let Some(tag) = standard_tag(name) {
        return Some(tag);
    }
    if let Some(tag) = private_names.get(name) {
        return Some(*tag);
    }
    private_reference(ds, name)
}

/// The file meta group's values, for CTP references to group 0002.
pub fn meta_values(meta: &dicom_object::FileMetaTable) -> Meta {
    let clean = |s: &str| s.trim_end_matches(['\0', ' ']).to_string();
    let mut m = Meta::new();
    m.insert(tags::TRANSFER_SYNTAX_UID, clean(meta.transfer_syntax()));
    m.insert(
        tags::MEDIA_STORAGE_SOP_CLASS_UID,
        clean(meta.media_storage_sop_class_uid()),
    );
    m.insert(
        tags::MEDIA_STORAGE_SOP_INSTANCE_UID,
        clean(meta.media_storage_sop_instance_uid()),
    );
    m.insert(
        tags::IMPLEMENTATION_CLASS_UID,
        clean(meta.implementation_class_uid()),
    );
    if let Some(v) = &meta.implementation_version_name {
        m.insert(tags::IMPLEMENTATION_VERSION_NAME, clean(v));
    }
    if let Some(v) = &meta.source_application_entity_title {
        m.insert(tags::SOURCE_APPLICATION_ENTITY_TITLE, clean(v));
    }
    m
}

/// `DicomObject.getPrivateElementTag`: `gggg[creator]ee` or `gggg[creator]`
/// (the creator element itself), found through the data set's creators.
fn private_reference(ds: &InMemDicomObject, name: &str) -> Option<Tag> {
    let open = name.find('[')?;
    let close = open + name[open..].find(']')?;
    let group = name[..open].trim_end_matches(',');
    let rest = name[close + 1..].trim_start_matches(',');
    if group.is_empty() || group.len() > 4 || !group.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if rest.len() > 2 || !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let group = u16::from_str_radix(group, 16).ok()?;
    let offset = if rest.is_empty() {
        None
    } else {
        Some(u8::from_str_radix(rest, 16).ok()?)
    };
    private_tag(ds, group, name[open + 1..close].trim(), offset)
}

/// The tag of a private block's element (or, with no offset, of its
/// creator) in `ds`.
pub fn private_tag(
    ds: &InMemDicomObject,
    group: u16,
    creator: &str,
    offset: Option<u8>,
) -> Option<Tag> {
    if group.is_multiple_of(2) {
        return None;
    }
    (0x01..=0xFFu16).find_map(|block| {
        let owner = element_string(ds.get(Tag(group, block))?)?;
        (owner == creator).then_some(match offset {
            Some(o) => Tag(group, (block << 8) | o as u16),
            None => Tag(group, block),
        })
    })
}

/// An element's value as CTP's `getElementValue` gives it: values joined
/// by `\`, text without padding; `None` for a sequence.
pub fn element_string(e: &DataElement<InMemDicomObject>) -> Option<String> {
    match e.value() {
        Value::Primitive(PrimitiveValue::Empty) => Some(String::new()),
        Value::Primitive(p) => {
            let values: Vec<String> = p
                .to_multi_str()
                .iter()
                .map(|s| s.trim_end_matches([' ', '\0']).to_string())
                .map(|s| {
                    if is_text_vr(e.vr()) {
                        s
                    } else {
                        s.trim().to_string()
                    }
                })
                .collect();
            Some(values.join("\\"))
        }
        _ => None,
    }
}
