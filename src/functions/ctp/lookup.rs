//! `@lookup(Element,keyType[,action[,default]])`: a replacement from a
//! local lookup table (`AnonymizerFunctions.lookup`): the key is
//! `keyType/value`, both trimmed; a replacement of the form `@other/key`
//! is followed (at most 10 times).

use std::collections::HashMap;

/// Why a lookup failed; CTP quarantines the object unless the rule names
/// an action for the miss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupMiss(pub String);

pub fn lookup(
    table: &HashMap<String, String>,
    key_type: &str,
    key: &str,
) -> Result<String, LookupMiss> {
    if table.is_empty() {
        return Err(LookupMiss("missing or empty lookup table".into()));
    }
    let mut key = format!("{}/{}", key_type.trim(), key.trim());
    let miss = |k: &str| LookupMiss(format!("missing key ({k}) in lookup table"));
    let mut value = table
        .get(&key)
        .ok_or_else(|| miss(&key))?
        .trim()
        .to_string();
    let mut indirects = 10;
    while value.starts_with('@') && value.contains('/') && indirects > 0 {
        key = value[1..].trim().to_string();
        value = table
            .get(&key)
            .ok_or_else(|| miss(&key))?
            .trim()
            .to_string();
        indirects -= 1;
    }
    if indirects == 0 {
        return Err(LookupMiss("more than 10 indirects".into()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_indirect_and_missing() {
        let t: HashMap<String, String> = [
            ("ptid/MRN1", " ANON1 "),
            ("ptid/MRN2", "@alias/x"),
            ("alias/x", "ANON2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(lookup(&t, "ptid", " MRN1").unwrap(), "ANON1");
        assert_eq!(lookup(&t, "ptid", "MRN2").unwrap(), "ANON2");
        assert!(lookup(&t, "ptid", "MRN3").is_err());
        assert!(lookup(&HashMap::new(), "ptid", "MRN1").is_err());
    }
}
