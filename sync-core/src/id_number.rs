//! Citizen identity numbers (公民身份号码, GB 11643-1999) and phone numbers:
//! validation, and the masked forms shown on screens and written to logs.
//!
//! An [`IdNumber`] prints only its masked form (`Display` and `Debug`), so it
//! cannot leak into a log line by accident; the full value is reachable only
//! through [`IdNumber::as_str`] and serialisation, which is what documents
//! store.

use std::fmt;
use std::str::FromStr;

use time::macros::{date, offset};
use time::{Date, Month, OffsetDateTime};

use crate::Reason;
use crate::codes::Sex;

/// Weights of the first 17 digits in the ISO 7064 MOD 11-2 check.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each remainder 0..=10.
const CHECK_CHARS: &[u8; 11] = b"10X98765432";
/// The earliest birth date accepted.
const EARLIEST_BIRTH: Date = date!(1900 - 01 - 01);

/// A validated 18-character citizen identity number (公民身份号码).
///
/// Layout: a 6-digit region code, an 8-digit birth date (`YYYYMMDD`), a 3-digit
/// sequence number whose last digit is odd for men and even for women, and a
/// check character (digit or `X`). Stored with an uppercase `X`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber {
    value: String,
    /// Derived from `value` at parse time.
    birth_date: Date,
}

impl IdNumber {
    /// Number of characters in an identity number.
    pub const LEN: usize = 18;

    /// Validates an identity number as entered today (Beijing time).
    ///
    /// Surrounding whitespace is ignored and a lowercase `x` accepted. The
    /// birth date must be a real date from 1900-01-01 up to today.
    pub fn parse(s: &str) -> Result<IdNumber, Reason> {
        Self::parse_at(s, today())
    }

    /// Like [`IdNumber::parse`] with `today` given, for tests and for checks
    /// against a known date.
    pub fn parse_at(s: &str, today: Date) -> Result<IdNumber, Reason> {
        Self::parse_inner(s, Some(today))
    }

    /// Validation with an optional upper bound on the birth date.
    ///
    /// Values read back from a document or JSON skip the "not after today"
    /// check: it depends on the reader's clock, and a number accepted on one
    /// device must not make the document unreadable on another whose clock
    /// is behind.
    fn parse_inner(s: &str, today: Option<Date>) -> Result<IdNumber, Reason> {
        let s = s.trim();
        if s.chars().count() != Self::LEN {
            return Err(if s.len() == 15 && s.bytes().all(|b| b.is_ascii_digit()) {
                Reason::new(
                    "身份证号码应为18位，15位的旧号码请换用18位号码",
                    "ID number must be 18 characters; 15-digit first-generation numbers are not accepted",
                )
            } else {
                Reason::new("身份证号码应为18位", "ID number must be 18 characters")
            });
        }
        let bytes = s.as_bytes();
        let (body, check) = (&bytes[..17], bytes[17]);
        if !body.iter().all(u8::is_ascii_digit)
            || !(check.is_ascii_digit() || check == b'X' || check == b'x')
        {
            return Err(Reason::new(
                "身份证号码应为17位数字加1位数字或X",
                "ID number must be 17 digits followed by a digit or X",
            ));
        }
        if body.starts_with(b"00") {
            return Err(Reason::new(
                "身份证号码的地区码无效",
                "ID number has an invalid region code",
            ));
        }
        let birth_date = birth_date(&body[6..14]).ok_or_else(|| {
            Reason::new(
                "身份证号码中的出生日期不是有效日期",
                "ID number birth date is not a valid calendar date",
            )
        })?;
        if birth_date < EARLIEST_BIRTH {
            return Err(Reason::new(
                "身份证号码中的出生日期早于1900年",
                "ID number birth date is before 1900-01-01",
            ));
        }
        if today.is_some_and(|today| birth_date > today) {
            return Err(Reason::new(
                "身份证号码中的出生日期晚于今天",
                "ID number birth date is in the future",
            ));
        }
        if check.to_ascii_uppercase() != check_char(body) {
            return Err(Reason::new(
                "身份证号码校验位不正确，请核对",
                "ID number check character does not match",
            ));
        }
        Ok(IdNumber {
            value: s.to_ascii_uppercase(),
            birth_date,
        })
    }

    /// The full number. Handle with care: this is personal data.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The birth date encoded in positions 7–14.
    pub fn birth_date(&self) -> Date {
        self.birth_date
    }

    /// The sex encoded in the 17th digit: odd for male, even for female.
    pub fn sex(&self) -> Sex {
        // `value` is 18 ASCII characters (checked by `parse_inner`), so the
        // indexing and slicing in these accessors cannot panic. An ASCII
        // digit's byte has the same parity as the digit.
        if self.value.as_bytes()[16] % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The 6-digit administrative region code where the number was issued.
    pub fn region_code(&self) -> &str {
        &self.value[..6]
    }

    /// The form for screens and logs: first 6, eight `*`, last 4, e.g.
    /// `110105********1234`.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.value[..6], &self.value[14..])
    }

    /// The last `n` characters (all 18 if `n` is larger), e.g. for matching
    /// against what a resident reads out.
    pub fn last_digits(&self, n: usize) -> &str {
        &self.value[Self::LEN - n.min(Self::LEN)..]
    }

    /// For deserialisation: every check except "not after today".
    fn parse_stored(s: &str) -> Result<IdNumber, Reason> {
        Self::parse_inner(s, None)
    }
}

/// Today in Beijing time, where the numbers are issued and entered.
fn today() -> Date {
    OffsetDateTime::now_utc().to_offset(offset!(+8)).date()
}

/// Complete 17 digits with their check character, giving an 18-character
/// number (for generating test and demo data). `None` unless `body` is
/// exactly 17 ASCII digits.
pub fn with_check_character(body: &str) -> Option<String> {
    let bytes = body.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(format!("{body}{}", check_char(bytes) as char))
}

/// The ISO 7064 MOD 11-2 check character for 17 ASCII digits.
fn check_char(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK_CHARS[(sum % 11) as usize]
}

/// A real calendar date from 8 ASCII digits `YYYYMMDD`.
fn birth_date(digits: &[u8]) -> Option<Date> {
    let number = |range: std::ops::Range<usize>| {
        digits[range]
            .iter()
            .fold(0_u32, |n, d| n * 10 + u32::from(d - b'0'))
    };
    let year = i32::try_from(number(0..4)).ok()?;
    let month = Month::try_from(u8::try_from(number(4..6)).ok()?).ok()?;
    let day = u8::try_from(number(6..8)).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// Shows the masked form only.
impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Shows the masked form only.
impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

impl FromStr for IdNumber {
    type Err = Reason;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

crate::codes::string_value!(
    IdNumber,
    to_str = as_str,
    parse = IdNumber::parse_stored,
    expected = "an 18-character citizen ID number"
);

/// Masks a phone number for display: `138****1234` for a mobile. Longer than
/// 7 characters keeps the first 3 and last 4; shorter is all `*`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.trim().chars().collect();
    let n = chars.len();
    if n > 7 {
        let mut out: String = chars[..3].iter().collect();
        out.extend(std::iter::repeat_n('*', n - 7));
        out.extend(&chars[n - 4..]);
        out
    } else {
        "*".repeat(n)
    }
}

/// Masks a person's name for people who may know of a household but not
/// who is in it (a 楼栋长's roster): the surname and, for names of three
/// characters or more, the last character stay (张*明, 欧阳**红, 李*).
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => {
            let mut out = String::new();
            out.push(chars[0]);
            out.extend(std::iter::repeat_n('*', n - 2));
            out.push(chars[n - 1]);
            out
        }
    }
}

/// Validates a phone number and returns it normalised.
///
/// Accepted: an 11-digit mainland mobile (`1` then `3`–`9`), optionally with a
/// `+86` prefix and spaces or hyphens between groups, normalised to the 11
/// digits; or a landline of 7–8 digits with an optional area code (`010`,
/// `02x`, or 4 digits starting `0`), with or without a hyphen, normalised to
/// `area-local` (e.g. `010-12345678`).
pub fn validate_phone(s: &str) -> Result<String, Reason> {
    let invalid = || {
        Reason::new(
            "电话号码格式不正确，应为11位手机号码或带区号的固定电话（如010-12345678）",
            "phone must be an 11-digit mobile number or a landline such as 010-12345678",
        )
    };
    let compact: String = s.trim().chars().filter(|c| *c != ' ').collect();
    if !compact
        .bytes()
        .enumerate()
        .all(|(i, b)| b.is_ascii_digit() || b == b'-' || (i == 0 && b == b'+'))
    {
        return Err(invalid());
    }
    let (international, rest) = match compact.strip_prefix("+86") {
        Some(rest) => (true, rest),
        None => (false, compact.as_str()),
    };
    if rest.contains('+') || rest.starts_with('-') || rest.ends_with('-') || rest.contains("--") {
        return Err(invalid());
    }
    let digits: String = rest.chars().filter(|c| *c != '-').collect();

    if digits.starts_with('1') {
        let second = digits.as_bytes().get(1).copied().unwrap_or(b'0');
        return if digits.len() == 11 && (b'3'..=b'9').contains(&second) {
            Ok(digits)
        } else {
            Err(invalid())
        };
    }
    if international {
        return Err(invalid());
    }

    let local_ok = |local: &str| (7..=8).contains(&local.len()) && !local.starts_with('0');
    let parts: Vec<&str> = rest.split('-').collect();
    match parts.as_slice() {
        [number] if number.starts_with('0') => {
            let area_len = area_code_len(number);
            let (area, local) = number.split_at(area_len.min(number.len()));
            if local_ok(local) {
                Ok(format!("{area}-{local}"))
            } else {
                Err(invalid())
            }
        }
        [local] if local_ok(local) => Ok((*local).to_owned()),
        [area, local] if area.starts_with('0') && area.len() == area_code_len(area) => {
            if local_ok(local) {
                Ok(format!("{area}-{local}"))
            } else {
                Err(invalid())
            }
        }
        _ => Err(invalid()),
    }
}

/// Length of the area code at the start of `number` (which starts with `0`):
/// 3 for Beijing `010` and the `02x` cities, 4 otherwise.
fn area_code_len(number: &str) -> usize {
    if number.starts_with("01") || number.starts_with("02") {
        3
    } else {
        4
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::codes::tests::{hydrate_str, round_trip};

    const TODAY: Date = date!(2024 - 06 - 01);

    /// An ID number from its first 17 digits, with the check character
    /// computed independently of the code under test.
    fn with_check(body17: &str) -> String {
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = body17
            .chars()
            .zip(weights)
            .map(|(c, w)| c.to_digit(10).unwrap() * w)
            .sum();
        let check = "10X98765432".chars().nth((sum % 11) as usize).unwrap();
        format!("{body17}{check}")
    }

    fn parse(s: &str) -> Result<IdNumber, Reason> {
        IdNumber::parse_at(s, TODAY)
    }

    fn reason_en(s: &str) -> String {
        parse(s).unwrap_err().en
    }

    #[test]
    fn names_are_masked_keeping_the_surname() {
        assert_eq!(mask_name("张伟"), "张*");
        assert_eq!(mask_name("王秀英"), "王*英");
        assert_eq!(mask_name("欧阳建华"), "欧**华");
        assert_eq!(mask_name(" 李 "), "*");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn known_valid_numbers() {
        // The example from GB 11643-1999.
        let id = parse("11010519491231002X").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.region_code(), "110105");
        // Computed with the check algorithm (by hand, outside this crate).
        let id = parse("320106199003074531").unwrap();
        assert_eq!(id.birth_date(), date!(1990 - 03 - 07));
        assert_eq!(id.sex(), Sex::Male);
        assert!(parse("110105200002291235").is_ok());
        assert!(IdNumber::parse("11010519491231002X").is_ok());
    }

    #[test]
    fn the_other_standard_example_has_a_right_check_but_is_before_1900() {
        // 440524188001010014 is GB 11643's second example: its check character
        // is right, but 1880 is before the earliest birth date accepted.
        assert_eq!(with_check("44052418800101001"), "440524188001010014");
        assert_eq!(check_char(b"44052418800101001"), b'4');
        assert_eq!(
            reason_en("440524188001010014"),
            "ID number birth date is before 1900-01-01"
        );
    }

    #[test]
    fn constructed_numbers() {
        for body in [
            "11010519800101123",
            "44030620120229004",
            "65010219000101999",
            "13810120240601000",
        ] {
            let full = with_check(body);
            let id = parse(&full).unwrap();
            assert_eq!(id.as_str(), full);
            assert_eq!(id.last_digits(4), &full[14..]);
        }
    }

    #[test]
    fn lowercase_x_and_whitespace() {
        let id = parse("  11010519491231002x\n").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        let upper = parse("11010519491231002X").unwrap();
        assert_eq!(id, upper);
    }

    #[test]
    fn length() {
        let en = "ID number must be 18 characters";
        assert_eq!(reason_en(""), en);
        assert_eq!(reason_en("11010519491231002"), en);
        assert_eq!(reason_en("11010519491231002X0"), en);
        assert!(reason_en("110105491231002").contains("15-digit"));
    }

    #[test]
    fn characters() {
        let en = "ID number must be 17 digits followed by a digit or X";
        assert_eq!(reason_en("1101051949123100XX"), en);
        assert_eq!(reason_en("11010519491231002Y"), en);
        assert_eq!(reason_en("11010519491 31002X"), en);
        // Eighteen characters, not all ASCII.
        assert_eq!(reason_en("一1010519491231002X"), en);
    }

    #[test]
    fn region() {
        assert_eq!(
            reason_en(&with_check("00010519491231002")),
            "ID number has an invalid region code"
        );
    }

    #[test]
    fn birth_date_errors() {
        let not_a_date = "ID number birth date is not a valid calendar date";
        for date in ["19490230", "19491301", "19490001", "19490100", "19010229"] {
            let full = with_check(&format!("110105{date}002"));
            assert_eq!(reason_en(&full), not_a_date, "{date}");
        }
        assert!(parse(&with_check("11010520000229002")).is_ok());
        assert_eq!(
            reason_en(&with_check("11010518991231002")),
            "ID number birth date is before 1900-01-01"
        );
        assert_eq!(
            reason_en(&with_check("11010520240602002")),
            "ID number birth date is in the future"
        );
        assert!(parse(&with_check("11010520240601002")).is_ok());
    }

    #[test]
    fn check_character() {
        let en = "ID number check character does not match";
        assert_eq!(reason_en("110105194912310021"), en);
        assert_eq!(reason_en("440524190001010014"), en);
        // One changed digit is caught.
        assert_eq!(reason_en("11010519491231003X"), en);
    }

    #[test]
    fn errors_never_contain_the_value() {
        for s in [
            "11010519491231002",
            "1101051949123100XX",
            "110105194902300021",
            "110105194912310021",
        ] {
            let reason = parse(s).unwrap_err();
            assert!(!reason.zh.contains(s) && !reason.en.contains(s));
            assert!(!reason.en.contains("19491231") && !reason.en.contains("110105"));
        }
        let err = hydrate_str::<IdNumber>("110105194912310021").unwrap_err();
        assert!(!err.to_string().contains("110105"));
        let err = serde_json::from_str::<IdNumber>("\"110105194912310021\"").unwrap_err();
        assert!(!err.to_string().contains("110105"));
    }

    #[test]
    fn masked_everywhere_but_as_str() {
        let id = parse(&with_check("11010519800101123")).unwrap();
        let last4 = id.last_digits(4).to_owned();
        assert_eq!(id.masked(), format!("110105********{last4}"));
        assert_eq!(id.to_string(), id.masked());
        assert_eq!(
            format!("{id:?}"),
            format!("IdNumber(\"110105********{last4}\")")
        );
        assert!(!format!("{id:#?}").contains("19800101"));
        assert_eq!(id.last_digits(0), "");
        assert_eq!(id.last_digits(6), &id.as_str()[12..]);
        assert_eq!(id.last_digits(99), id.as_str());
    }

    #[test]
    fn stored_in_full() {
        let id = parse("11010519491231002X").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"11010519491231002X\"");
        assert_eq!(serde_json::from_str::<IdNumber>(&json).unwrap(), id);
        assert_eq!(round_trip(id.clone()), id);
        assert!(hydrate_str::<IdNumber>("not an id").is_err());
    }

    #[test]
    fn stored_future_birth_date_still_reads() {
        // Accepted on a device whose clock was ahead; must still load.
        let full = with_check("11010599991231002");
        assert!(parse(&full).is_err());
        let id: IdNumber = serde_json::from_str(&format!("\"{full}\"")).unwrap();
        assert_eq!(id.birth_date(), date!(9999 - 12 - 31));
        assert_eq!(round_trip(id.clone()), id);
    }

    #[test]
    fn phone_masking() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("010-12345678"), "010*****5678");
        assert_eq!(mask_phone("12345678"), "123*5678");
        assert_eq!(mask_phone("1234567"), "*******");
        assert_eq!(mask_phone(""), "");
    }

    #[test]
    fn phone_validation() {
        let ok = |s: &str| validate_phone(s).unwrap();
        assert_eq!(ok("13812341234"), "13812341234");
        assert_eq!(ok(" 138 1234 1234 "), "13812341234");
        assert_eq!(ok("138-1234-1234"), "13812341234");
        assert_eq!(ok("+86 13812341234"), "13812341234");
        assert_eq!(ok("010-12345678"), "010-12345678");
        assert_eq!(ok("01012345678"), "010-12345678");
        assert_eq!(ok("0571-8765432"), "0571-8765432");
        assert_eq!(ok("05718765432"), "0571-8765432");
        assert_eq!(ok("021 62345678"), "021-62345678");
        assert_eq!(ok("62345678"), "62345678");
        let refused = validate_phone("").unwrap_err();
        assert!(refused.en.starts_with("phone must be"));
        for bad in [
            "1381234123",
            "138123412345",
            "12812341234",
            "1381234123a",
            "010-1234567a",
            "010-123456",
            "010-0123456",
            "10-12345678",
            "0571-123456789",
            "057-18765432",
            "+86 010-12345678",
            "--13812341234",
            "138--12341234",
            "0123456",
            "+",
        ] {
            // One fixed reason, so the value is never echoed.
            assert_eq!(validate_phone(bad).unwrap_err(), refused, "{bad}");
        }
    }
}
