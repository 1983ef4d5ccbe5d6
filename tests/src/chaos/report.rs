//! The long form's table: per fault kind, how many were injected and survived (the
//! cluster converged afterwards), and the convergence time after the restore (p50, p99).

use std::collections::BTreeMap;
use std::time::Duration;

use super::schedule::FaultKind;

/// Faults of many seeds, by kind.
#[derive(Debug, Default)]
pub struct Tally {
    pub seeds: usize,
    pub violations: usize,
    /// Per kind: convergence times of survived faults, and the count of faults injected.
    kinds: BTreeMap<FaultKind, (Vec<Duration>, usize)>,
}

/// The `q` quantile (0..=1) of sorted `values`, nearest rank.
pub fn quantile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

impl Tally {
    /// Adds one seed's faults and violation count.
    pub fn add(&mut self, faults: &[(FaultKind, Option<Duration>)], violations: usize) {
        self.seeds += 1;
        self.violations += violations;
        for (kind, took) in faults {
            let entry = self.kinds.entry(*kind).or_default();
            entry.1 += 1;
            if let Some(t) = took {
                entry.0.push(*t);
            }
        }
    }

    /// A Markdown table, one row per kind and a total.
    pub fn table(&self) -> String {
        let secs = |d: Option<Duration>| match d {
            Some(d) => format!("{:.1}", d.as_secs_f64()),
            None => "-".to_string(),
        };
        let mut out = String::from(
            "| fault | injected | survived | converged p50 (s) | converged p99 (s) |\n\
             |---|---:|---:|---:|---:|\n",
        );
        let (mut injected, mut survived) = (0, 0);
        for kind in FaultKind::ALL {
            let Some((times, count)) = self.kinds.get(&kind) else {
                out.push_str(&format!("| {} | 0 | 0 | - | - |\n", kind.name()));
                continue;
            };
            let mut sorted = times.clone();
            sorted.sort();
            injected += count;
            survived += sorted.len();
            out.push_str(&format!(
                "| {} | {count} | {} | {} | {} |\n",
                kind.name(),
                sorted.len(),
                secs(quantile(&sorted, 0.5)),
                secs(quantile(&sorted, 0.99)),
            ));
        }
        out.push_str(&format!("| **all** | {injected} | {survived} | | |\n"));
        out.push_str(&format!(
            "\nseeds run: {}, violations: {}\n",
            self.seeds, self.violations
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(s).collect();
        assert_eq!(quantile(&v, 0.5), Some(s(50)));
        assert_eq!(quantile(&v, 0.99), Some(s(99)));
        assert_eq!(quantile(&[s(7)], 0.99), Some(s(7)));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn the_table_counts_injected_and_survived_per_kind() {
        let mut t = Tally::default();
        t.add(
            &[(FaultKind::Kill9, Some(s(4))), (FaultKind::Pause, None)],
            1,
        );
        t.add(&[(FaultKind::Kill9, Some(s(8)))], 0);
        let table = t.table();
        assert!(table.contains("| kill -9 | 2 | 2 | 4.0 | 8.0 |"), "{table}");
        assert!(
            table.contains("| SIGSTOP/SIGCONT | 1 | 0 | - | - |"),
            "{table}"
        );
        assert!(table.contains("| **all** | 3 | 2 |"), "{table}");
        assert!(table.contains("seeds run: 2, violations: 1"), "{table}");
    }
}
