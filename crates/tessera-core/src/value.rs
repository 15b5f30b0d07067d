//! Parsers from the text people export to Tessera's stored values.
//!
//! Money becomes integer minor units, dates become days since 1970-01-01, timestamps become
//! microseconds since the epoch in UTC. Every parser either gives the exact value or says why not:
//! nothing is rounded, clamped or guessed silently.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use thiserror::Error;

/// Why a text could not become a value.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ValueError {
    #[error("`{0}` is not an integer")]
    NotInt(String),
    #[error("`{0}` is not a number")]
    NotFloat(String),
    #[error("`{0}` is not finite")]
    NotFinite(String),
    #[error("`{0}` is not a boolean (expected true/false, yes/no, y/n, t/f or 1/0)")]
    NotBool(String),
    #[error("`{text}` is not a date in format `{format}`")]
    NotDate { text: String, format: String },
    #[error("`{text}` is not a timestamp in format `{format}`")]
    NotTimestamp { text: String, format: String },
    #[error("`{text}` does not exist in time zone {tz} (skipped by a daylight-saving change)")]
    NonexistentLocalTime { text: String, tz: String },
    #[error("`{0}` is not an amount")]
    NotMoney(String),
    #[error("`{text}` has {places} decimal places; money_decimals is {decimals}")]
    MoneyPrecision {
        text: String,
        places: usize,
        decimals: u8,
    },
    #[error("`{0}` is too large for an amount")]
    MoneyOverflow(String),
}

/// How amounts are written in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoneyFormat {
    pub decimals: u8,
    pub decimal_separator: u8,
    pub thousands_separator: Option<u8>,
}

impl Default for MoneyFormat {
    fn default() -> Self {
        Self {
            decimals: 2,
            decimal_separator: b'.',
            thousands_separator: None,
        }
    }
}

/// Parses a decimal amount such as `-1,234.50` into minor units, exactly.
///
/// Extra decimal places are accepted only when they are zeros: `12.500` is 1250 cents, `12.505`
/// is an error, because turning it into 1250 or 1251 would change the user's data.
pub fn parse_money(text: &str, fmt: MoneyFormat) -> Result<i64, ValueError> {
    let s = text.trim();
    let bad = || ValueError::NotMoney(text.to_string());
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        Some(_) => (false, s),
        None => return Err(bad()),
    };
    if is_non_finite_word(digits) {
        return Err(ValueError::NotFinite(text.to_string()));
    }
    let scale = 10i128.pow(u32::from(fmt.decimals));
    let mut whole: i128 = 0;
    let mut frac: i128 = 0;
    let mut places = 0usize;
    let mut seen_digit = false;
    let mut in_frac = false;
    for &b in digits.as_bytes() {
        if b.is_ascii_digit() {
            seen_digit = true;
            let d = i128::from(b - b'0');
            if in_frac {
                places += 1;
                if places <= usize::from(fmt.decimals) {
                    frac = frac * 10 + d;
                } else if d != 0 {
                    let places =
                        digits.len() - digits.find(fmt.decimal_separator as char).unwrap_or(0) - 1;
                    return Err(ValueError::MoneyPrecision {
                        text: text.to_string(),
                        places,
                        decimals: fmt.decimals,
                    });
                }
            } else {
                whole = whole * 10 + d;
                if whole > i128::from(i64::MAX) {
                    return Err(ValueError::MoneyOverflow(text.to_string()));
                }
            }
        } else if b == fmt.decimal_separator && !in_frac {
            in_frac = true;
        } else if Some(b) == fmt.thousands_separator && !in_frac {
            continue;
        } else {
            return Err(bad());
        }
    }
    if !seen_digit {
        return Err(bad());
    }
    for _ in places.min(usize::from(fmt.decimals))..usize::from(fmt.decimals) {
        frac *= 10;
    }
    let minor = whole * scale + frac;
    let minor = if negative { -minor } else { minor };
    i64::try_from(minor).map_err(|_| ValueError::MoneyOverflow(text.to_string()))
}

/// Converts a binary float amount (from Parquet or JSON) to minor units.
///
/// A float like `29.33` is stored as 29.329999…: it is accepted when it is within a billionth of
/// a minor unit of a whole number of minor units, which no genuine extra decimal place is. A
/// larger amount such as `12345678.91` is further from its minor units than that (the float has
/// too few bits left for the fraction): it is accepted when the shortest decimal that reads back
/// as the same float, `12345678.91`, has at most `decimals` places, and taken exactly from it.
/// Anything else (`12345.678`, `0.000000001` with 2 decimals) is refused, not rounded.
pub fn money_from_f64(value: f64, decimals: u8) -> Result<i64, ValueError> {
    if !value.is_finite() {
        return Err(ValueError::NotFinite(value.to_string()));
    }
    let scaled = value * 10f64.powi(i32::from(decimals));
    let rounded = scaled.round();
    if rounded.abs() >= 9.0e18 {
        return Err(ValueError::MoneyOverflow(value.to_string()));
    }
    if (scaled - rounded).abs() <= 1e-9 {
        return Ok(rounded as i64);
    }
    // Rust writes a float as the shortest decimal that reads back as it, without an exponent.
    let text = value.to_string();
    let places = text.split('.').nth(1).map_or(0, str::len);
    if places > usize::from(decimals) {
        return Err(ValueError::MoneyPrecision {
            text,
            places,
            decimals,
        });
    }
    parse_money(
        &text,
        MoneyFormat {
            decimals,
            ..MoneyFormat::default()
        },
    )
}

/// Converts a decimal with `scale` fractional digits (Parquet DECIMAL) to minor units.
pub fn money_from_decimal(unscaled: i128, scale: i8, decimals: u8) -> Result<i64, ValueError> {
    let shift = i32::from(decimals) - i32::from(scale);
    let value = if shift >= 0 {
        unscaled.checked_mul(10i128.pow(shift as u32))
    } else {
        let div = 10i128.pow((-shift) as u32);
        if unscaled % div != 0 {
            return Err(ValueError::MoneyPrecision {
                text: format_decimal(unscaled, scale),
                places: scale as usize,
                decimals,
            });
        }
        Some(unscaled / div)
    };
    value
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| ValueError::MoneyOverflow(format_decimal(unscaled, scale)))
}

fn format_decimal(unscaled: i128, scale: i8) -> String {
    if scale <= 0 {
        return format!("{unscaled}{}", "0".repeat((-scale) as usize));
    }
    let s = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{s:0>width$}", width = scale + 1);
    let (w, f) = padded.split_at(padded.len() - scale);
    format!("{}{w}.{f}", if unscaled < 0 { "-" } else { "" })
}

fn is_non_finite_word(s: &str) -> bool {
    ["nan", "inf", "infinity"]
        .iter()
        .any(|w| s.eq_ignore_ascii_case(w))
}

pub fn parse_int(text: &str) -> Result<i64, ValueError> {
    let s = text.trim();
    s.strip_prefix('+')
        .unwrap_or(s)
        .parse()
        .map_err(|_| ValueError::NotInt(text.to_string()))
}

/// Parses a float; NaN and infinities are refused because every statistic downstream breaks on them.
pub fn parse_float(text: &str) -> Result<f64, ValueError> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| ValueError::NotFloat(text.to_string()))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(ValueError::NotFinite(text.to_string()))
    }
}

pub fn parse_bool(text: &str) -> Result<bool, ValueError> {
    let s = text.trim();
    const TRUE: [&str; 5] = ["true", "t", "yes", "y", "1"];
    const FALSE: [&str; 5] = ["false", "f", "no", "n", "0"];
    if TRUE.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        Ok(true)
    } else if FALSE.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        Ok(false)
    } else {
        Err(ValueError::NotBool(text.to_string()))
    }
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian), or `None` if it is not a date.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> Option<i32> {
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    i32::try_from(era * 146_097 + doe - 719_468).ok()
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

pub const ISO_DATE: &str = "%Y-%m-%d";
pub const ISO_TIMESTAMP: &str = "ISO 8601 / RFC 3339";

/// Parses a date with a strftime `format`, or ISO `YYYY-MM-DD` when `format` is `None`.
pub fn parse_date(text: &str, format: Option<&str>) -> Result<i32, ValueError> {
    let s = text.trim();
    let bad = || ValueError::NotDate {
        text: text.to_string(),
        format: format.unwrap_or(ISO_DATE).to_string(),
    };
    match format {
        None => parse_iso_date(s.as_bytes()).ok_or_else(bad),
        Some(f) => TimeFormat::new(f).ok_or_else(bad)?.date(s),
    }
}

pub fn date_to_days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

pub fn days_to_date(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(i64::from(days))
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn parse_iso_date(b: &[u8]) -> Option<i32> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    days_from_civil(
        digits(&b[..4])? as i32,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )
}

/// Converts local wall-clock times in one zone to UTC.
///
/// This is on the path of every timestamp read, so offsets are cached per local day: a day whose
/// offset is the same at 00:00:00 and at 23:59:59 uses it throughout; a day with a change (a
/// daylight-saving switch) resolves each time through chrono-tz.
#[derive(Debug, Clone)]
pub struct LocalTime {
    tz: Tz,
    utc: bool,
    /// Direct-mapped cache: slot `day % len` holds (day, offset seconds).
    days: Vec<(i64, i64)>,
}

const DAY_SLOTS: usize = 1024;

impl LocalTime {
    pub fn new(tz: Tz) -> Self {
        Self {
            tz,
            utc: tz == Tz::UTC,
            days: vec![(i64::MIN, 0); DAY_SLOTS],
        }
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    fn offset_at(&self, local_secs: i64) -> Option<i64> {
        let naive = DateTime::from_timestamp(local_secs, 0)?.naive_utc();
        let t = self.tz.from_local_datetime(&naive).earliest()?;
        Some(local_secs - t.timestamp())
    }

    /// UTC microseconds of a local time given as seconds since the epoch on the local clock.
    /// `None` when the local time falls in a daylight-saving gap.
    pub fn to_utc_micros(&mut self, local_secs: i64, micros: i64) -> Option<i64> {
        if self.utc {
            return Some(local_secs * 1_000_000 + micros);
        }
        let day = local_secs.div_euclid(86_400);
        let slot = day.rem_euclid(DAY_SLOTS as i64) as usize;
        let (cached_day, offset) = self.days[slot];
        if cached_day == day {
            return Some((local_secs - offset) * 1_000_000 + micros);
        }
        let start = self.offset_at(day * 86_400);
        if start.is_some() && start == self.offset_at(day * 86_400 + 86_399) {
            let offset = start?;
            self.days[slot] = (day, offset);
            return Some((local_secs - offset) * 1_000_000 + micros);
        }
        // The offset changes during this day: resolve this instant alone.
        let offset = self.offset_at(local_secs)?;
        Some((local_secs - offset) * 1_000_000 + micros)
    }
}

/// Local calendar days of UTC instants in one zone, with offsets cached per UTC day (a day whose
/// offset differs at its start and end is cached per UTC hour instead, and an hour whose offset
/// differs at its start and end is resolved instant by instant).
#[derive(Debug, Clone)]
pub struct LocalDays {
    tz: Tz,
    utc: bool,
    /// (UTC day, its offset, or `MIXED` when the offset changes during the day).
    days: Vec<(i64, i64)>,
    hours: Vec<(i64, i64)>,
}

/// Slots of the per-day cache: 22 years of days without two sharing a slot.
const UTC_DAY_SLOTS: usize = 8192;
const MIXED: i64 = i64::MIN;

impl LocalDays {
    pub fn new(tz: Tz) -> Self {
        Self {
            tz,
            utc: tz == Tz::UTC,
            days: vec![(i64::MIN, 0); UTC_DAY_SLOTS],
            hours: vec![(i64::MIN, 0); DAY_SLOTS],
        }
    }

    fn offset(&self, utc_secs: i64) -> i64 {
        use chrono::Offset;
        let naive = DateTime::from_timestamp(utc_secs, 0)
            .map(|t| t.naive_utc())
            .unwrap_or_default();
        i64::from(
            self.tz
                .offset_from_utc_datetime(&naive)
                .fix()
                .local_minus_utc(),
        )
    }

    /// Days since 1970-01-01 of the local date at `micros` (µs since the epoch, UTC).
    pub fn day(&mut self, micros: i64) -> i32 {
        let secs = micros.div_euclid(1_000_000);
        if self.utc {
            return secs.div_euclid(86_400) as i32;
        }
        let day = secs.div_euclid(86_400);
        let slot = day.rem_euclid(UTC_DAY_SLOTS as i64) as usize;
        let offset = match self.days[slot] {
            (d, off) if d == day && off != MIXED => off,
            (d, _) if d == day => self.hour_offset(secs),
            _ => {
                let (a, b) = (
                    self.offset(day * 86_400),
                    self.offset(day * 86_400 + 86_399),
                );
                self.days[slot] = (day, if a == b { a } else { MIXED });
                if a == b { a } else { self.hour_offset(secs) }
            }
        };
        (secs + offset).div_euclid(86_400) as i32
    }

    fn hour_offset(&mut self, secs: i64) -> i64 {
        let hour = secs.div_euclid(3600);
        let slot = hour.rem_euclid(DAY_SLOTS as i64) as usize;
        match self.hours[slot] {
            (h, off) if h == hour => off,
            _ => {
                let (a, b) = (self.offset(hour * 3600), self.offset(hour * 3600 + 3599));
                if a == b {
                    self.hours[slot] = (hour, a);
                    a
                } else {
                    self.offset(secs)
                }
            }
        }
    }
}

/// A strftime format parsed once, for the many values read with it.
#[derive(Debug, Clone)]
pub struct TimeFormat {
    text: String,
    items: Vec<chrono::format::Item<'static>>,
    has_offset: bool,
}

impl TimeFormat {
    /// `None` if the format has an error.
    pub fn new(text: &str) -> Option<Self> {
        use chrono::format::{Item, StrftimeItems};
        let items = StrftimeItems::new(text).parse_to_owned().ok()?;
        if items.iter().any(|i| matches!(i, Item::Error)) {
            return None;
        }
        let has_offset = text.contains("%z") || text.contains("%:z") || text.contains("%#z");
        Some(Self {
            text: text.to_string(),
            items,
            has_offset,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn parsed(&self, s: &str) -> Option<chrono::format::Parsed> {
        let mut p = chrono::format::Parsed::new();
        chrono::format::parse(&mut p, s, self.items.iter()).ok()?;
        Some(p)
    }

    pub fn date(&self, text: &str) -> Result<i32, ValueError> {
        self.parsed(text.trim())
            .and_then(|p| p.to_naive_date().ok())
            .map(date_to_days)
            .ok_or_else(|| ValueError::NotDate {
                text: text.to_string(),
                format: self.text.clone(),
            })
    }

    pub fn timestamp(&self, text: &str, clock: &mut LocalTime) -> Result<i64, ValueError> {
        let bad = || ValueError::NotTimestamp {
            text: text.to_string(),
            format: self.text.clone(),
        };
        let p = self.parsed(text.trim()).ok_or_else(bad)?;
        if self.has_offset {
            return p
                .to_datetime()
                .map(|t| t.timestamp_micros())
                .map_err(|_| bad());
        }
        let date = p.to_naive_date().map_err(|_| bad())?;
        let naive = match p.to_naive_time() {
            Ok(time) => date.and_time(time),
            Err(_) if p.hour_div_12().is_none() && p.minute().is_none() => {
                date.and_time(NaiveTime::MIN)
            }
            Err(_) => return Err(bad()),
        };
        let utc = naive.and_utc();
        clock
            .to_utc_micros(utc.timestamp(), i64::from(utc.timestamp_subsec_micros()))
            .ok_or_else(|| ValueError::NonexistentLocalTime {
                text: text.to_string(),
                tz: clock.tz().name().to_string(),
            })
    }
}

/// Parses a timestamp to UTC microseconds.
///
/// With `format` `None`, accepts ISO 8601 / RFC 3339: `YYYY-MM-DD`, `YYYY-MM-DD[T ]HH:MM[:SS[.f]]`
/// with an optional `Z` or `±HH:MM` offset. Times without an offset are local to `clock`'s zone.
/// With a strftime format, a format with `%z` carries its own offset; a format without a time of
/// day gives local midnight.
pub fn parse_timestamp(
    text: &str,
    format: Option<&str>,
    clock: &mut LocalTime,
) -> Result<i64, ValueError> {
    let s = text.trim();
    let bad = || ValueError::NotTimestamp {
        text: text.to_string(),
        format: format.unwrap_or(ISO_TIMESTAMP).to_string(),
    };
    let gap = |clock: &LocalTime| ValueError::NonexistentLocalTime {
        text: text.to_string(),
        tz: clock.tz().name().to_string(),
    };
    let Some(f) = format else {
        let (local, micros, offset) = parse_iso_timestamp(s.as_bytes()).ok_or_else(bad)?;
        return match offset {
            Some(off) => Ok((local - off) * 1_000_000 + micros),
            None => clock.to_utc_micros(local, micros).ok_or_else(|| gap(clock)),
        };
    };
    TimeFormat::new(f).ok_or_else(bad)?.timestamp(s, clock)
}

/// Returns (local seconds since epoch, micros, offset seconds if given).
fn parse_iso_timestamp(b: &[u8]) -> Option<(i64, i64, Option<i64>)> {
    let days = i64::from(parse_iso_date(b.get(..10)?)?);
    if b.len() == 10 {
        return Some((days * 86_400, 0, None));
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 16 || b[13] != b':' {
        return None;
    }
    let hh = i64::from(digits(&b[11..13])?);
    let mm = i64::from(digits(&b[14..16])?);
    let mut i = 16;
    let mut ss = 0;
    let mut micros = 0i64;
    if b.get(i) == Some(&b':') {
        ss = i64::from(digits(b.get(i + 1..i + 3)?)?);
        i += 3;
        if matches!(b.get(i), Some(b'.') | Some(b',')) {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 6 {
                    micros = micros * 10 + i64::from(b[i] - b'0');
                }
                i += 1;
            }
            if i == start {
                return None;
            }
            for _ in (i - start)..6 {
                micros *= 10;
            }
        }
    }
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let local = days * 86_400 + hh * 3600 + mm * 60 + ss.min(59);
    let offset = match &b[i..] {
        [] => None,
        [b'Z' | b'z'] => Some(0),
        b" UTC" | b"UTC" => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)
                }
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                _ => return None,
            };
            let off = i64::from(h * 3600 + m * 60);
            Some(if *sign == b'-' { -off } else { off })
        }
        _ => return None,
    };
    Some((local, micros, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(s: &str) -> Result<i64, ValueError> {
        parse_money(s, MoneyFormat::default())
    }

    #[test]
    fn money_is_exact() {
        assert_eq!(cents("12.34"), Ok(1234));
        assert_eq!(cents("-0.5"), Ok(-50));
        assert_eq!(cents("7"), Ok(700));
        assert_eq!(cents("12.500"), Ok(1250));
        assert_eq!(cents(" +3.07 "), Ok(307));
        assert!(matches!(
            cents("12.505"),
            Err(ValueError::MoneyPrecision { places: 3, .. })
        ));
        assert!(matches!(cents("NaN"), Err(ValueError::NotFinite(_))));
        assert!(matches!(cents("-inf"), Err(ValueError::NotFinite(_))));
        assert!(matches!(cents("12,3"), Err(ValueError::NotMoney(_))));
        assert!(matches!(cents(""), Err(ValueError::NotMoney(_))));
        assert!(matches!(cents("."), Err(ValueError::NotMoney(_))));
        assert!(matches!(
            cents("99999999999999999999"),
            Err(ValueError::MoneyOverflow(_))
        ));
        let eu = MoneyFormat {
            decimals: 2,
            decimal_separator: b',',
            thousands_separator: Some(b'.'),
        };
        assert_eq!(parse_money("1.234,56", eu), Ok(123_456));
        let yen = MoneyFormat {
            decimals: 0,
            ..MoneyFormat::default()
        };
        assert_eq!(parse_money("1500", yen), Ok(1500));
        assert!(parse_money("1500.5", yen).is_err());
    }

    #[test]
    fn float_and_decimal_money() {
        assert_eq!(money_from_f64(29.33, 2), Ok(2933));
        // Too large for a billionth of a cent, still read as written.
        assert_eq!(money_from_f64(12_345_678.91, 2), Ok(1_234_567_891));
        assert_eq!(
            money_from_f64(123_456_789_012.34, 2),
            Ok(12_345_678_901_234)
        );
        // Sums done in floats, a billionth of a cent off.
        assert_eq!(money_from_f64(0.1 + 0.2, 2), Ok(30));
        // More places than money_decimals, refused at any size.
        for (value, places) in [(12_345.678, 3), (999_999.999, 3), (0.000_000_001, 9)] {
            assert_eq!(
                money_from_f64(value, 2),
                Err(ValueError::MoneyPrecision {
                    text: value.to_string(),
                    places,
                    decimals: 2
                }),
                "{value}"
            );
        }
        assert_eq!(money_from_f64(-0.1, 2), Ok(-10));
        assert!(money_from_f64(29.335, 2).is_err());
        assert!(money_from_f64(f64::NAN, 2).is_err());
        assert_eq!(
            money_from_decimal(12_345, 3, 2),
            Err(ValueError::MoneyPrecision {
                text: "12.345".into(),
                places: 3,
                decimals: 2
            })
        );
        assert_eq!(money_from_decimal(12_340, 3, 2), Ok(1234));
        assert_eq!(money_from_decimal(-5, 0, 2), Ok(-500));
    }

    #[test]
    fn civil_days_match_chrono() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (1900, 3, 1),
            (2024, 12, 31),
            (1600, 1, 1),
        ] {
            let expected = date_to_days(NaiveDate::from_ymd_opt(y, m, d).unwrap());
            assert_eq!(days_from_civil(y, m, d), Some(expected), "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(2023, 2, 29), None);
        assert_eq!(days_from_civil(2023, 13, 1), None);
    }

    #[test]
    fn timestamps_in_zones() {
        let mut utc = LocalTime::new(Tz::UTC);
        let t = parse_timestamp("2024-03-05T14:22:10Z", None, &mut utc).unwrap();
        assert_eq!(t, 1_709_648_530_000_000);
        assert_eq!(
            parse_timestamp("2024-03-05 15:22:10+01:00", None, &mut utc),
            Ok(t)
        );
        assert_eq!(
            parse_timestamp("2024-03-05T14:22:10.5", None, &mut utc),
            Ok(t + 500_000)
        );
        let mut berlin = LocalTime::new(chrono_tz::Europe::Berlin);
        assert_eq!(
            parse_timestamp("2024-03-05 15:22:10", None, &mut berlin),
            Ok(t)
        );
        // Summer time: UTC+2.
        let summer = parse_timestamp("2024-07-01 12:00:00", None, &mut berlin).unwrap();
        assert_eq!(
            summer,
            parse_timestamp("2024-07-01T10:00:00Z", None, &mut utc).unwrap()
        );
        // 02:30 on the spring-forward day does not exist in Berlin.
        assert!(matches!(
            parse_timestamp("2024-03-31 02:30:00", None, &mut berlin),
            Err(ValueError::NonexistentLocalTime { .. })
        ));
        let custom = parse_timestamp("05/03/2024 15:22", Some("%d/%m/%Y %H:%M"), &mut berlin);
        assert_eq!(custom, Ok(t - 10_000_000));
        let midnight = parse_timestamp("05/03/2024", Some("%d/%m/%Y"), &mut utc).unwrap();
        assert_eq!(midnight, 1_709_596_800_000_000);
        assert!(parse_timestamp("2024-02-30", None, &mut utc).is_err());
        assert!(parse_timestamp("2024-01-01T25:00", None, &mut utc).is_err());
    }

    #[test]
    fn local_days_follow_the_zone() {
        let mut berlin = LocalDays::new(chrono_tz::Europe::Berlin);
        let mut utc = LocalDays::new(Tz::UTC);
        // 2024-03-05T23:30Z is 00:30 on 2024-03-06 in Berlin (UTC+1).
        let t =
            parse_timestamp("2024-03-05T23:30:00Z", None, &mut LocalTime::new(Tz::UTC)).unwrap();
        assert_eq!(berlin.day(t), parse_date("2024-03-06", None).unwrap());
        assert_eq!(utc.day(t), parse_date("2024-03-05", None).unwrap());
        // Summer: 2024-07-01T21:59Z is 23:59 local, 22:00Z is midnight.
        let t =
            parse_timestamp("2024-07-01T21:59:00Z", None, &mut LocalTime::new(Tz::UTC)).unwrap();
        assert_eq!(berlin.day(t), parse_date("2024-07-01", None).unwrap());
        assert_eq!(
            berlin.day(t + 60_000_000),
            parse_date("2024-07-02", None).unwrap()
        );
        assert_eq!(utc.day(-1), -1);
    }

    proptest::proptest! {
        /// The cached days equal chrono-tz's answer for every instant, across DST changes.
        #[test]
        fn local_days_equal_chrono_tz(
            instants in proptest::collection::vec(-2_000_000_000i64..4_000_000_000, 1..200),
            zone in 0usize..4,
        ) {
            use chrono::TimeZone;
            let tz = [chrono_tz::Europe::Berlin, chrono_tz::America::New_York,
                chrono_tz::Australia::Lord_Howe, chrono_tz::Asia::Kolkata][zone];
            let mut days = LocalDays::new(tz);
            for &secs in &instants {
                // Each instant and its neighbours, so cached days and hours are hit again.
                for s in [secs, secs + 1, secs + 1800, secs - 3599] {
                    let local = tz.timestamp_opt(s, 0).unwrap().date_naive();
                    let expected = (local - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days();
                    proptest::prop_assert_eq!(i64::from(days.day(s * 1_000_000 + 999_999)), expected);
                }
            }
        }
    }

    #[test]
    fn dates_and_scalars() {
        assert_eq!(parse_date("1970-01-02", None), Ok(1));
        assert_eq!(parse_date("02.01.1970", Some("%d.%m.%Y")), Ok(1));
        assert!(parse_date("1970-1-2", None).is_err());
        assert_eq!(parse_bool("Yes"), Ok(true));
        assert_eq!(parse_bool("0"), Ok(false));
        assert!(parse_bool("maybe").is_err());
        assert_eq!(parse_int("+42"), Ok(42));
        assert!(parse_int("4.2").is_err());
        assert!(matches!(parse_float("inf"), Err(ValueError::NotFinite(_))));
    }
}
