//! One task's health check as Mesos's health checker keeps it: a pure state machine with
//! time as an input.
//!
//! - the first check runs `delay_seconds` after the checker starts (the task runs), the
//!   next ones `interval_seconds` after the previous one ended;
//! - a failure (a check that failed, errored or timed out) is ignored while the task has
//!   not been healthy yet and is still within `grace_period_seconds` of the start;
//! - every counted failure is reported unhealthy, with the count; once the count reaches
//!   `consecutive_failures` the report asks to kill the task;
//! - a success is reported on the first one and on the first after failures only.

use std::time::Duration;

use mesos_proto::v1::HealthCheck;

/// The timing of a check, from `TaskInfo.health_check` (Mesos's defaults where unset).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub delay: Duration,
    pub interval: Duration,
    pub timeout: Duration,
    pub grace_period: Duration,
    pub consecutive_failures: u32,
}

impl Timing {
    pub fn of(check: &HealthCheck) -> Timing {
        let secs = |s: f64| Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::ZERO);
        Timing {
            delay: secs(check.delay_seconds()),
            interval: secs(check.interval_seconds()),
            timeout: secs(check.timeout_seconds()),
            grace_period: secs(check.grace_period_seconds()),
            consecutive_failures: check.consecutive_failures(),
        }
    }
}

/// What the task's status should say after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub healthy: bool,
    pub consecutive_failures: u32,
    /// The failures reached `consecutive_failures`: the task is to be killed.
    pub kill: bool,
}

#[derive(Debug, Clone)]
pub struct Checker {
    timing: Timing,
    /// When the checker started (milliseconds, any monotonic origin).
    started_ms: u64,
    consecutive_failures: u32,
    /// No success yet.
    initializing: bool,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Checker {
    pub fn new(timing: Timing, now_ms: u64) -> Checker {
        Checker {
            timing,
            started_ms: now_ms,
            consecutive_failures: 0,
            initializing: true,
        }
    }

    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// When the first check runs.
    pub fn first_check_at(&self) -> u64 {
        self.started_ms.saturating_add(ms(self.timing.delay))
    }

    /// When the next check runs, after one that ended at `ended_ms`.
    pub fn next_check_at(&self, ended_ms: u64) -> u64 {
        ended_ms.saturating_add(ms(self.timing.interval))
    }

    /// A check's result (Err: why it failed); the report to send, if any.
    pub fn on_result(&mut self, result: Result<(), String>, now_ms: u64) -> Option<Report> {
        match result {
            Ok(()) => {
                let report =
                    (self.initializing || self.consecutive_failures > 0).then_some(Report {
                        healthy: true,
                        consecutive_failures: 0,
                        kill: false,
                    });
                self.initializing = false;
                self.consecutive_failures = 0;
                report
            }
            Err(_) => {
                let grace = ms(self.timing.grace_period);
                if self.initializing && grace > 0 && now_ms.saturating_sub(self.started_ms) <= grace
                {
                    return None;
                }
                self.consecutive_failures += 1;
                Some(Report {
                    healthy: false,
                    consecutive_failures: self.consecutive_failures,
                    kill: self.consecutive_failures >= self.timing.consecutive_failures,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1000;

    fn timing(delay: u64, interval: u64, grace: u64, failures: u32) -> Timing {
        Timing {
            delay: Duration::from_secs(delay),
            interval: Duration::from_secs(interval),
            timeout: Duration::from_secs(1),
            grace_period: Duration::from_secs(grace),
            consecutive_failures: failures,
        }
    }

    #[test]
    fn delay_then_interval_after_each_check() {
        let c = Checker::new(timing(15, 10, 0, 3), 100 * S);
        assert_eq!(c.first_check_at(), 115 * S);
        assert_eq!(c.next_check_at(117 * S), 127 * S);
        let c = Checker::new(timing(0, 1, 0, 3), 5);
        assert_eq!(c.first_check_at(), 5);
    }

    #[test]
    fn timing_from_the_task_uses_mesos_defaults() {
        let t = Timing::of(&HealthCheck::default());
        assert_eq!(
            t,
            Timing {
                delay: Duration::from_secs(15),
                interval: Duration::from_secs(10),
                timeout: Duration::from_secs(20),
                grace_period: Duration::from_secs(10),
                consecutive_failures: 3,
            }
        );
    }

    /// (seconds after start, passed?) -> the report each result gives.
    #[test]
    fn grace_period_reports_and_kills() {
        type Row = (u64, bool, Option<(bool, u32, bool)>);
        let cases: [(&str, Timing, &[Row]); 5] = [
            (
                "failures in the grace period are ignored until it ends",
                timing(0, 1, 5, 2),
                &[
                    (1, false, None),
                    (5, false, None),
                    (6, false, Some((false, 1, false))),
                    (7, false, Some((false, 2, true))),
                ],
            ),
            (
                "after a success the grace period no longer applies",
                timing(0, 1, 60, 2),
                &[
                    (1, true, Some((true, 0, false))),
                    (2, false, Some((false, 1, false))),
                    (3, false, Some((false, 2, true))),
                ],
            ),
            (
                "successes are reported on the first and after failures only",
                timing(0, 1, 0, 3),
                &[
                    (1, true, Some((true, 0, false))),
                    (2, true, None),
                    (3, false, Some((false, 1, false))),
                    (4, true, Some((true, 0, false))),
                    (5, true, None),
                ],
            ),
            (
                "a success resets the count",
                timing(0, 1, 0, 2),
                &[
                    (1, false, Some((false, 1, false))),
                    (2, true, Some((true, 0, false))),
                    (3, false, Some((false, 1, false))),
                ],
            ),
            (
                "no grace period: the first failure counts",
                timing(0, 1, 0, 1),
                &[(0, false, Some((false, 1, true)))],
            ),
        ];
        for (name, t, rows) in cases {
            let mut c = Checker::new(t, 0);
            for &(at, ok, want) in rows {
                let result = if ok { Ok(()) } else { Err("boom".to_string()) };
                let got = c
                    .on_result(result, at * S)
                    .map(|r| (r.healthy, r.consecutive_failures, r.kill));
                assert_eq!(got, want, "{name}, at {at} s");
            }
        }
    }
}
