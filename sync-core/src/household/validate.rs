//! Date and time checks shared by the household's fields.

use time::{Date, OffsetDateTime, format_description::FormatItem, macros::format_description};

use crate::Reason;

/// How far in the future a phone's timestamp may be before we call it wrong:
/// phones' clocks drift.
pub(crate) const CLOCK_SKEW_MS: i64 = 10 * 60 * 1000;

const DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// The time source used for validation and change timestamps. Tests fix it.
#[derive(Debug, Clone, Copy, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A fixed instant, milliseconds since the Unix epoch.
    Fixed(i64),
}

impl Clock {
    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
            Clock::Fixed(ms) => *ms,
        }
    }

    /// Today's date (China Standard Time, UTC+8, where the grids are).
    pub fn today(&self) -> Date {
        let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
        OffsetDateTime::from_unix_timestamp_nanos(self.now_ms() as i128 * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .to_offset(offset)
            .date()
    }
}

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
