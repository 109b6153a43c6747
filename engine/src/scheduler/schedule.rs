//! When a schedule fires (DESIGN §5). Times are Unix milliseconds; cron
//! expressions are evaluated in their IANA time zone by croner, which follows
//! the Open Cron Pattern Specification across DST changes: a fixed-time job
//! whose wall-clock time does not exist (spring forward) fires at the first
//! valid time after the gap, and one whose time happens twice (fall back)
//! fires once; interval patterns (`*/15 * * * *`) keep their real-time rhythm.

use chrono::{TimeZone, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

use crate::config::Schedule;

/// A schedule ready to compute fire times; parse once, ask often.
#[derive(Debug, Clone)]
pub enum Compiled {
    Cron { cron: Box<Cron>, tz: chrono_tz::Tz },
    Every { every_ms: i64, anchor_ms: i64 },
    At { at_ms: i64 },
}

impl Compiled {
    /// `created_ms` anchors an `every` schedule that names no anchor, so its
    /// rhythm does not shift with restarts.
    pub fn new(schedule: &Schedule, created_ms: i64) -> Result<Self, String> {
        Ok(match schedule {
            Schedule::Cron { expr, tz } => {
                let cron = CronParser::builder()
                    .seconds(Seconds::Optional)
                    .year(Year::Disallowed)
                    .build()
                    .parse(expr)
                    .map_err(|e| format!("cron expression `{expr}`: {e}"))?;
                let tz = match tz.as_deref() {
                    None | Some("") => chrono_tz::UTC,
                    Some(name) => name.parse().map_err(|_| {
                        format!(
                            "unknown time zone `{name}` (expected an IANA name like Europe/Berlin)"
                        )
                    })?,
                };
                Compiled::Cron {
                    cron: Box::new(cron),
                    tz,
                }
            }
            Schedule::Every {
                every_ms,
                anchor_ms,
            } => {
                if *every_ms == 0 {
                    return Err("everyMs must be more than 0".into());
                }
                Compiled::Every {
                    every_ms: i64::try_from(*every_ms)
                        .map_err(|_| "everyMs is too large".to_owned())?,
                    // Without an anchor, the whole second it was first seen:
                    // anchored on the tick's millisecond, an every-minute job
                    // fired at :00.271 for ever after.
                    anchor_ms: anchor_ms.unwrap_or_else(|| whole_second(created_ms)),
                }
            }
            Schedule::At { at_ms } => Compiled::At { at_ms: *at_ms },
        })
    }

    /// The first fire strictly after `after_ms`, if any.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        match self {
            Compiled::Cron { cron, tz } => {
                // Cron times are whole seconds; croner keeps the
                // milliseconds of the time it starts from (12:00:00.271 →
                // 12:01:00.271), so it starts from the whole second, which
                // has the same fires after it.
                let after = Utc
                    .timestamp_millis_opt(whole_second(after_ms))
                    .single()?
                    .with_timezone(tz);
                let next = cron
                    .find_next_occurrence(&after, false)
                    .ok()?
                    .timestamp_millis();
                Some(repeated_hour_fire(cron, tz, after_ms, next).unwrap_or(next))
            }
            Compiled::Every {
                every_ms,
                anchor_ms,
            } => {
                if after_ms < *anchor_ms {
                    return Some(*anchor_ms);
                }
                let periods = after_ms.checked_sub(*anchor_ms)? / every_ms + 1;
                anchor_ms.checked_add(periods.checked_mul(*every_ms)?)
            }
            Compiled::At { at_ms } => (*at_ms > after_ms).then_some(*at_ms),
        }
    }

    /// The next `n` fires after `after_ms`.
    pub fn next_n(&self, after_ms: i64, n: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(n);
        let mut t = after_ms;
        while out.len() < n {
            match self.next_after(t) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    /// Fires in `(after_ms, until_ms]`, at most `limit` (for counting fires
    /// missed while the server was down).
    pub fn between(&self, after_ms: i64, until_ms: i64, limit: usize) -> Vec<i64> {
        let mut out = Vec::new();
        let mut t = after_ms;
        while out.len() < limit {
            match self.next_after(t) {
                Some(next) if next <= until_ms => {
                    out.push(next);
                    t = next;
                }
                _ => break,
            }
        }
        out
    }
}

/// `ms` down to its whole second.
fn whole_second(ms: i64) -> i64 {
    ms.div_euclid(1000) * 1000
}

/// A job's first fire when the scheduler first sees it (or sees it enabled
/// or rescheduled) at `now`: the first after `now`, so a new job does not
/// fire at once. An invalid schedule has none.
pub fn first_fire(schedule: &Schedule, now: i64) -> Result<Option<i64>, String> {
    Ok(Compiled::new(schedule, now)?.next_after(now))
}

/// A job's next `n` fires as the scheduler will claim them: its stored next
/// fire (`stored`, what the next claim takes), then each following one as a
/// claim computes the next stored fire ([`Compiled::next_after`] of the
/// previous, anchored on the stored one as `tick` anchors it). A job not
/// scheduled yet (`None`) starts from [`first_fire`]. The Jobs page, the API's
/// `nextFires` and `cron list` show this, so the preview is never a second
/// computation that could disagree with the stored next fire.
pub fn upcoming(schedule: &Schedule, stored: Option<i64>, now: i64, n: usize) -> Vec<i64> {
    let Some(first) = stored.or_else(|| first_fire(schedule, now).ok().flatten()) else {
        return Vec::new();
    };
    let Ok(compiled) = Compiled::new(schedule, first) else {
        return Vec::new();
    };
    let mut fires = vec![first];
    fires.extend(compiled.next_n(first, n.saturating_sub(1)));
    fires.truncate(n);
    fires
}

/// croner walks wall-clock time, so around a fall-back overlap an interval
/// pattern (`*/30 * * * *`) would skip the repeated hour, or even answer a
/// time before `after_ms` (the first of two equal wall-clock times). The
/// repeated hour is real time: when croner's answer is not after `after_ms`
/// or the UTC offset drops before it, scan the minutes in between for a
/// match. Other days cost nothing; fixed-time patterns keep croner's
/// fire-once.
fn repeated_hour_fire(cron: &Cron, tz: &chrono_tz::Tz, after_ms: i64, next_ms: i64) -> Option<i64> {
    use chrono::Offset;
    if matches!(cron.determine_job_type(), croner::JobType::FixedTime) {
        return None;
    }
    let offset = |ms: i64| {
        Utc.timestamp_millis_opt(ms)
            .single()
            .map(|t| t.with_timezone(tz).offset().fix().local_minus_utc())
    };
    let backwards = next_ms <= after_ms;
    if !backwards && offset(next_ms)? >= offset(after_ms)? {
        return None;
    }
    // An overlap is at most a few hours; scan past it when croner went back.
    let end = if backwards {
        after_ms + 3 * 3_600_000
    } else {
        next_ms
    };
    let mut minute = (after_ms.div_euclid(60_000) + 1) * 60_000;
    while minute < end {
        let local = Utc.timestamp_millis_opt(minute).single()?.with_timezone(tz);
        if cron.is_time_matching(&local).unwrap_or(false) {
            return Some(minute);
        }
        minute += 60_000;
    }
    // Nothing in the overlap: ask croner again from past it.
    let past = Utc.timestamp_millis_opt(end).single()?.with_timezone(tz);
    cron.find_next_occurrence(&past, true)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The schedule in words, for the Jobs page.
pub fn describe(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Cron { expr, tz } => {
            format!("cron `{expr}` ({})", tz.as_deref().unwrap_or("UTC"))
        }
        Schedule::Every { every_ms, .. } => format!("every {}", duration_words(*every_ms)),
        Schedule::At { at_ms } => format!("once at {}", crate::router::format_ms(*at_ms)),
    }
}

fn duration_words(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "day"),
        (3_600_000, "hour"),
        (60_000, "minute"),
        (1000, "second"),
    ];
    for (size, name) in UNITS {
        if ms >= size && ms.is_multiple_of(size) {
            let n = ms / size;
            return if n == 1 {
                name.to_owned()
            } else {
                format!("{n} {name}s")
            };
        }
    }
    format!("{ms} ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    fn iso(ms: i64) -> String {
        crate::router::format_ms(ms)
    }

    fn cron(expr: &str, tz: &str) -> Compiled {
        Compiled::new(
            &Schedule::Cron {
                expr: expr.into(),
                tz: Some(tz.into()),
            },
            0,
        )
        .unwrap()
    }

    /// Fires are whole seconds whatever the millisecond of the time asked
    /// from; an explicit anchor keeps its own grid.
    #[test]
    fn fires_land_on_whole_seconds_or_the_anchor_grid() {
        let t = utc("2026-11-26T09:00:00Z");
        let late = t + 271;
        assert_eq!(cron("* * * * *", "UTC").next_after(late), Some(t + 60_000));
        assert_eq!(
            cron("*/5 * * * * *", "UTC").next_after(late),
            Some(t + 5_000)
        );
        assert_eq!(
            cron("0 9 * * *", "Europe/Berlin").next_after(late),
            Some(utc("2026-11-27T08:00:00Z"))
        );
        let every = |anchor_ms| Schedule::Every {
            every_ms: 60_000,
            anchor_ms,
        };
        let implicit = Compiled::new(&every(None), late).unwrap();
        assert_eq!(implicit.next_after(late), Some(t + 60_000));
        let anchored = Compiled::new(&every(Some(t + 250)), late).unwrap();
        assert_eq!(anchored.next_after(late), Some(t + 60_250));
        assert_eq!(first_fire(&every(None), late), Ok(Some(t + 60_000)));
    }

    /// The preview starts at the stored next fire and follows it as claims do.
    #[test]
    fn upcoming_starts_at_the_stored_fire() {
        let t = utc("2026-11-26T09:00:00Z");
        let every = Schedule::Every {
            every_ms: 60_000,
            anchor_ms: None,
        };
        assert_eq!(
            upcoming(&every, Some(t + 30_000), t, 3),
            [t + 30_000, t + 90_000, t + 150_000]
        );
        assert_eq!(
            upcoming(&every, None, t + 271, 2),
            [t + 60_000, t + 120_000]
        );
        let once = Schedule::At { at_ms: t };
        assert_eq!(upcoming(&once, Some(t), t - 1, 5), [t]);
        assert!(upcoming(&once, None, t, 5).is_empty());
    }

    #[test]
    fn cron_in_a_time_zone() {
        let c = cron("0 9 * * 1-5", "Europe/Berlin");
        // Friday 2026-11-27 08:00 UTC = 09:00 CET.
        let fires: Vec<String> = c
            .next_n(utc("2026-11-26T09:00:00Z"), 3)
            .into_iter()
            .map(iso)
            .collect();
        assert_eq!(
            fires,
            [
                "2026-11-27T08:00:00.000Z",
                "2026-11-30T08:00:00.000Z",
                "2026-12-01T08:00:00.000Z"
            ]
        );
    }

    #[test]
    fn spring_forward_gap_fires_once_right_after_the_gap() {
        // Europe/Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 never happens.
        let c = cron("30 2 * * *", "Europe/Berlin");
        let fires: Vec<String> = c
            .next_n(utc("2026-03-27T12:00:00Z"), 3)
            .into_iter()
            .map(iso)
            .collect();
        assert_eq!(
            fires,
            [
                "2026-03-28T01:30:00.000Z", // 02:30 CET
                "2026-03-29T01:00:00.000Z", // 03:00 CEST, first valid time after the gap
                "2026-03-30T00:30:00.000Z", // 02:30 CEST
            ]
        );
    }

    #[test]
    fn fall_back_overlap_fires_a_fixed_time_once() {
        // Europe/Berlin 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
        let c = cron("30 2 * * *", "Europe/Berlin");
        let fires: Vec<String> = c
            .next_n(utc("2026-10-24T12:00:00Z"), 2)
            .into_iter()
            .map(iso)
            .collect();
        assert_eq!(
            fires,
            ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]
        );
        // An interval pattern keeps firing in real time through the repeated hour.
        let every_30 = cron("*/30 * * * *", "Europe/Berlin");
        let fires: Vec<String> = every_30
            .between(utc("2026-10-24T23:59:00Z"), utc("2026-10-25T02:00:00Z"), 10)
            .into_iter()
            .map(iso)
            .collect();
        assert_eq!(
            fires,
            [
                "2026-10-25T00:00:00.000Z",
                "2026-10-25T00:30:00.000Z",
                "2026-10-25T01:00:00.000Z",
                "2026-10-25T01:30:00.000Z",
                "2026-10-25T02:00:00.000Z"
            ]
        );
    }

    #[test]
    fn every_keeps_its_anchor_and_at_fires_once() {
        let every = Compiled::new(
            &Schedule::Every {
                every_ms: 60_000,
                anchor_ms: Some(1_000),
            },
            0,
        )
        .unwrap();
        assert_eq!(every.next_n(0, 3), [1_000, 61_000, 121_000]);
        assert_eq!(every.next_after(61_000), Some(121_000));
        assert_eq!(every.between(0, 181_000, 10).len(), 4);
        let unanchored = Compiled::new(
            &Schedule::Every {
                every_ms: 10_000,
                anchor_ms: None,
            },
            5_271,
        )
        .unwrap();
        // Anchored on the whole second it was first seen.
        assert_eq!(unanchored.next_after(7_000), Some(15_000));
        let at = Compiled::new(&Schedule::At { at_ms: 500 }, 0).unwrap();
        assert_eq!(at.next_n(0, 5), [500]);
        assert_eq!(at.next_after(500), None);
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        let e = Compiled::new(
            &Schedule::Cron {
                expr: "61 * * * *".into(),
                tz: None,
            },
            0,
        )
        .unwrap_err();
        assert!(e.starts_with("cron expression `61 * * * *`"), "{e}");
        let e = Compiled::new(
            &Schedule::Cron {
                expr: "* * * * *".into(),
                tz: Some("Mars/Olympus".into()),
            },
            0,
        )
        .unwrap_err();
        assert!(e.contains("Mars/Olympus"), "{e}");
        assert!(Compiled::new(
            &Schedule::Every {
                every_ms: 0,
                anchor_ms: None
            },
            0
        )
        .is_err());
    }

    #[test]
    fn schedules_in_words() {
        assert_eq!(
            describe(&Schedule::Every {
                every_ms: 3_600_000,
                anchor_ms: None
            }),
            "every hour"
        );
        assert_eq!(
            describe(&Schedule::Every {
                every_ms: 90_000,
                anchor_ms: None
            }),
            "every 90 seconds"
        );
        assert_eq!(
            describe(&Schedule::Cron {
                expr: "0 9 * * *".into(),
                tz: None
            }),
            "cron `0 9 * * *` (UTC)"
        );
    }
}
