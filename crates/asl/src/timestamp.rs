//! Timestamps as ASL defines them (RFC 3339 with an uppercase `T` and `Z`), parsed for Wait
//! and Choice, and formatted as AWS writes them in the context object and history.
//!
//! The accepted form is `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`:
//!
//! - a four-digit year, and a date and time that exist (no `25:00`, no 30 February, no leap
//!   second `:60`);
//! - a fraction of one to nine digits, kept to the nanosecond by [`Instant`];
//! - an offset of at most ±18:00, the range AWS's (Java) parser accepts.
//!
//! Anything else (a space or lowercase `t` for the separator, a missing zone, a lowercase `z`,
//! an offset without a colon, seconds left out) is not a timestamp.

use std::fmt;

/// Milliseconds since the Unix epoch, UTC. The interpreter's only notion of time.
pub type Millis = i64;

const NANOS_PER_SECOND: u32 = 1_000_000_000;
const NANOS_PER_MILLI: u32 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;
const MILLIS_PER_DAY: i64 = 86_400_000;
/// Java's `ZoneOffset` refuses anything beyond ±18:00, and so does AWS.
const MAX_OFFSET_SECONDS: i64 = 18 * 3600;

/// A point in time with the full precision a timestamp can carry.
///
/// Choice's `Timestamp*` operators compare these rather than [`Millis`], so two timestamps
/// that differ only below the millisecond are still different.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    /// Whole seconds since the Unix epoch (floored, so negative before 1970).
    seconds: i64,
    /// Nanoseconds past `seconds`, always below one second.
    nanos: u32,
}

impl Instant {
    /// Parse an ASL timestamp; `None` when the text is not one (see the module doc).
    pub fn parse(text: &str) -> Option<Self> {
        parse_instant(text.as_bytes())
    }

    /// The instant, rounded down to the millisecond.
    pub fn to_millis(self) -> Millis {
        // `seconds` is bounded by four-digit years, so this cannot overflow.
        self.seconds * 1000 + i64::from(self.nanos / NANOS_PER_MILLI)
    }

    pub fn from_millis(ms: Millis) -> Self {
        let seconds = ms.div_euclid(1000);
        // rem_euclid(1000) is in 0..1000, so the cast and product are exact.
        let nanos = ms.rem_euclid(1000) as u32 * NANOS_PER_MILLI;
        Self { seconds, nanos }
    }
}

impl fmt::Display for Instant {
    /// UTC with as many fractional digits as the instant needs (none for whole seconds).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.seconds.div_euclid(SECONDS_PER_DAY);
        let secs_of_day = self.seconds.rem_euclid(SECONDS_PER_DAY);
        write_date_time(f, days, secs_of_day)?;
        if self.nanos > 0 {
            let digits = format!("{:09}", self.nanos);
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

/// Parse an ASL timestamp (e.g. `2016-03-14T01:59:00Z`, `2016-03-14T01:59:00.123+02:00`).
/// Returns `None` when the text is not one. Digits below the millisecond are dropped
/// (rounding toward the past); use [`Instant::parse`] to keep them.
pub fn parse(text: &str) -> Option<Millis> {
    Instant::parse(text).map(Instant::to_millis)
}

/// Format as AWS does in the context object (`2024-01-01T00:00:00.123Z`).
///
/// Always UTC with three fractional digits. Years outside 0000–9999 (which [`parse`] does not
/// accept) are written with a sign and at least four digits, as ISO 8601's expanded form and
/// Java's `Instant.toString` do, rather than failing.
pub fn format(ms: Millis) -> String {
    struct Formatted(Millis);
    impl fmt::Display for Formatted {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let days = self.0.div_euclid(MILLIS_PER_DAY);
            let ms_of_day = self.0.rem_euclid(MILLIS_PER_DAY);
            write_date_time(f, days, ms_of_day / 1000)?;
            write!(f, ".{:03}Z", ms_of_day % 1000)
        }
    }
    Formatted(ms).to_string()
}

fn write_date_time(f: &mut fmt::Formatter<'_>, days: i64, secs_of_day: i64) -> fmt::Result {
    let (year, month, day) = civil_from_days(days);
    if (0..=9999).contains(&year) {
        write!(f, "{year:04}")?;
    } else if year > 9999 {
        write!(f, "+{year}")?;
    } else {
        write!(f, "-{:04}", year.unsigned_abs())?;
    }
    write!(f, "-{month:02}-{day:02}T{:02}:{:02}:{:02}", secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60)
}

/// A cursor over the timestamp's bytes. Every field is fixed-width ASCII, so bytes suffice.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// Exactly `width` decimal digits.
    fn digits(&mut self, width: usize) -> Option<u32> {
        let field = self.bytes.get(self.pos..self.pos + width)?;
        let mut value = 0u32;
        for &b in field {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(b - b'0');
        }
        self.pos += width;
        Some(value)
    }
}

fn parse_instant(bytes: &[u8]) -> Option<Instant> {
    let mut c = Cursor { bytes, pos: 0 };
    let year = c.digits(4)?;
    c.expect(b'-')?;
    let month = c.digits(2)?;
    c.expect(b'-')?;
    let day = c.digits(2)?;
    c.expect(b'T')?;
    let hour = c.digits(2)?;
    c.expect(b':')?;
    let minute = c.digits(2)?;
    c.expect(b':')?;
    let second = c.digits(2)?;

    let mut nanos = 0u32;
    if c.peek() == Some(b'.') {
        c.pos += 1;
        let mut count = 0u32;
        while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
            count += 1;
            if count > 9 {
                return None;
            }
            nanos = nanos * 10 + u32::from(b - b'0');
            c.pos += 1;
        }
        if count == 0 {
            return None;
        }
        nanos *= 10u32.pow(9 - count);
    }

    let offset_seconds = match c.peek()? {
        b'Z' => {
            c.pos += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            c.pos += 1;
            let hours = c.digits(2)?;
            c.expect(b':')?;
            let minutes = c.digits(2)?;
            if minutes > 59 {
                return None;
            }
            let magnitude = i64::from(hours * 3600 + minutes * 60);
            if magnitude > MAX_OFFSET_SECONDS {
                return None;
            }
            if sign == b'-' {
                -magnitude
            } else {
                magnitude
            }
        }
        _ => return None,
    };
    if c.pos != bytes.len() {
        return None;
    }

    // A four-digit year always fits an i32; chrono knows which dates exist.
    chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }

    let days = days_from_civil(i64::from(year), month, day);
    let local = days * SECONDS_PER_DAY + i64::from(hour * 3600 + minute * 60 + second);
    debug_assert!(nanos < NANOS_PER_SECOND);
    Some(Instant { seconds: local - offset_seconds, nanos })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm), valid
/// for every year an `i64` day count can reach.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    // Both are small and non-negative by construction (1..=31 and 1..=12).
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate, Timelike};
    use proptest::prelude::*;

    const MIN_MS: Millis = -62_167_219_200_000; // 0000-01-01T00:00:00Z
    const MAX_MS: Millis = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

    #[test]
    fn timestamp_accepts_asl_forms() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse("2016-03-14T01:59:00Z"), Some(1_457_920_740_000));
        assert_eq!(parse("2016-03-14T01:59:00.123Z"), Some(1_457_920_740_123));
        assert_eq!(parse("2016-03-14T03:59:00.123+02:00"), Some(1_457_920_740_123));
        assert_eq!(parse("2016-03-13T21:59:00-04:00"), Some(1_457_920_740_000));
        assert_eq!(parse("2026-11-22T18:58:08.000000Z"), parse("2026-11-22T18:58:08Z"));
        assert_eq!(parse("2026-11-22T18:58:08.00Z"), parse("2026-11-22T18:58:08Z"));
        assert_eq!(parse("2016-03-05T21:29:29.243167252Z"), Some(1_457_213_369_243));
        assert_eq!(parse("2016-02-29T00:00:00Z"), Some(1_456_704_000_000));
        assert_eq!(parse("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        assert_eq!(parse("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(parse("0000-01-01T00:00:00Z"), Some(MIN_MS));
        assert_eq!(parse("9999-12-31T23:59:59.999Z"), Some(MAX_MS));
        assert_eq!(parse("2020-01-01T00:00:00+18:00"), Some(1_577_836_800_000 - 18 * 3_600_000));
        assert_eq!(parse("2020-01-01T00:00:00-00:00"), Some(1_577_836_800_000));
    }

    #[test]
    fn timestamp_rejects_what_asl_rejects() {
        for text in [
            "",
            "2016-12-05T25:29:29Z",            // hour 25
            "2016-12-05T24:00:00Z",            // hour 24
            "2016-12-05T21:60:00Z",            // minute 60
            "2016-12-05T21:29:60Z",            // leap second
            "2016-02-30T00:00:00Z",            // no 30 February
            "2015-02-29T00:00:00Z",            // not a leap year
            "1900-02-29T00:00:00Z",            // century, not a leap year
            "2016-04-31T00:00:00Z",            // April has 30 days
            "2016-13-01T00:00:00Z",            // month 13
            "2016-00-01T00:00:00Z",            // month 0
            "2016-01-00T00:00:00Z",            // day 0
            "05-12-2016T21:29:29Z",            // not ISO order
            "2016-12-05T21:29:29",             // no zone
            "2026-11-22T18:58:08.000000",      // no zone, with fraction
            "2016-12-05t21:29:29Z",            // lowercase t
            "2016-12-05T21:29:29z",            // lowercase z
            "2016-12-05 21:29:29Z",            // space separator
            "2016-12-05T21:29Z",               // no seconds
            "2016-12-05T21:29:29.Z",           // empty fraction
            "2016-12-05T21:29:29.1234567891Z", // ten fractional digits
            "2016-12-05T21:29:29+0200",        // offset without colon
            "2016-12-05T21:29:29+02",          // offset without minutes
            "2016-12-05T21:29:29+18:01",       // beyond ±18:00
            "2016-12-05T21:29:29+19:00",
            "2016-12-05T21:29:29+02:60",
            "2016-12-05T21:29:29Z ", // trailing text
            " 2016-12-05T21:29:29Z",
            "+2016-12-05T21:29:29Z",
            "20160-12-05T21:29:29Z",
            "2016-1-05T21:29:29Z",
            "2016-12-05T21:29:29ZZ",
            "2023-02-24 12:15:56.832957",
            "２０１６-12-05T21:29:29Z", // non-ASCII digits
        ] {
            assert_eq!(parse(text), None, "{text:?} should not parse");
        }
    }

    #[test]
    fn timestamp_keeps_nanoseconds_in_instant() {
        let a = Instant::parse("2016-03-05T21:29:29.243167252Z");
        let b = Instant::parse("2016-03-05T21:29:29.243167253Z");
        assert!(a.is_some() && b.is_some());
        assert!(a < b);
        assert_eq!(a.map(Instant::to_millis), b.map(Instant::to_millis));
        assert_eq!(
            Instant::parse("2016-03-05T23:29:29.5+02:00").map(|i| i.to_string()),
            Some("2016-03-05T21:29:29.5Z".to_owned())
        );
    }

    #[test]
    fn timestamp_formats_like_aws() {
        assert_eq!(format(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format(1_704_067_200_123), "2024-01-01T00:00:00.123Z");
        assert_eq!(format(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format(MAX_MS), "9999-12-31T23:59:59.999Z");
        assert_eq!(format(MAX_MS + 1), "+10000-01-01T00:00:00.000Z");
        assert_eq!(format(MIN_MS - 1), "-0001-12-31T23:59:59.999Z");
        // Total on the whole range.
        assert!(format(i64::MIN).ends_with('Z'));
        assert!(format(i64::MAX).ends_with('Z'));
    }

    proptest! {
        #[test]
        fn timestamp_format_parse_round_trip(ms in MIN_MS..=MAX_MS) {
            prop_assert_eq!(parse(&format(ms)), Some(ms));
            prop_assert_eq!(Instant::from_millis(ms).to_millis(), ms);
        }

        #[test]
        fn timestamp_agrees_with_chrono(
            ms in MIN_MS..=MAX_MS,
            offset_minutes in -18 * 60..=18 * 60i32,
        ) {
            // Render the instant in some offset with chrono, and check we read it back.
            let utc = chrono::DateTime::from_timestamp_millis(ms);
            prop_assume!(utc.is_some());
            let Some(utc) = utc else { return Ok(()) };
            let Some(zone) = chrono::FixedOffset::east_opt(offset_minutes * 60) else { return Ok(()) };
            let local = utc.with_timezone(&zone);
            prop_assume!((0..=9999).contains(&local.year()));
            let text = local.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string();
            prop_assert_eq!(parse(&text), Some(ms), "{}", text);
        }

        #[test]
        fn timestamp_date_validity_agrees_with_chrono(
            year in 0..=9999i32, month in 0..=13u32, day in 0..=32u32,
            hour in 0..=25u32, minute in 0..=61u32, second in 0..=61u32,
        ) {
            let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z");
            let expected = NaiveDate::from_ymd_opt(year, month, day)
                .and_then(|d| d.and_hms_opt(hour, minute, second))
                .filter(|t| t.second() < 60 && t.hour() < 24)
                .map(|t| t.and_utc().timestamp_millis());
            prop_assert_eq!(parse(&text), expected);
        }

        #[test]
        fn timestamp_parse_never_panics(text in ".{0,40}") {
            let _ = parse(&text);
        }

        #[test]
        fn timestamp_parse_never_panics_on_near_misses(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,11})?([Zz]|[+-][0-9]{2}:?[0-9]{0,2})?") {
            let _ = parse(&text);
        }
    }
}
