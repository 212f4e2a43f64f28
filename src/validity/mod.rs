//! Which attributes the common IODs require: Type 1 (present, with a
//! value), Type 1C (when present, with a value) and Type 2 (present,
//! possibly empty), at the top level of the data set, in the modules each
//! IOD marks mandatory.
//!
//! The table (`required_attributes.tsv`) is generated from PS3.3 as JSON
//! by `scripts/generate_iod_types.py`; `check` and `diff` read it to say
//! where a script makes valid objects invalid, and [`gate`] to stop a run
//! from releasing such an object.

pub mod gate;

use std::collections::HashMap;
use std::sync::OnceLock;

use dicom_core::Tag;

/// One IOD of the table.
#[derive(Debug, Clone)]
pub struct Iod {
    /// `ct-image`.
    pub id: &'static str,
    /// `CT Image`.
    pub name: &'static str,
    pub sop_classes: Vec<&'static str>,
}

/// An attribute's type in one IOD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Type 1: present, with a value.
    One,
    /// Type 1C: when present (its condition met), with a value.
    OneC,
    /// Type 2: present, possibly empty.
    Two,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::One => "1",
            Kind::OneC => "1C",
            Kind::Two => "2",
        })
    }
}

/// Where one attribute is required, as indices into [`Table::iods`].
#[derive(Debug, Clone, Default)]
pub struct Requirement {
    pub type1: Vec<usize>,
    pub type1c: Vec<usize>,
    pub type2: Vec<usize>,
}

/// What a script does to a required attribute that makes an object invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Removed: invalid where the attribute is Type 1 or 2.
    Removed,
    /// Emptied: invalid where the attribute is Type 1.
    Emptied,
}

impl Loss {
    /// Whether the loss makes an object invalid where the attribute has
    /// type `kind`. Removing a Type 1C attribute is not judged: whether its
    /// condition holds depends on the object.
    pub fn breaks(self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (_, Kind::One) | (Loss::Removed, Kind::Two) | (Loss::Emptied, Kind::OneC)
        )
    }
}

impl Requirement {
    /// The IODs an object of which becomes invalid by `loss`, with the
    /// type the attribute has there.
    pub fn broken_by(&self, loss: Loss) -> Vec<(usize, Kind)> {
        let mut out = Vec::new();
        for (kind, iods) in [
            (Kind::One, &self.type1),
            (Kind::OneC, &self.type1c),
            (Kind::Two, &self.type2),
        ] {
            if loss.breaks(kind) {
                out.extend(iods.iter().map(|&i| (i, kind)));
            }
        }
        out.sort();
        out
    }
}

/// The table, parsed.
#[derive(Debug)]
pub struct Table {
    pub iods: Vec<Iod>,
    by_tag: HashMap<Tag, Requirement>,
    /// Each IOD's required attributes, in tag order.
    by_iod: Vec<Vec<(Tag, Kind)>>,
    by_sop_class: HashMap<&'static str, usize>,
}

const SOURCE: &str = include_str!("required_attributes.tsv");

/// The table of the common IODs.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table::parse(SOURCE))
}

impl Table {
    fn parse(source: &'static str) -> Table {
        let mut iods = Vec::new();
        let mut index = HashMap::new();
        let mut by_tag: HashMap<Tag, Requirement> = HashMap::new();
        for line in source.lines().filter(|l| !l.starts_with('#')) {
            let cells: Vec<&'static str> = line.split('\t').collect();
            match cells.as_slice() {
                ["iod", id, name, sops] => {
                    index.insert(*id, iods.len());
                    iods.push(Iod {
                        id,
                        name,
                        sop_classes: sops.split(',').filter(|s| !s.is_empty()).collect(),
                    });
                }
                [tag, kind, ids] => {
                    let n = u32::from_str_radix(tag, 16).expect("a tag in the IOD table");
                    let entry = by_tag.entry(Tag((n >> 16) as u16, n as u16)).or_default();
                    let list = match *kind {
                        "1" => &mut entry.type1,
                        "1C" => &mut entry.type1c,
                        _ => &mut entry.type2,
                    };
                    list.extend(ids.split(',').map(|id| index[id]));
                }
                _ => panic!("malformed line in the IOD table: {line:?}"),
            }
        }
        let by_sop_class = iods
            .iter()
            .enumerate()
            .flat_map(|(i, iod)| iod.sop_classes.iter().map(move |s| (*s, i)))
            .collect();
        let mut by_iod = vec![Vec::new(); iods.len()];
        for (tag, r) in &by_tag {
            for (kind, list) in [
                (Kind::One, &r.type1),
                (Kind::OneC, &r.type1c),
                (Kind::Two, &r.type2),
            ] {
                for &i in list {
                    by_iod[i].push((*tag, kind));
                }
            }
        }
        for list in &mut by_iod {
            list.sort();
        }
        Table {
            iods,
            by_tag,
            by_iod,
            by_sop_class,
        }
    }

    /// Where `tag` is required, if anywhere.
    pub fn requirement(&self, tag: Tag) -> Option<&Requirement> {
        self.by_tag.get(&tag)
    }

    /// The attributes IOD `iod` requires, with their type, in tag order.
    pub fn required_in(&self, iod: usize) -> &[(Tag, Kind)] {
        &self.by_iod[iod]
    }

    /// Every required tag, in tag order.
    pub fn required_tags(&self) -> Vec<Tag> {
        let mut tags: Vec<Tag> = self.by_tag.keys().copied().collect();
        tags.sort();
        tags
    }

    /// The IOD of a SOP class, if it is one of the table's.
    pub fn iod_of(&self, sop_class_uid: &str) -> Option<usize> {
        self.by_sop_class
            .get(sop_class_uid.trim_end_matches(['\0', ' ']))
            .copied()
    }

    /// `Type 1 in RT Plan, RT Ion Plan; Type 2 in CT Image, MR Image and
    /// 30 more`.
    pub fn describe(&self, broken: &[(usize, Kind)]) -> String {
        let mut parts = Vec::new();
        for kind in [Kind::One, Kind::OneC, Kind::Two] {
            let names: Vec<&str> = broken
                .iter()
                .filter(|(_, k)| *k == kind)
                .map(|(i, _)| self.iods[*i].name)
                .collect();
            if names.is_empty() {
                continue;
            }
            parts.push(format!("Type {kind} in {}", first_of(&names, 3)));
        }
        parts.join("; ")
    }
}

/// The first `shown` names joined by commas, then `and N more`.
pub fn first_of<S: AsRef<str>>(names: &[S], shown: usize) -> String {
    let shown = names.len().min(shown);
    let mut text = names[..shown]
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > shown {
        text.push_str(&format!(" and {} more", names.len() - shown));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_dictionary_std::{tags, uids};

    #[test]
    fn the_table_knows_the_common_iods_and_their_types() {
        let t = table();
        let ct = t.iod_of(uids::CT_IMAGE_STORAGE).unwrap();
        let plan = t.iod_of(uids::RT_PLAN_STORAGE).unwrap();
        let sr = t.iod_of(uids::BASIC_TEXT_SR_STORAGE).unwrap();
        assert_eq!(t.iods[ct].name, "CT Image");
        let sop = t.requirement(tags::SOP_INSTANCE_UID).unwrap();
        assert!(sop.type1.contains(&ct) && sop.type1.contains(&plan));
        let name = t.requirement(tags::PATIENT_NAME).unwrap();
        assert!(name.type2.contains(&ct) && name.type1.is_empty());
        assert!(
            t.requirement(tags::RT_PLAN_LABEL)
                .unwrap()
                .type1
                .contains(&plan)
        );
        assert!(
            t.requirement(tags::OPERATORS_NAME)
                .unwrap()
                .type2
                .contains(&plan)
        );
        assert!(
            t.requirement(tags::CONTENT_DATE)
                .unwrap()
                .type1
                .contains(&sr)
        );
        // Type 3 attributes are not listed.
        assert!(t.requirement(tags::PATIENT_WEIGHT).is_none());
        assert!(t.requirement(tags::INSTITUTION_NAME).is_none());
    }

    #[test]
    fn emptying_breaks_only_type_1() {
        let t = table();
        let name = t.requirement(tags::PATIENT_NAME).unwrap();
        assert!(name.broken_by(Loss::Emptied).is_empty());
        assert!(!name.broken_by(Loss::Removed).is_empty());
        let date = t.requirement(tags::CONTENT_DATE).unwrap();
        let broken = date.broken_by(Loss::Emptied);
        assert!(
            t.describe(&broken).starts_with("Type 1 in "),
            "{}",
            t.describe(&broken)
        );
    }
}
