//! The `grpc-timeout` header: `TimeoutValue TimeoutUnit`, at most 8 ASCII digits followed by
//! one of `H M S m u n` (hours, minutes, seconds, milli-, micro-, nanoseconds).

use std::time::Duration;

/// Largest TimeoutValue: 8 decimal digits.
const MAX_VALUE: u64 = 99_999_999;

/// Units from finest to coarsest, with their length in nanoseconds.
const UNITS: [(char, u64); 6] = [
    ('n', 1),
    ('u', 1_000),
    ('m', 1_000_000),
    ('S', 1_000_000_000),
    ('M', 60 * 1_000_000_000),
    ('H', 3_600 * 1_000_000_000),
];

/// A malformed `grpc-timeout` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid grpc-timeout {value:?}: {reason}")]
pub(crate) struct InvalidTimeout {
    value: String,
    reason: &'static str,
}

/// Parses a `grpc-timeout` value such as `"100m"`.
pub(crate) fn parse_grpc_timeout(value: &str) -> Result<Duration, InvalidTimeout> {
    let invalid = |reason| InvalidTimeout {
        value: value.to_owned(),
        reason,
    };
    let Some(unit) = value.chars().last() else {
        return Err(invalid("empty value"));
    };
    let digits = &value[..value.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("expected 1 to 8 ASCII digits before the unit"));
    }
    let amount: u64 = digits
        .parse()
        .map_err(|_| invalid("expected 1 to 8 ASCII digits before the unit"))?;
    let nanos_per_unit = UNITS
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, nanos)| *nanos)
        .ok_or_else(|| invalid("unknown unit, expected one of H M S m u n"))?;
    // 99_999_999 hours is ~3.6e20 ns: too big for u64 nanoseconds, fine as u128.
    Ok(duration_from_nanos(
        u128::from(amount) * u128::from(nanos_per_unit),
    ))
}

/// Formats a timeout with the finest unit whose value fits in 8 digits, rounding up so a
/// non-zero timeout never becomes `0`. Timeouts beyond 99,999,999 hours are capped.
pub(crate) fn format_grpc_timeout(timeout: Duration) -> String {
    let nanos = timeout.as_nanos();
    for (unit, nanos_per_unit) in UNITS {
        let amount = nanos.div_ceil(u128::from(nanos_per_unit));
        if amount <= u128::from(MAX_VALUE) {
            return format!("{amount}{unit}");
        }
    }
    format!("{MAX_VALUE}H")
}

/// Builds a `Duration` from a nanosecond count that may exceed `u64`.
fn duration_from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    // Remainder < 1e9 always fits in u32.
    let subsec = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Duration::new(secs, subsec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        let cases = [
            ("1n", Duration::from_nanos(1)),
            ("250u", Duration::from_micros(250)),
            ("100m", Duration::from_millis(100)),
            ("30S", Duration::from_secs(30)),
            ("2M", Duration::from_secs(120)),
            ("3H", Duration::from_secs(3 * 3600)),
            ("0n", Duration::ZERO),
            ("00000005S", Duration::from_secs(5)),
            ("99999999n", Duration::from_nanos(99_999_999)),
            ("99999999H", Duration::from_secs(99_999_999 * 3600)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_grpc_timeout(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn rejects_malformed_values() {
        let cases = [
            ("", "empty value"),
            ("S", "expected 1 to 8 ASCII digits before the unit"),
            ("100", "unknown unit, expected one of H M S m u n"),
            ("123456789S", "expected 1 to 8 ASCII digits before the unit"),
            ("10s", "unknown unit, expected one of H M S m u n"),
            ("10h", "unknown unit, expected one of H M S m u n"),
            ("-1S", "expected 1 to 8 ASCII digits before the unit"),
            ("+1S", "expected 1 to 8 ASCII digits before the unit"),
            (" 1S", "expected 1 to 8 ASCII digits before the unit"),
            ("1 S", "expected 1 to 8 ASCII digits before the unit"),
            ("1S ", "expected 1 to 8 ASCII digits before the unit"),
            ("1.5S", "expected 1 to 8 ASCII digits before the unit"),
            ("１S", "expected 1 to 8 ASCII digits before the unit"),
            ("1é", "unknown unit, expected one of H M S m u n"),
        ];
        for (input, reason) in cases {
            let err = parse_grpc_timeout(input).expect_err(input);
            assert_eq!(err.reason, reason, "{input}");
            assert_eq!(err.value, input);
        }
    }

    #[test]
    fn error_message_names_value() {
        let err = parse_grpc_timeout("10x").expect_err("bad unit");
        assert_eq!(
            err.to_string(),
            "invalid grpc-timeout \"10x\": unknown unit, expected one of H M S m u n"
        );
    }

    #[test]
    fn formats_with_finest_fitting_unit() {
        let cases = [
            (Duration::ZERO, "0n"),
            (Duration::from_nanos(1), "1n"),
            (Duration::from_nanos(99_999_999), "99999999n"),
            (Duration::from_millis(100), "100000u"),
            (Duration::from_secs(1), "1000000u"),
            (Duration::from_secs(99), "99000000u"),
            (Duration::from_secs(100), "100000m"),
            (Duration::from_secs(100_000), "100000S"),
            (Duration::from_secs(100_000_000), "1666667M"),
            (Duration::from_secs(6_000_000_000), "1666667H"),
            (Duration::from_secs(99_999_999 * 3600), "99999999H"),
            (Duration::MAX, "99999999H"),
        ];
        for (input, expected) in cases {
            assert_eq!(format_grpc_timeout(input), expected, "{input:?}");
        }
    }

    #[test]
    fn format_rounds_up() {
        let cases = [
            // 100_000_001 ns does not fit as ns: 100_000.001 us rounds up to 100_001 us.
            (Duration::from_nanos(100_000_001), "100001u"),
            // 100_000.5 ms rounds up.
            (Duration::new(100, 500_000), "100001m"),
            (Duration::new(100_000_000, 1), "1666667M"),
        ];
        for (input, expected) in cases {
            assert_eq!(format_grpc_timeout(input), expected, "{input:?}");
        }
    }

    #[test]
    fn format_then_parse_never_shortens() {
        let samples = [
            Duration::from_nanos(1),
            Duration::from_nanos(123_456_789),
            Duration::new(12, 345_678_901),
            Duration::from_secs(86_400),
            Duration::new(5_000_000_000, 7),
        ];
        for d in samples {
            let parsed = parse_grpc_timeout(&format_grpc_timeout(d)).expect("valid");
            assert!(parsed >= d, "{d:?} became {parsed:?}");
        }
    }
}
