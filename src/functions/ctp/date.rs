//! `@date(separator)` and `@time(separator)`: today's date
//! (`yyyy<sep>MM<sep>dd`) and the time of day (`HH<sep>mm<sep>ss`), local time.

use chrono::{Datelike, Local, Timelike};

pub fn today(separator: &str) -> String {
    let now = Local::now();
    format!(
        "{:04}{separator}{:02}{separator}{:02}",
        now.year(),
        now.month(),
        now.day()
    )
}

pub fn now(separator: &str) -> String {
    let now = Local::now();
    format!(
        "{:02}{separator}{:02}{separator}{:02}",
        now.hour(),
        now.minute(),
        now.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(today("").len(), 8);
        assert_eq!(today("-").len(), 10);
        assert_eq!(now(":").len(), 8);
    }
}
