//! `--to-datetime` values: Kafka's `YYYY-MM-DDTHH:mm:SS.sss` with an optional zone (`Z`, `+02:00`,
//! `-0530`, `+01`), as milliseconds since the Unix epoch. Without a zone the time is read as UTC
//! (Kafka's tool reads it in the JVM's local time zone; a CLI without a time-zone database cannot, so
//! give the zone to be unambiguous). The fraction is optional and may have 1 to 9 digits (truncated
//! to milliseconds).

use anyhow::{Context, Result, bail};

/// Parses a `--to-datetime` value into Unix epoch milliseconds.
pub fn parse_datetime(text: &str) -> Result<i64> {
    let expected = || format!("invalid date-time '{text}': expected YYYY-MM-DDTHH:mm:SS.sss[Z|+HH:MM]");
    let (date, rest) = text.split_once('T').with_context(expected)?;
    let (clock, zone_minutes) = split_zone(rest).with_context(expected)?;
    let mut date_fields = date.split('-');
    let year = field(date_fields.next(), 4).with_context(expected)?;
    let month = field(date_fields.next(), 2).with_context(expected)?;
    let day = field(date_fields.next(), 2).with_context(expected)?;
    if date_fields.next().is_some() {
        bail!(expected());
    }
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, fraction)) => (hms, Some(fraction)),
        None => (clock, None),
    };
    let mut clock_fields = hms.split(':');
    let hour = field(clock_fields.next(), 2).with_context(expected)?;
    let minute = field(clock_fields.next(), 2).with_context(expected)?;
    let second = field(clock_fields.next(), 2).with_context(expected)?;
    if clock_fields.next().is_some() {
        bail!(expected());
    }
    let millis = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{f:0<3}")[..3].parse::<i64>().with_context(expected)?
        }
        Some(_) => bail!(expected()),
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        bail!("invalid date-time '{text}': no such date");
    }
    if hour > 23 || minute > 59 || second > 59 {
        bail!("invalid date-time '{text}': no such time of day");
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - zone_minutes * 60;
    Ok(seconds * 1_000 + millis)
}

/// A fixed-width run of ASCII digits.
fn field(text: Option<&str>, width: usize) -> Option<i64> {
    let text = text?;
    (text.len() == width && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok())?
}

/// Splits `HH:mm:SS.sss<zone>` into the clock and the zone's offset east of UTC in minutes.
fn split_zone(rest: &str) -> Option<(&str, i64)> {
    if let Some(clock) = rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z')) {
        return Some((clock, 0));
    }
    let Some(at) = rest.rfind(['+', '-']) else { return Some((rest, 0)) };
    let (clock, zone) = rest.split_at(at);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    let (hours, minutes) = match digits.len() {
        2 => (field(Some(&digits), 2)?, 0),
        4 => (field(Some(&digits[..2]), 2)?, field(Some(&digits[2..]), 2)?),
        _ => return None,
    };
    if hours > 18 || minutes > 59 || (zone.len() == 6 && zone.as_bytes()[3] != b':') {
        return None;
    }
    Some((clock, sign * (hours * 60 + minutes)))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafkas_format_with_and_without_zones() -> Result<()> {
        assert_eq!(parse_datetime("1970-01-01T00:00:00.000")?, 0);
        assert_eq!(parse_datetime("1970-01-01T00:00:00.001Z")?, 1);
        assert_eq!(parse_datetime("2024-02-29T12:34:56.789Z")?, 1_709_210_096_789);
        assert_eq!(parse_datetime("2024-02-29T12:34:56.789")?, 1_709_210_096_789, "no zone: UTC");
        assert_eq!(parse_datetime("2024-02-29T14:34:56.789+02:00")?, 1_709_210_096_789);
        assert_eq!(parse_datetime("2024-02-29T07:04:56.789-0530")?, 1_709_210_096_789);
        assert_eq!(parse_datetime("2024-02-29T13:34:56.789+01")?, 1_709_210_096_789);
        assert_eq!(parse_datetime("2024-02-29T12:34:56Z")?, 1_709_210_096_000, "no fraction");
        assert_eq!(parse_datetime("2024-02-29T12:34:56.7Z")?, 1_709_210_096_700);
        assert_eq!(parse_datetime("2024-02-29T12:34:56.123456789Z")?, 1_709_210_096_123);
        assert_eq!(parse_datetime("1969-12-31T23:59:59.000Z")?, -1_000);
        assert_eq!(parse_datetime("2000-03-01T00:00:00.000Z")?, 951_868_800_000);
        Ok(())
    }

    #[test]
    fn rejects_what_is_not_a_date_time() {
        for bad in [
            "",
            "2024-02-29",
            "2024-02-30T00:00:00.000",
            "2023-02-29T00:00:00.000",
            "2024-13-01T00:00:00.000",
            "2024-01-01T24:00:00.000",
            "2024-01-01T00:60:00.000",
            "2024-1-01T00:00:00.000",
            "2024-01-01T00:00:00.",
            "2024-01-01T00:00:00.0000000000",
            "2024-01-01T00:00:00.000+2",
            "2024-01-01T00:00:00.000+02:0",
            "2024-01-01T00:00:00.000+0:200",
            "2024-01-01T00:00:00.000+19:00",
            "2024-01-01T00:00.000",
            "yesterday",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
