//! Date and time checks shared by the household's fields.

use time::{Date, format_description::FormatItem, macros::format_description};

use crate::Reason;

const DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

use crate::clock::Clock;

/// Parse a `YYYY-MM-DD` date that is not in the future nor before 1900.
pub(crate) fn date(s: &str, clock: &Clock) -> Result<Date, Reason> {
    let d = Date::parse(s.trim(), DATE)
        .map_err(|_| Reason::new("日期格式应为 YYYY-MM-DD", "date must be YYYY-MM-DD"))?;
    if d > clock.today() {
        return Err(Reason::new("日期不能晚于今天", "date is in the future"));
    }
    if d.year() < 1900 {
        return Err(Reason::new("日期早于1900年", "date before 1900"));
    }
    Ok(d)
}

/// Format a date as `YYYY-MM-DD`.
pub(crate) fn format_date(d: Date) -> String {
    d.format(DATE).unwrap_or_default()
}
