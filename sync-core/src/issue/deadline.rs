//! Time limits and the working calendar: when an issue dispatched at a given
//! instant must be handled by.
//!
//! Working days are Monday to Friday, except configured holidays, plus
//! configured make-up working days (调休, e.g. a Saturday worked before a
//! holiday week). Working hours are 09:00–17:00 China Standard Time on
//! working days. A limit of N working days ends at midnight closing the Nth
//! working day after the day of dispatch; a limit of N working hours counts
//! only time inside working hours, starting at dispatch (or at the next
//! opening if dispatched outside them). A limit of N natural hours (urgent
//! safety subtypes: a gas leak does not wait for Monday) counts every hour,
//! day and night, weekends and holidays included.

use std::collections::BTreeSet;

use time::{Date, OffsetDateTime, Time, UtcOffset, Weekday, macros::format_description};

use crate::{Reason, Result};

const HOUR_MS: i64 = 3_600_000;
/// Working hours start, hour of day (CST).
const OPEN_HOUR: u8 = 9;
/// Working hours end, hour of day (CST).
const CLOSE_HOUR: u8 = 17;
/// How far ahead a deadline is searched (about ten years of days).
const MAX_DAYS: u32 = 3660;

/// A time limit from the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// N working hours (工作时).
    WorkingHours(u32),
    /// N working days (工作日).
    WorkingDays(u32),
    /// N natural hours (自然时), day and night: urgent safety subtypes.
    NaturalHours(u32),
}

impl Limit {
    /// How many units, whatever they are.
    pub fn amount(self) -> u32 {
        match self {
            Limit::WorkingHours(n) | Limit::WorkingDays(n) | Limit::NaturalHours(n) => n,
        }
    }

    /// The limit in Chinese, e.g. `2个工作日`, `2小时（全天候）`.
    pub fn name_zh(self) -> String {
        match self {
            Limit::WorkingHours(n) => format!("{n}个工作小时"),
            Limit::WorkingDays(n) => format!("{n}个工作日"),
            Limit::NaturalHours(n) => format!("{n}小时（全天候）"),
        }
    }
}

/// Which days are worked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    /// Public holidays (not worked even on weekdays).
    pub holidays: BTreeSet<Date>,
    /// Make-up working days (worked even on weekends), 调休.
    pub workdays: BTreeSet<Date>,
}

fn cst() -> UtcOffset {
    // Invariant: +08:00:00 is a valid offset; UTC is never used.
    UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// Parse a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Result<Date, Reason> {
    Date::parse(s.trim(), format_description!("[year]-[month]-[day]"))
        .map_err(|_| Reason::new("日期格式应为 YYYY-MM-DD", "date must be YYYY-MM-DD"))
}

/// Format a date as `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    d.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

fn to_cst(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(cst())
}

fn ms_at(date: Date, hour: u8) -> i64 {
    let time = Time::from_hms(hour, 0, 0).unwrap_or(Time::MIDNIGHT);
    let t = date.with_time(time).assume_offset(cst());
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

impl WorkCalendar {
    /// A calendar from `YYYY-MM-DD` dates; the field named in an error is
    /// `holidays` or `workdays`.
    pub fn from_dates<S: AsRef<str>>(holidays: &[S], workdays: &[S]) -> crate::Result<Self> {
        let parse = |field: &str, list: &[S]| -> crate::Result<BTreeSet<Date>> {
            list.iter()
                .map(|s| parse_date(s.as_ref()).map_err(|r| r.on(field)))
                .collect()
        };
        Ok(Self {
            holidays: parse("holidays", holidays)?,
            workdays: parse("workdays", workdays)?,
        })
    }

    /// Whether `d` is a working day.
    pub fn is_workday(&self, d: Date) -> bool {
        if self.workdays.contains(&d) {
            return true;
        }
        if self.holidays.contains(&d) {
            return false;
        }
        !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
    }

    /// The instant (ms) by which something started at `start` (ms) must be
    /// done under `limit`.
    pub fn deadline(&self, start: i64, limit: Limit) -> i64 {
        match limit {
            Limit::WorkingDays(n) => self.add_days(start, n),
            Limit::WorkingHours(n) => self.add_hours(start, n),
            Limit::NaturalHours(n) => start.saturating_add(i64::from(n) * HOUR_MS),
        }
    }

    fn add_days(&self, start: i64, n: u32) -> i64 {
        let mut day = to_cst(start).date();
        let mut counted = 0;
        for _ in 0..MAX_DAYS {
            if counted == n {
                break;
            }
            let Some(next) = day.next_day() else { break };
            day = next;
            if self.is_workday(day) {
                counted += 1;
            }
        }
        match day.next_day() {
            Some(end) => ms_at(end, 0),
            None => ms_at(day, 23),
        }
    }

    fn add_hours(&self, start: i64, n: u32) -> i64 {
        let mut left = i64::from(n) * HOUR_MS;
        let mut t = start;
        let mut day = to_cst(start).date();
        for _ in 0..MAX_DAYS {
            if self.is_workday(day) {
                let open = ms_at(day, OPEN_HOUR);
                let close = ms_at(day, CLOSE_HOUR);
                let from = t.max(open);
                if from < close {
                    if left <= close - from {
                        return from + left;
                    }
                    left -= close - from;
                }
            }
            let Some(next) = day.next_day() else { break };
            day = next;
            t = ms_at(day, 0);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: &str, hour: u8, minute: u8) -> i64 {
        let d = parse_date(date).unwrap_or(Date::MIN);
        ms_at(d, hour) + i64::from(minute) * 60_000
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let cal = WorkCalendar::default();
        // 2026-11-26 is a Thursday.
        let thu = at("2026-11-26", 10, 0);
        assert_eq!(
            cal.deadline(thu, Limit::WorkingDays(1)),
            at("2026-11-28", 0, 0)
        );
        assert_eq!(
            cal.deadline(thu, Limit::WorkingDays(2)),
            at("2026-12-01", 0, 0)
        );
        let cal = WorkCalendar::from_dates(&["2026-11-30"], &[]).unwrap_or_default();
        assert_eq!(
            cal.deadline(thu, Limit::WorkingDays(2)),
            at("2026-12-02", 0, 0)
        );
    }

    #[test]
    fn a_gas_leak_reported_friday_4pm_is_due_friday_6pm() {
        // Urgent safety subtypes count natural hours, day and night.
        let cal = WorkCalendar::default();
        let fri_4pm = at("2026-11-27", 16, 0);
        let gas = crate::issue::catalogue::subtype("safety", "gas").map(|s| s.limit);
        assert_eq!(gas, Some(Limit::NaturalHours(2)));
        assert_eq!(
            cal.deadline(fri_4pm, Limit::NaturalHours(2)),
            at("2026-11-27", 18, 0)
        );
        // Over midnight into a weekend, and on a holiday: still natural hours.
        let fri_11pm = at("2026-11-27", 23, 0);
        assert_eq!(
            cal.deadline(fri_11pm, Limit::NaturalHours(4)),
            at("2026-11-28", 3, 0)
        );
        let holiday = WorkCalendar::from_dates::<&str>(&["2026-11-27"], &[]).unwrap_or_default();
        assert_eq!(
            holiday.deadline(fri_4pm, Limit::NaturalHours(2)),
            at("2026-11-27", 18, 0)
        );
    }

    #[test]
    fn working_hours_count_only_office_time() {
        let cal = WorkCalendar::default();
        let fri_4pm = at("2026-11-27", 16, 0);
        assert_eq!(
            cal.deadline(fri_4pm, Limit::WorkingHours(2)),
            at("2026-11-30", 10, 0)
        );
        let sat = at("2026-11-28", 12, 0);
        assert_eq!(
            cal.deadline(sat, Limit::WorkingHours(4)),
            at("2026-11-30", 13, 0)
        );
        let makeup = WorkCalendar::from_dates::<&str>(&[], &["2026-11-28"]).unwrap_or_default();
        assert_eq!(
            makeup.deadline(sat, Limit::WorkingHours(4)),
            at("2026-11-28", 16, 0)
        );
    }
}
