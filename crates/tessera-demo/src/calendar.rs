//! The fixed calendar of the demo shop: day numbering, Berlin daylight saving
//! time, seasonality and fast date/time formatting.
//!
//! Day 0 is 2023-01-01. Local times are naive Europe/Berlin seconds since
//! 2023-01-01 00:00 local; UTC times are seconds since 2023-01-01 00:00 UTC.

use chrono::{Datelike, NaiveDate, Weekday};

use crate::catalog::CAMPAIGNS;

/// Seconds per day.
pub(crate) const DAY: i64 = 86_400;
/// Last possible signup day (2025-09-30).
pub(crate) const SIGNUP_LAST_DAY: i64 = 1003;
/// First day after the observation window (2026-01-01, the config's `as_of`).
pub(crate) const END_DAY: i64 = 1096;
/// End of observation in local seconds (2026-01-01 00:00 Berlin).
pub(crate) const END_LOCAL: i64 = END_DAY * DAY;
/// End of observation in UTC seconds (Berlin is UTC+1 on New Year's Eve).
pub(crate) const END_UTC: i64 = END_LOCAL - 3_600;

/// Purchase-rate multiplier per month (January first); Nov-Dec is the peak.
pub(crate) const SEASON: [f64; 12] = [
    0.85, 0.85, 0.95, 0.95, 1.0, 0.95, 0.9, 0.95, 1.0, 1.05, 1.35, 1.6,
];
/// The largest entry of [`SEASON`], the thinning envelope.
pub(crate) const SEASON_MAX: f64 = 1.6;

/// First day in the table (one day before 2023-01-01, for UTC times).
const FIRST: i64 = -1;
/// One past the last day in the table.
const LAST: i64 = END_DAY + 2;

struct DayInfo {
    iso: [u8; 10],
    month0: u8,
    dst: bool,
}

/// Precomputed per-day information for the whole simulation window.
pub(crate) struct Calendar {
    days: Vec<DayInfo>,
    campaigns: Vec<(i64, u8)>,
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let mut d = NaiveDate::from_ymd_opt(year, month, 31).expect("March and October have 31 days");
    while d.weekday() != Weekday::Sun {
        d = d.pred_opt().expect("date in range");
    }
    d
}

impl Calendar {
    pub(crate) fn new() -> Self {
        let epoch = NaiveDate::from_ymd_opt(2023, 1, 1).expect("valid epoch");
        let mut date = epoch.pred_opt().expect("valid date");
        let mut days = Vec::with_capacity((LAST - FIRST) as usize);
        for _ in FIRST..LAST {
            let (y, m, d) = (date.year(), date.month(), date.day());
            let dst = date >= last_sunday(y, 3) && date < last_sunday(y, 10);
            let mut iso = *b"0000-00-00";
            put4(&mut iso[0..4], y as u32);
            put2(&mut iso[5..7], m);
            put2(&mut iso[8..10], d);
            days.push(DayInfo {
                iso,
                month0: (m - 1) as u8,
                dst,
            });
            date = date.succ_opt().expect("valid date");
        }
        let mut campaigns = Vec::new();
        for year in 2023..=2025 {
            for (k, &(month, day, _)) in CAMPAIGNS.iter().enumerate() {
                campaigns.push((day_of(year, month, day), k as u8));
            }
        }
        Calendar { days, campaigns }
    }

    /// Email campaign sends: (day, index into `catalog::CAMPAIGNS`), in time order.
    pub(crate) fn campaigns(&self) -> &[(i64, u8)] {
        &self.campaigns
    }

    fn info(&self, day: i64) -> &DayInfo {
        debug_assert!((FIRST..LAST).contains(&day), "day {day} outside calendar");
        &self.days[(day - FIRST) as usize]
    }

    /// Zero-based month of a day.
    pub(crate) fn month0(&self, day: i64) -> usize {
        usize::from(self.info(day).month0)
    }

    /// Seasonal purchase-rate multiplier of a day.
    pub(crate) fn season(&self, day: i64) -> f64 {
        SEASON[self.month0(day)]
    }

    /// Berlin's UTC offset in seconds for local times from 03:00 on `day`.
    pub(crate) fn utc_offset(&self, day: i64) -> i64 {
        if self.info(day).dst { 7_200 } else { 3_600 }
    }

    /// Converts a local Berlin time (hour >= 03) to UTC seconds.
    pub(crate) fn local_to_utc(&self, local: i64) -> i64 {
        local - self.utc_offset(local.div_euclid(DAY))
    }

    /// Appends `YYYY-MM-DD`.
    pub(crate) fn push_iso_date(&self, out: &mut Vec<u8>, day: i64) {
        out.extend_from_slice(&self.info(day).iso);
    }

    /// Appends `DD/MM/YYYY`.
    pub(crate) fn push_dmy(&self, out: &mut Vec<u8>, day: i64) {
        let iso = &self.info(day).iso;
        out.extend_from_slice(&[
            iso[8], iso[9], b'/', iso[5], iso[6], b'/', iso[0], iso[1], iso[2], iso[3],
        ]);
    }

    /// Appends local time as `YYYY-MM-DD HH:MM:SS`.
    pub(crate) fn push_local(&self, out: &mut Vec<u8>, local: i64) {
        self.push_stamp(out, local, b' ');
    }

    /// Appends UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
    pub(crate) fn push_utc(&self, out: &mut Vec<u8>, utc: i64) {
        self.push_stamp(out, utc, b'T');
        out.push(b'Z');
    }

    fn push_stamp(&self, out: &mut Vec<u8>, secs: i64, sep: u8) {
        let day = secs.div_euclid(DAY);
        let tod = secs.rem_euclid(DAY) as u32;
        let mut t = *b" 00:00:00";
        t[0] = sep;
        put2(&mut t[1..3], tod / 3600);
        put2(&mut t[4..6], tod / 60 % 60);
        put2(&mut t[7..9], tod % 60);
        out.extend_from_slice(&self.info(day).iso);
        out.extend_from_slice(&t);
    }
}

/// The day number (0 = 2023-01-01) of a date inside the simulation window.
pub(crate) fn day_of(year: i32, month: u32, day: u32) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(2023, 1, 1).expect("valid epoch");
    let date = NaiveDate::from_ymd_opt(year, month, day).expect("valid campaign date");
    date.signed_duration_since(epoch).num_days()
}

fn put2(dst: &mut [u8], v: u32) {
    dst[0] = b'0' + (v / 10 % 10) as u8;
    dst[1] = b'0' + (v % 10) as u8;
}

fn put4(dst: &mut [u8], v: u32) {
    put2(&mut dst[0..2], v / 100);
    put2(&mut dst[2..4], v % 100);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_calendar() {
        // Expectations from the spec's fixed dates.
        let cal = Calendar::new();
        let mut s = Vec::new();
        cal.push_iso_date(&mut s, SIGNUP_LAST_DAY);
        cal.push_iso_date(&mut s, END_DAY);
        cal.push_dmy(&mut s, 0);
        cal.push_utc(&mut s, END_UTC - 1);
        assert_eq!(s, b"2025-09-302026-01-0101/01/20232025-12-31T22:59:59Z");
        assert_eq!(day_of(2025, 9, 30), SIGNUP_LAST_DAY);
        // Berlin switched to CEST on 2024-03-31 and back on 2024-10-27.
        assert_eq!(cal.utc_offset(day_of(2024, 3, 30)), 3_600);
        assert_eq!(cal.utc_offset(day_of(2024, 3, 31)), 7_200);
        assert_eq!(cal.utc_offset(day_of(2024, 10, 26)), 7_200);
        assert_eq!(cal.utc_offset(day_of(2024, 10, 27)), 3_600);
    }
}
