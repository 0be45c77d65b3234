//! Masking of ID numbers and phones for screens and exports
//! (110105********1234, 138****1234), with sync-core's rules.

use gridsync_core::id_number::{IdNumber, mask_phone};

/// An ID number masked: first 6, eight `*`, last 4; a malformed one all `*`.
pub fn id_number(s: &str) -> String {
    match IdNumber::parse(s) {
        Ok(id) => id.masked(),
        Err(_) => "*".repeat(s.chars().count()),
    }
}

/// A phone masked: first 3 and last 4 of a mobile.
pub fn phone(s: &str) -> String {
    mask_phone(s)
}

/// `value` as shown: in full when `full`, else masked with `f`.
pub fn shown(value: Option<&str>, full: bool, f: fn(&str) -> String) -> String {
    match value {
        None | Some("") => String::new(),
        Some(v) if full => v.to_owned(),
        Some(v) => f(v),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_as_the_issue_shows() {
        assert_eq!(super::phone("13812341234"), "138****1234");
        assert_eq!(super::id_number("11010519491231002X"), "110105********002X");
    }
}
