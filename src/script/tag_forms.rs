//! The ways a script names DICOM elements: the `t` attribute of `<e>`, `<k>`
//! and `<r>` rules, and element references inside call arguments.
//!
//! The forms follow CTP (`DAScript.addElement`, `DICOMAnonymizerContext.getElementTag`,
//! `DicomObject.getElementTag`/`getPrivateElementTag`/`getElementValue`).

use super::ast::{ElementRef, ElementSegment, KeepTarget, RemoveTarget, TagSpec};

/// Parse the `t` attribute of an element rule: `ggggeeee` (eight hex digits,
/// either case) or `gggg[creator]ee` (a private element located by its block's creator).
pub fn parse_rule_tag(t: &str) -> Result<TagSpec, String> {
    if t.len() == 8 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        let group = u16::from_str_radix(&t[..4], 16).expect("hex digits");
        let element = u16::from_str_radix(&t[4..], 16).expect("hex digits");
        return Ok(TagSpec::Tag { group, element });
    }
    if let Some(ElementSegment::Private {
        group,
        creator,
        offset: Some(offset),
    }) = parse_private(t)
        && t.as_bytes().get(4) == Some(&b'[')
    {
        return Ok(TagSpec::Private {
            group,
            creator,
            offset,
        });
    }
    if t.bytes().any(|b| b == b'[') {
        Err(format!(
            "`{t}` is not a private element tag: write `gggg[creator]ee`, with an odd four-digit group and a two-digit offset"
        ))
    } else if t.is_empty() {
        Err("the tag is empty: write eight hexadecimal digits, `ggggeeee`".into())
    } else {
        Err(format!(
            "`{t}` is not a tag: write eight hexadecimal digits, `ggggeeee`"
        ))
    }
}

/// Parse the `t` attribute of a keep rule: a group (one to four hex digits,
/// as CTP pads them) or a name starting with `safe` (safe private elements).
pub fn parse_keep_target(t: &str) -> Result<KeepTarget, String> {
    if t.starts_with("safe") {
        return Ok(KeepTarget::SafePrivateElements);
    }
    if (1..=4).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        let group = u16::from_str_radix(t, 16).expect("hex digits");
        return Ok(KeepTarget::Group { group });
    }
    Err(format!(
        "`{t}` is not a group to keep: write four hexadecimal digits (`0018`) or `safeprivateelements`"
    ))
}

/// Parse the `t` attribute of a remove rule.
pub fn parse_remove_target(t: &str) -> Result<RemoveTarget, String> {
    RemoveTarget::ALL
        .into_iter()
        .find(|r| r.keyword() == t)
        .ok_or_else(|| {
            format!("`{t}` is not something a remove rule can remove: write `privategroups`, `unspecifiedelements`, `curves` or `overlays`")
        })
}

/// Parse an element reference as CTP reads one in an argument:
/// `root:`? segment (`::` segment)*. Returns `None` when the text is not one.
pub fn parse_element_ref(text: &str) -> Option<ElementRef> {
    let (root, body) = match text.strip_prefix("root:") {
        Some(rest) => (true, rest.trim()),
        None => (false, text),
    };
    let segments = body
        .split("::")
        .map(|s| parse_segment(s.trim()))
        .collect::<Option<Vec<_>>>()?;
    Some(ElementRef {
        raw: text.to_string(),
        root,
        segments,
    })
}

/// One element of a reference: a keyword, a tag in any of CTP's hex forms,
/// or a private element by creator.
pub fn parse_segment(s: &str) -> Option<ElementSegment> {
    if is_identifier(s) {
        return Some(ElementSegment::Keyword {
            keyword: s.to_string(),
        });
    }
    let unwrapped = unwrap(s);
    if let Some((group, element)) = parse_hex_tag(unwrapped) {
        return Some(ElementSegment::Tag { group, element });
    }
    parse_private(unwrapped)
}

/// Strip one pair of enclosing `[]`, `()` or `{}`.
fn unwrap(s: &str) -> &str {
    for (open, close) in [('[', ']'), ('(', ')'), ('{', '}')] {
        if let Some(inner) = s.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
            return inner.trim();
        }
    }
    s
}

/// `ggggeeee`, or `g,e` with one to four hex digits on each side.
fn parse_hex_tag(s: &str) -> Option<(u16, u16)> {
    let hex = |t: &str| (1..=4).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some((g, e)) = s.split_once(',') {
        if hex(g) && hex(e) {
            return Some((
                u16::from_str_radix(g, 16).ok()?,
                u16::from_str_radix(e, 16).ok()?,
            ));
        }
        return None;
    }
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some((
            u16::from_str_radix(&s[..4], 16).ok()?,
            u16::from_str_radix(&s[4..], 16).ok()?,
        ));
    }
    None
}

/// `gggg[creator]ee` or `gggg[creator]` (the creator element itself), with
/// an optional comma on either side of the brackets; the group must be odd.
fn parse_private(s: &str) -> Option<ElementSegment> {
    let open = s.find('[')?;
    let close = open + s[open..].find(']')?;
    let group_text = s[..open].strip_suffix(',').unwrap_or(&s[..open]);
    let offset_text = s[close + 1..].strip_prefix(',').unwrap_or(&s[close + 1..]);
    let creator = &s[open + 1..close];
    if !(1..=4).contains(&group_text.len()) || !group_text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let group = u16::from_str_radix(group_text, 16).ok()?;
    if group & 1 == 0 || creator.trim().is_empty() {
        return None;
    }
    let offset = match offset_text {
        "" => None,
        t if t.len() <= 2 && t.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(u8::from_str_radix(t, 16).ok()?)
        }
        _ => return None,
    };
    Some(ElementSegment::Private {
        group,
        creator: creator.trim().to_string(),
        offset,
    })
}

/// `[A-Za-z_][A-Za-z0-9_]*`
pub fn is_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_tags() {
        assert_eq!(
            parse_rule_tag("0008010c"),
            Ok(TagSpec::Tag {
                group: 0x0008,
                element: 0x010c
            })
        );
        assert_eq!(
            parse_rule_tag("0009[CTP]01"),
            Ok(TagSpec::Private {
                group: 9,
                creator: "CTP".into(),
                offset: 1
            })
        );
        for bad in [
            "",
            "0010001",
            "0010001G",
            "001000100",
            "PatientName",
            "0008[CTP]01",
            "0009[CTP]",
            "9[CTP]01",
        ] {
            assert!(parse_rule_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keep_and_remove_targets() {
        assert_eq!(
            parse_keep_target("0018"),
            Ok(KeepTarget::Group { group: 0x18 })
        );
        assert_eq!(
            parse_keep_target("18"),
            Ok(KeepTarget::Group { group: 0x18 })
        );
        assert_eq!(
            parse_keep_target("safeprivateelements"),
            Ok(KeepTarget::SafePrivateElements)
        );
        assert!(parse_keep_target("00180").is_err());
        assert_eq!(parse_remove_target("curves"), Ok(RemoveTarget::Curves));
        assert!(parse_remove_target("Curves").is_err());
    }

    #[test]
    fn element_references_in_every_form() {
        let tag = |s: &str| match parse_element_ref(s).unwrap().segments.as_slice() {
            [ElementSegment::Tag { group, element }] => (*group, *element),
            other => panic!("{s}: {other:?}"),
        };
        for s in [
            "00100020",
            "[0010,0020]",
            "(0010,0020)",
            "{0010,0020}",
            "[00100020]",
            "10,20",
        ] {
            assert_eq!(tag(s), (0x10, 0x20), "{s}");
        }
        let r = parse_element_ref("root:ContentSequence::0009[CTP]01").unwrap();
        assert!(r.root);
        assert_eq!(r.segments.len(), 2);
        assert!(matches!(
            &r.segments[1],
            ElementSegment::Private {
                offset: Some(1),
                ..
            }
        ));
        assert!(parse_element_ref("9,[CTP]").is_some());
        assert!(parse_element_ref("a b").is_none());
        assert!(parse_element_ref("Seq::").is_none());
    }
}
