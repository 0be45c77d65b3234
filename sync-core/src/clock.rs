//! The time source every record is stamped and checked with: the system
//! clock, or a fixed instant in tests; and the day it is in China Standard
//! Time, where the grids are.

use time::{Date, OffsetDateTime};

/// How far in the future a phone's timestamp may be before we call it wrong:
/// phones' clocks drift.
pub(crate) const CLOCK_SKEW_MS: i64 = 10 * 60 * 1000;

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
