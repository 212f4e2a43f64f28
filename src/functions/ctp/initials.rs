//! `@initials(Element[,offset])`: the initials of a person name, family
//! name last (`AnonymizerFunctions.initials`): `Doe^John^Q` gives `JQD`,
//! and an empty name `X`. With an offset, letters and digits are shifted
//! by a Caesar cipher (`AnonymizerFunctions.encrypt(String,int)`).

pub fn initials(name: &str) -> String {
    let spaced: String = name
        .chars()
        .map(|c| if c == '^' || c == ',' { ' ' } else { c })
        .collect();
    let words: Vec<&str> = spaced.split_whitespace().collect();
    if words.is_empty() {
        return "X".into();
    }
    let mut letters: Vec<char> = words.iter().filter_map(|w| w.chars().next()).collect();
    if letters.len() > 1 {
        letters.rotate_left(1);
    }
    letters.into_iter().collect::<String>().to_uppercase()
}

/// Shift ASCII letters (within their case) and digits by `offset`.
pub fn caesar(text: &str, offset: i64) -> String {
    let shift = |c: char, base: u8, n: i64| {
        let k = ((c as u8 - base) as i64 + offset).rem_euclid(n);
        (base + k as u8) as char
    };
    text.chars()
        .map(|c| match c {
            'a'..='z' => shift(c, b'a', 26),
            'A'..='Z' => shift(c, b'A', 26),
            '0'..='9' => shift(c, b'0', 10),
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_name_goes_last() {
        assert_eq!(initials("Doe^John^Q"), "JQD");
        assert_eq!(initials("doe"), "D");
        assert_eq!(initials(" ^ "), "X");
        assert_eq!(caesar("JQD", 1), "KRE");
        assert_eq!(caesar("az9", -1), "zy8");
    }
}
