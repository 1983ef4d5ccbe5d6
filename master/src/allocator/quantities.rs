//! Scalar amounts indexed by interned resource name.
//!
//! Shares, quota consumption and minimum offer sizes are sums per resource name. Keeping
//! them as vectors of fixed-point thousandths indexed by a name id makes each update a few
//! integer additions, without strings or floating-point drift.

use mesos_common::resources::{ResourceQuantities, Resources, Scalar, Value};

pub(super) type NameId = usize;

/// The resource names seen so far. There are few (cpus, mem, disk, ports, gpus, ...), so
/// a linear search beats hashing.
#[derive(Debug, Default)]
pub(super) struct Names {
    names: Vec<String>,
    excluded_from_shares: Vec<bool>,
    exclusions: Vec<String>,
}

impl Names {
    pub fn new(excluded_from_shares: &[String]) -> Names {
        Names {
            exclusions: excluded_from_shares.to_vec(),
            ..Names::default()
        }
    }

    pub fn id(&mut self, name: &str) -> NameId {
        if let Some(i) = self.lookup(name) {
            return i;
        }
        self.names.push(name.to_string());
        self.excluded_from_shares
            .push(self.exclusions.iter().any(|e| e == name));
        self.names.len() - 1
    }

    pub fn lookup(&self, name: &str) -> Option<NameId> {
        self.names.iter().position(|n| n == name)
    }

    pub fn name(&self, id: NameId) -> &str {
        &self.names[id]
    }

    fn counts_for_share(&self, id: NameId) -> bool {
        !self.excluded_from_shares[id]
    }
}

/// Thousandths per name id; missing trailing entries are zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Quantities(Vec<i64>);

impl Quantities {
    pub fn get(&self, id: NameId) -> i64 {
        self.0.get(id).copied().unwrap_or(0)
    }

    pub fn add(&mut self, id: NameId, millis: i64) {
        if self.0.len() <= id {
            self.0.resize(id + 1, 0);
        }
        self.0[id] += millis;
    }

    pub fn add_all(&mut self, other: &Quantities, sign: i64) {
        for (id, &m) in other.0.iter().enumerate() {
            if m != 0 {
                self.add(id, sign * m);
            }
        }
    }

    pub fn clear(&mut self) {
        self.0.iter_mut().for_each(|m| *m = 0);
    }

    pub fn iter(&self) -> impl Iterator<Item = (NameId, i64)> + '_ {
        self.0.iter().copied().enumerate().filter(|&(_, m)| m != 0)
    }

    /// Scalars only, the resources fairness and quota are about; `keep` picks which.
    pub fn of_scalars(
        names: &mut Names,
        resources: &Resources,
        keep: impl Fn(&mesos_common::resources::Resource) -> bool,
    ) -> Quantities {
        let mut q = Quantities::default();
        for r in resources.iter().filter(|r| keep(r)) {
            if let Value::Scalar(s) = r.value {
                q.add(names.id(&r.name), s.millis());
            }
        }
        q
    }

    pub fn to_resource_quantities(&self, names: &Names) -> ResourceQuantities {
        let mut rq = ResourceQuantities::new();
        for (id, m) in self.iter() {
            rq.add(names.name(id), Scalar::from_millis(m));
        }
        rq
    }

    /// The largest fraction of any total this allocation holds, over the names that count
    /// for fairness.
    pub fn dominant_share(&self, totals: &Quantities, names: &Names) -> f64 {
        let mut share = 0.0f64;
        for (id, m) in self.iter() {
            let total = totals.get(id);
            if total > 0 && names.counts_for_share(id) {
                share = share.max(m as f64 / total as f64);
            }
        }
        share
    }

    /// Whether every amount of `wanted` is available here.
    pub fn covers(&self, wanted: &[(NameId, i64)]) -> bool {
        wanted.iter().all(|&(id, m)| self.get(id) >= m)
    }
}
