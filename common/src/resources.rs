//! Mesos resources and attributes as domain values.
//!
//! A [`Resources`] is a bag of named quantities an agent offers: scalars (`cpus:4`), ranges
//! (`ports:[31000-32000]`) and sets (`disks:{a,b}`), each either unreserved (role `*`) or
//! statically reserved to a role (`cpus(web):2`). It is kept in a canonical form (sorted by
//! name, role and kind; equal keys merged; empty values dropped) so that equality is
//! structural and the arithmetic is a merge of two sorted lists.
//!
//! Scalars are fixed-point numbers with three decimals, as Mesos computes them, so adding and
//! subtracting `0.1` a thousand times leaves no drift.
//!
//! Parsers accept what Mesos accepts on its command lines:
//! - `--resources`: `cpus:4;mem:2048;ports:[31000-32000];cpus(web):2;foo:{a,b}` or the JSON
//!   array `[{"name":"cpus","type":"SCALAR","scalar":{"value":4}}]`;
//! - `--attributes`: `rack:r1;zone:a;level:3` (text, scalar and range values);
//! - `--min_allocatable_resources`: alternatives of scalar quantities, `cpus:0.01|mem:32`.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The role of unreserved resources.
pub const DEFAULT_ROLE: &str = "*";

/// Why a text or JSON value could not be parsed. Each variant names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("bad resource '{0}': missing or extra ':'")]
    Colon(String),
    #[error("bad resource '{0}': mismatched parentheses")]
    Parentheses(String),
    #[error("bad resource '{0}': empty name")]
    EmptyName(String),
    #[error("bad value '{value}' for '{name}': {reason}")]
    Value {
        name: String,
        value: String,
        reason: String,
    },
    #[error("resource '{name}' is given both as {first} and as {second}")]
    ConflictingTypes {
        name: String,
        first: ValueKind,
        second: ValueKind,
    },
    #[error("invalid role '{role}': {reason}")]
    Role { role: String, reason: &'static str },
    #[error("bad attribute '{0}': expected name:value")]
    Attribute(String),
    #[error("invalid resources JSON: {0}")]
    Json(String),
}

/// `subtract` was asked to take away resources that are not all there.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("resources {wanted} are not contained in {available}")]
pub struct NotContained {
    pub wanted: String,
    pub available: String,
}

// ---------------------------------------------------------------------------------------------
// Scalar

/// A non-integral quantity in thousandths, Mesos's fixed-point precision for scalars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scalar(i64);

impl Scalar {
    pub const ZERO: Scalar = Scalar(0);
    const SCALE: f64 = 1000.0;

    /// Rounds to the nearest thousandth (half away from zero, like Mesos's `llround`).
    pub fn new(value: f64) -> Scalar {
        Scalar((value * Self::SCALE).round() as i64)
    }

    pub const fn from_millis(millis: i64) -> Scalar {
        Scalar(millis)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    pub fn value(self) -> f64 {
        self.0 as f64 / Self::SCALE
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl Add for Scalar {
    type Output = Scalar;
    fn add(self, rhs: Scalar) -> Scalar {
        Scalar(self.0.saturating_add(rhs.0))
    }
}

impl Sub for Scalar {
    type Output = Scalar;
    fn sub(self, rhs: Scalar) -> Scalar {
        Scalar(self.0.saturating_sub(rhs.0))
    }
}

impl AddAssign for Scalar {
    fn add_assign(&mut self, rhs: Scalar) {
        *self = *self + rhs;
    }
}

impl SubAssign for Scalar {
    fn sub_assign(&mut self, rhs: Scalar) {
        *self = *self - rhs;
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (whole, frac) = (abs / 1000, abs % 1000);
        if frac == 0 {
            return write!(f, "{sign}{whole}");
        }
        let digits = format!("{frac:03}");
        write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
    }
}

// ---------------------------------------------------------------------------------------------
// Ranges

/// An inclusive range of non-negative integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Range {
    pub begin: u64,
    pub end: u64,
}

/// A set of integers as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Ranges(Vec<Range>);

impl Ranges {
    /// Builds from `(begin, end)` pairs in any order, overlapping or adjacent; pairs with
    /// `begin > end` are treated as empty.
    pub fn new(pairs: impl IntoIterator<Item = (u64, u64)>) -> Ranges {
        let mut ranges: Vec<Range> = pairs
            .into_iter()
            .filter(|(b, e)| b <= e)
            .map(|(begin, end)| Range { begin, end })
            .collect();
        ranges.sort_unstable();
        let mut out: Vec<Range> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match out.last_mut() {
                Some(last) if r.begin <= last.end.saturating_add(1) => {
                    last.end = last.end.max(r.end);
                }
                _ => out.push(r),
            }
        }
        Ranges(out)
    }

    pub fn ranges(&self) -> &[Range] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many integers the ranges hold (saturating).
    pub fn count(&self) -> u64 {
        self.0.iter().fold(0u64, |n, r| {
            n.saturating_add(r.end - r.begin).saturating_add(1)
        })
    }

    pub fn contains_value(&self, value: u64) -> bool {
        let i = self.0.partition_point(|r| r.end < value);
        self.0.get(i).is_some_and(|r| r.begin <= value)
    }

    /// Whether every integer of `other` is in `self`.
    pub fn contains(&self, other: &Ranges) -> bool {
        // Both lists are sorted and coalesced, so each range of `other` must fit inside a
        // single range of `self`, found by walking forward.
        let mut mine = self.0.iter().peekable();
        'outer: for r in &other.0 {
            while let Some(m) = mine.peek() {
                if m.end < r.begin {
                    mine.next();
                    continue;
                }
                if m.begin <= r.begin && r.end <= m.end {
                    continue 'outer;
                }
                return false;
            }
            return false;
        }
        true
    }

    pub fn add(&mut self, other: &Ranges) {
        // Summing many agents' ports (the state views do, per framework) mostly adds
        // ranges already there: then nothing is allocated.
        if other.is_empty() || self.contains(other) {
            return;
        }
        self.0.extend_from_slice(&other.0);
        self.0.sort_unstable();
        let mut kept = 0;
        for i in 1..self.0.len() {
            let r = self.0[i];
            let last = &mut self.0[kept];
            if r.begin <= last.end.saturating_add(1) {
                last.end = last.end.max(r.end);
            } else {
                kept += 1;
                self.0[kept] = r;
            }
        }
        self.0.truncate(kept + 1);
    }

    /// Removes every integer of `other` (those not present are ignored).
    pub fn subtract(&mut self, other: &Ranges) {
        if other.is_empty() || self.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut cut = other.0.iter().peekable();
        for r in &self.0 {
            let mut begin = r.begin;
            let end = r.end;
            let mut alive = true;
            while let Some(c) = cut.peek() {
                if c.end < begin {
                    cut.next();
                    continue;
                }
                if c.begin > end {
                    break;
                }
                if c.begin > begin {
                    out.push(Range {
                        begin,
                        end: c.begin - 1,
                    });
                }
                if c.end >= end {
                    alive = false;
                    break;
                }
                begin = c.end + 1;
                cut.next();
            }
            if alive {
                out.push(Range { begin, end });
            }
        }
        self.0 = out;
    }
}

impl fmt::Display for Ranges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}-{}", r.begin, r.end)?;
        }
        f.write_str("]")
    }
}

// ---------------------------------------------------------------------------------------------
// Values

/// The three kinds of resource values, named as in Mesos's `Value.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValueKind {
    Scalar,
    Ranges,
    Set,
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueKind::Scalar => "SCALAR",
            ValueKind::Ranges => "RANGES",
            ValueKind::Set => "SET",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Scalar(Scalar),
    Ranges(Ranges),
    Set(BTreeSet<String>),
}

impl Value {
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Scalar(_) => ValueKind::Scalar,
            Value::Ranges(_) => ValueKind::Ranges,
            Value::Set(_) => ValueKind::Set,
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Value::Scalar(s) => !s.is_positive(),
            Value::Ranges(r) => r.is_empty(),
            Value::Set(s) => s.is_empty(),
        }
    }

    /// The amount this value stands for: a scalar's value, the number of integers in ranges,
    /// the number of items in a set. Quotas and minimum offer sizes compare these.
    pub fn quantity(&self) -> Scalar {
        match self {
            Value::Scalar(s) => *s,
            Value::Ranges(r) => Scalar::from_millis(count_millis(r.count())),
            Value::Set(s) => Scalar::from_millis(count_millis(s.len() as u64)),
        }
    }

    /// Whether `other` (of the same kind) is within `self`; values of different kinds never
    /// contain each other.
    fn contains(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Scalar(a), Value::Scalar(b)) => b <= a,
            (Value::Ranges(a), Value::Ranges(b)) => a.contains(b),
            (Value::Set(a), Value::Set(b)) => b.is_subset(a),
            _ => false,
        }
    }

    fn add(&mut self, other: &Value) {
        match (self, other) {
            (Value::Scalar(a), Value::Scalar(b)) => *a += *b,
            (Value::Ranges(a), Value::Ranges(b)) => a.add(b),
            (Value::Set(a), Value::Set(b)) => a.extend(b.iter().cloned()),
            _ => debug_assert!(false, "adding values of different kinds"),
        }
    }

    fn subtract(&mut self, other: &Value) {
        match (self, other) {
            (Value::Scalar(a), Value::Scalar(b)) => *a = (*a - *b).max(Scalar::ZERO),
            (Value::Ranges(a), Value::Ranges(b)) => a.subtract(b),
            (Value::Set(a), Value::Set(b)) => a.retain(|item| !b.contains(item)),
            _ => debug_assert!(false, "subtracting values of different kinds"),
        }
    }
}

fn count_millis(count: u64) -> i64 {
    i64::try_from(count)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000)
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Scalar(s) => s.fmt(f),
            Value::Ranges(r) => r.fmt(f),
            Value::Set(items) => {
                f.write_str("{")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(item)?;
                }
                f.write_str("}")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Resource

/// One named resource, unreserved (`role == "*"`) or reserved to a role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    /// Names and roles are short (`cpus`, `*`): kept inline up to 24 bytes instead of in
    /// an allocation each. The master holds millions of these at 50,000 agents.
    pub name: CompactString,
    pub role: CompactString,
    pub value: Value,
}

impl Resource {
    pub fn new(name: impl Into<CompactString>, value: Value) -> Resource {
        Resource {
            name: name.into(),
            role: CompactString::const_new(DEFAULT_ROLE),
            value,
        }
    }

    pub fn scalar(name: impl Into<CompactString>, value: f64) -> Resource {
        Resource::new(name, Value::Scalar(Scalar::new(value)))
    }

    pub fn ranges(
        name: impl Into<CompactString>,
        pairs: impl IntoIterator<Item = (u64, u64)>,
    ) -> Resource {
        Resource::new(name, Value::Ranges(Ranges::new(pairs)))
    }

    pub fn set<S: Into<String>>(
        name: impl Into<CompactString>,
        items: impl IntoIterator<Item = S>,
    ) -> Resource {
        Resource::new(
            name,
            Value::Set(items.into_iter().map(Into::into).collect()),
        )
    }

    /// The same resource reserved to `role` (`*` makes it unreserved).
    pub fn reserved(mut self, role: impl Into<CompactString>) -> Resource {
        self.role = role.into();
        self
    }

    pub fn is_reserved(&self) -> bool {
        self.role != DEFAULT_ROLE
    }

    /// Whether a framework in `role` may be offered this resource: it is unreserved, or
    /// reserved to `role` or to one of its ancestors (`a` for `a/b`).
    pub fn is_allocatable_to(&self, role: &str) -> bool {
        !self.is_reserved() || self.role == role || is_ancestor_role(&self.role, role)
    }

    fn key(&self) -> (&str, &str, ValueKind) {
        (&self.name, &self.role, self.value.kind())
    }
}

fn is_ancestor_role(ancestor: &str, role: &str) -> bool {
    role.len() > ancestor.len()
        && role.starts_with(ancestor)
        && role.as_bytes()[ancestor.len()] == b'/'
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_reserved() {
            write!(f, "{}({}):{}", self.name, self.role, self.value)
        } else {
            write!(f, "{}:{}", self.name, self.value)
        }
    }
}

/// Checks a role name as Mesos does: `*`, or one or more `/`-separated path components
/// that are not `.` or `..`, do not start with `-`, and hold no whitespace, `*` or
/// control characters.
pub fn validate_role(role: &str) -> Result<(), ParseError> {
    let bad = |reason| {
        Err(ParseError::Role {
            role: role.to_string(),
            reason,
        })
    };
    if role == DEFAULT_ROLE {
        return Ok(());
    }
    if role.is_empty() {
        return bad("a role must not be empty");
    }
    if role.starts_with('/') || role.ends_with('/') {
        return bad("a role must not start or end with '/'");
    }
    for part in role.split('/') {
        if part.is_empty() {
            return bad("a role must not contain '//'");
        }
        if part == "." || part == ".." {
            return bad("'.' and '..' are not valid role components");
        }
        if part.starts_with('-') {
            return bad("a role component must not start with '-'");
        }
        if part
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '*' || c == '\\')
        {
            return bad("a role must not contain whitespace, control characters, '*' or '\\'");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Resources

/// A canonical collection of resources. See the module documentation.
///
/// Cloning is cheap: the entries are shared until one of the copies changes, since the
/// allocator, the master's offers and refusal filters all keep the same resources.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resources(Arc<Vec<Resource>>);

impl Default for Resources {
    /// No resources. Every empty collection shares one allocation: empty values are made
    /// all the time (sums, usage, offers) and an `Arc::new` each would allocate; the first
    /// change to a copy makes it its own.
    fn default() -> Self {
        static EMPTY: LazyLock<Arc<Vec<Resource>>> = LazyLock::new(|| Arc::new(Vec::new()));
        Resources(EMPTY.clone())
    }
}

impl Resources {
    pub fn new() -> Resources {
        Resources::default()
    }

    /// Parses Mesos's text or JSON syntax with unreserved resources in role `*`.
    pub fn parse(text: &str) -> Result<Resources, ParseError> {
        Resources::parse_with_default_role(text, DEFAULT_ROLE)
    }

    /// Parses Mesos's text or JSON syntax; resources without a role go to `default_role`
    /// (the agent's `--default_role`).
    pub fn parse_with_default_role(
        text: &str,
        default_role: &str,
    ) -> Result<Resources, ParseError> {
        validate_role(default_role)?;
        let parsed = if text.trim_start().starts_with('[') {
            parse_json_items(text, default_role)?
        } else {
            parse_text_items(text, default_role)?
        };
        let mut kinds: BTreeMap<&str, ValueKind> = BTreeMap::new();
        for r in &parsed {
            let kind = r.value.kind();
            if let Some(&first) = kinds.get(r.name.as_str()) {
                if first != kind {
                    return Err(ParseError::ConflictingTypes {
                        name: r.name.to_string(),
                        first,
                        second: kind,
                    });
                }
            }
            kinds.insert(&r.name, kind);
        }
        let mut out = Resources::new();
        for r in &parsed {
            out.add_resource(r);
        }
        Ok(out)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Resource> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn find(&self, key: (&str, &str, ValueKind)) -> Result<usize, usize> {
        self.0.binary_search_by(|r| r.key().cmp(&key))
    }

    /// Adds one resource, merging it into an entry with the same name, role and kind.
    pub fn add_resource(&mut self, resource: &Resource) {
        if resource.value.is_empty() {
            return;
        }
        match self.find(resource.key()) {
            Ok(i) => Arc::make_mut(&mut self.0)[i].value.add(&resource.value),
            Err(i) => Arc::make_mut(&mut self.0).insert(i, resource.clone()),
        }
    }

    pub fn add(&mut self, other: &Resources) {
        if self.is_empty() {
            *self = other.clone();
            return;
        }
        for r in other.0.iter() {
            self.add_resource(r);
        }
    }

    /// Whether all of `resource` is here (same name, role and kind).
    pub fn contains_resource(&self, resource: &Resource) -> bool {
        if resource.value.is_empty() {
            return true;
        }
        self.find(resource.key())
            .is_ok_and(|i| self.0[i].value.contains(&resource.value))
    }

    /// Whether `other` is a sub-collection of `self`.
    pub fn contains(&self, other: &Resources) -> bool {
        if Arc::ptr_eq(&self.0, &other.0) {
            return true;
        }
        let mut mine = self.0.iter().peekable();
        'outer: for r in other.0.iter() {
            while let Some(m) = mine.peek() {
                match m.key().cmp(&r.key()) {
                    Ordering::Less => {
                        mine.next();
                    }
                    Ordering::Equal => {
                        if m.value.contains(&r.value) {
                            continue 'outer;
                        }
                        return false;
                    }
                    Ordering::Greater => return false,
                }
            }
            return false;
        }
        true
    }

    /// Takes `other` away; fails, changing nothing, unless all of it is here.
    pub fn subtract(&mut self, other: &Resources) -> Result<(), NotContained> {
        if !self.contains(other) {
            return Err(NotContained {
                wanted: other.to_string(),
                available: self.to_string(),
            });
        }
        self.take_away(other);
        Ok(())
    }

    fn take_away(&mut self, other: &Resources) {
        if Arc::ptr_eq(&self.0, &other.0) {
            *self = Resources::new();
            return;
        }
        for r in other.0.iter() {
            if let Ok(i) = self.find(r.key()) {
                let items = Arc::make_mut(&mut self.0);
                items[i].value.subtract(&r.value);
                if items[i].value.is_empty() {
                    items.remove(i);
                }
            }
        }
    }

    /// `self + other` as a new value.
    pub fn plus(&self, other: &Resources) -> Resources {
        let mut out = self.clone();
        out.add(other);
        out
    }

    /// `self - other` as a new value, taking away only what is there (a scalar stops at
    /// zero). Use [`Resources::subtract`] where missing resources are an error.
    pub fn minus(&self, other: &Resources) -> Resources {
        let mut out = self.clone();
        out.take_away(other);
        out
    }

    /// The resources matching `keep`.
    pub fn filter(&self, mut keep: impl FnMut(&Resource) -> bool) -> Resources {
        Resources(Arc::new(
            self.0.iter().filter(|r| keep(r)).cloned().collect(),
        ))
    }

    pub fn unreserved(&self) -> Resources {
        self.filter(|r| !r.is_reserved())
    }

    pub fn reserved(&self) -> Resources {
        self.filter(Resource::is_reserved)
    }

    /// What a framework in `role` may be offered: unreserved resources plus those reserved
    /// to `role` or an ancestor of it.
    pub fn allocatable_to(&self, role: &str) -> Resources {
        self.filter(|r| r.is_allocatable_to(role))
    }

    /// Whether anything here may be offered to a framework in `role`.
    pub fn has_allocatable_to(&self, role: &str) -> bool {
        self.0.iter().any(|r| r.is_allocatable_to(role))
    }

    /// The same resources with every reservation dropped.
    pub fn flatten(&self) -> Resources {
        let mut out = Resources::new();
        for r in self.0.iter() {
            if r.is_reserved() {
                out.add_resource(&r.clone().reserved(DEFAULT_ROLE));
            } else {
                out.add_resource(r);
            }
        }
        out
    }

    /// The sum of all scalars called `name`, whatever their role.
    pub fn scalar(&self, name: &str) -> Option<f64> {
        let mut found = false;
        let mut sum = Scalar::ZERO;
        for r in self.0.iter().filter(|r| r.name == name) {
            if let Value::Scalar(s) = r.value {
                found = true;
                sum += s;
            }
        }
        found.then(|| sum.value())
    }

    pub fn cpus(&self) -> Option<f64> {
        self.scalar("cpus")
    }

    pub fn mem(&self) -> Option<f64> {
        self.scalar("mem")
    }

    pub fn disk(&self) -> Option<f64> {
        self.scalar("disk")
    }

    pub fn gpus(&self) -> Option<f64> {
        self.scalar("gpus")
    }

    /// The union of all ranges called `ports`, whatever their role.
    pub fn ports(&self) -> Option<Ranges> {
        self.ranges("ports")
    }

    /// The union of all ranges called `name`, whatever their role.
    pub fn ranges(&self, name: &str) -> Option<Ranges> {
        let mut out: Option<Ranges> = None;
        for r in self.0.iter().filter(|r| r.name == name) {
            if let Value::Ranges(ranges) = &r.value {
                out.get_or_insert_with(Ranges::default).add(ranges);
            }
        }
        out
    }

    /// The amount of each resource name, roles merged (see [`Value::quantity`]).
    pub fn quantities(&self) -> ResourceQuantities {
        let mut q = ResourceQuantities::default();
        for r in self.0.iter() {
            q.add(&r.name, r.value.quantity());
        }
        q
    }

    /// Whether, name by name, there is at least the quantity `wanted` asks for.
    pub fn contains_quantities(&self, wanted: &ResourceQuantities) -> bool {
        wanted.iter().all(|(name, amount)| {
            let have = self
                .0
                .iter()
                .filter(|r| r.name == name)
                .fold(Scalar::ZERO, |sum, r| sum + r.value.quantity());
            have >= amount
        })
    }
}

/// A running sum of what many agents give (a framework's offers, or what it holds across
/// the cluster). Scalars are summed exactly. Ranges and sets cannot be: two agents' ports
/// overlap, and taking one agent's back must leave what the others still give. So set
/// items are counted one by one, and ranges as a coverage count kept at their edges
/// (+1 where a range begins, -1 past its end): taking back part of a range (a task's one
/// port out of an offered `[31000-31100]`) lowers the count on that part only.
/// [`ResourceSum::total`] costs as much as the distinct edges and items, not the agents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceSum {
    scalars: Resources,
    /// Per (name, role): coverage changes at range edges; no zero entries.
    ranges: BTreeMap<(CompactString, CompactString), BTreeMap<u64, i64>>,
    /// Per (name, role, item): how many times the item was added and not taken back.
    items: BTreeMap<(CompactString, CompactString, String), u32>,
}

impl ResourceSum {
    pub fn is_empty(&self) -> bool {
        self.scalars.is_empty() && self.ranges.is_empty() && self.items.is_empty()
    }

    pub fn add(&mut self, resources: &Resources) {
        for r in resources {
            if matches!(r.value, Value::Scalar(_)) {
                self.scalars.add_resource(r);
            } else {
                self.count_pieces(r, true);
            }
        }
    }

    /// Takes back what an earlier [`ResourceSum::add`] added, or part of it. Fails,
    /// changing nothing, if the scalars are not all there.
    pub fn remove(&mut self, resources: &Resources) -> Result<(), NotContained> {
        if resources
            .iter()
            .all(|r| matches!(r.value, Value::Scalar(_)))
        {
            return self.scalars.subtract(resources);
        }
        self.scalars
            .subtract(&resources.filter(|r| matches!(r.value, Value::Scalar(_))))?;
        for r in resources {
            self.count_pieces(r, false);
        }
        Ok(())
    }

    /// Counts each range or set item of `r` once more (`up`) or once less; scalars have
    /// no pieces.
    fn count_pieces(&mut self, r: &Resource, up: bool) {
        let key = (r.name.clone(), r.role.clone());
        match &r.value {
            Value::Scalar(_) => {}
            Value::Ranges(ranges) => {
                let step = if up { 1 } else { -1 };
                let edges = self.ranges.entry(key.clone()).or_default();
                for range in ranges.ranges() {
                    shift(edges, range.begin, step);
                    // A range that reaches u64::MAX runs to the end: no edge past it.
                    if let Some(past) = range.end.checked_add(1) {
                        shift(edges, past, -step);
                    }
                }
                if edges.is_empty() {
                    self.ranges.remove(&key);
                }
            }
            Value::Set(items) => {
                for item in items {
                    let key = (r.name.clone(), r.role.clone(), item.clone());
                    if up {
                        *self.items.entry(key).or_default() += 1;
                    } else if let std::collections::btree_map::Entry::Occupied(mut n) =
                        self.items.entry(key)
                    {
                        *n.get_mut() -= 1;
                        if *n.get() == 0 {
                            n.remove();
                        }
                    }
                }
            }
        }
    }

    /// Everything summed: scalars added up, ranges and sets as their union.
    pub fn total(&self) -> Resources {
        let mut total = self.scalars.clone();
        for ((name, role), edges) in &self.ranges {
            let mut covered = Vec::new();
            let mut count = 0i64;
            let mut start = 0u64;
            for (&at, &delta) in edges {
                let before = count;
                count += delta;
                if before <= 0 && count > 0 {
                    start = at;
                } else if before > 0 && count <= 0 {
                    covered.push((start, at - 1));
                }
            }
            if count > 0 {
                covered.push((start, u64::MAX));
            }
            if covered.is_empty() {
                continue;
            }
            total.add_resource(&Resource {
                name: name.clone(),
                role: role.clone(),
                value: Value::Ranges(Ranges::new(covered)),
            });
        }
        for (name, role, item) in self.items.keys() {
            total.add_resource(&Resource {
                name: name.clone(),
                role: role.clone(),
                value: Value::Set(BTreeSet::from([item.clone()])),
            });
        }
        total
    }
}

/// Adds `delta` to the coverage change at `at`, dropping it when it comes to zero.
fn shift(edges: &mut BTreeMap<u64, i64>, at: u64, delta: i64) {
    let entry = edges.entry(at).or_default();
    *entry += delta;
    if *entry == 0 {
        edges.remove(&at);
    }
}

impl<'a> IntoIterator for &'a Resources {
    type Item = &'a Resource;
    type IntoIter = std::slice::Iter<'a, Resource>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<Resource> for Resources {
    fn from_iter<I: IntoIterator<Item = Resource>>(iter: I) -> Resources {
        let mut out = Resources::new();
        for r in iter {
            out.add_resource(&r);
        }
        out
    }
}

impl AddAssign<&Resources> for Resources {
    fn add_assign(&mut self, rhs: &Resources) {
        self.add(rhs);
    }
}

impl FromStr for Resources {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Resources, ParseError> {
        Resources::parse(s)
    }
}

/// Mesos's text syntax, `cpus:4;mem:2048;ports:[31000-32000];cpus(web):2`, which
/// [`Resources::parse`] reads back.
impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            r.fmt(f)?;
        }
        Ok(())
    }
}

fn parse_text_items(text: &str, default_role: &str) -> Result<Vec<Resource>, ParseError> {
    let mut out = Vec::new();
    for token in text.split(';').filter(|t| !t.trim().is_empty()) {
        let Some((key, value)) = token.split_once(':') else {
            return Err(ParseError::Colon(token.to_string()));
        };
        if value.contains(':') || value.trim().is_empty() {
            return Err(ParseError::Colon(token.to_string()));
        }
        let (name, role) = match key.find('(') {
            None => {
                if key.contains(')') {
                    return Err(ParseError::Parentheses(token.to_string()));
                }
                (key.trim(), default_role)
            }
            Some(open) => {
                let rest = key[open + 1..].trim_end();
                let Some(role) = rest.strip_suffix(')') else {
                    return Err(ParseError::Parentheses(token.to_string()));
                };
                if role.contains(['(', ')']) {
                    return Err(ParseError::Parentheses(token.to_string()));
                }
                (key[..open].trim(), role.trim())
            }
        };
        if name.is_empty() {
            return Err(ParseError::EmptyName(token.to_string()));
        }
        validate_role(role)?;
        let bad = |reason: String| ParseError::Value {
            name: name.to_string(),
            value: value.trim().to_string(),
            reason,
        };
        let value = match parse_value(value).map_err(bad)? {
            TextValue::Scalar(v) if v < 0.0 => {
                return Err(bad("scalar resources must not be negative".into()))
            }
            TextValue::Scalar(v) => Value::Scalar(Scalar::new(v)),
            TextValue::Ranges(r) => Value::Ranges(r),
            TextValue::Set(s) => Value::Set(s),
            TextValue::Text(_) => {
                return Err(bad("expected a number, [ranges] or {set}".into()));
            }
        };
        out.push(Resource {
            name: name.into(),
            role: role.into(),
            value,
        });
    }
    Ok(out)
}

/// A value in Mesos's text syntax before it is known what it is for.
enum TextValue {
    Scalar(f64),
    Ranges(Ranges),
    Set(BTreeSet<String>),
    Text(String),
}

fn parse_value(text: &str) -> Result<TextValue, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err("expected a non-empty value".into());
    }
    for (open, close) in [('[', ']'), ('{', '}'), ('(', ')')] {
        if !brackets_match(&compact, open, close) {
            return Err("mismatched brackets".into());
        }
    }
    if let Some(body) = compact.strip_prefix('[') {
        let Some(body) = body.strip_suffix(']') else {
            return Err("text after ']'".into());
        };
        let mut pairs = Vec::new();
        for part in body.split(',').filter(|p| !p.is_empty()) {
            let Some((b, e)) = part.split_once('-') else {
                return Err(format!("expected begin-end in '{part}'"));
            };
            let number = |s: &str| {
                s.parse::<u64>()
                    .map_err(|_| format!("expected non-negative integers in '{part}'"))
            };
            let (b, e) = (number(b)?, number(e)?);
            if b > e {
                return Err(format!("range '{part}' ends before it begins"));
            }
            pairs.push((b, e));
        }
        return Ok(TextValue::Ranges(Ranges::new(pairs)));
    }
    if let Some(body) = compact.strip_prefix('{') {
        let Some(body) = body.strip_suffix('}') else {
            return Err("text after '}'".into());
        };
        if body.contains(['{', '}', '[', ']']) {
            return Err("nested brackets in a set".into());
        }
        let items = body.split(',').filter(|i| !i.is_empty()).map(String::from);
        return Ok(TextValue::Set(items.collect()));
    }
    if compact.contains(['[', ']', '{', '}']) {
        return Err("not a valid value".into());
    }
    match compact.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(TextValue::Scalar(v)),
        Ok(_) => Err("scalars must be finite".into()),
        Err(_) => Ok(TextValue::Text(compact)),
    }
}

fn brackets_match(text: &str, open: char, close: char) -> bool {
    let mut depth = 0i32;
    for c in text.chars() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth < 0 {
                return false;
            }
        }
    }
    depth == 0
}

// ---------------------------------------------------------------------------------------------
// JSON: Mesos's `Resource` message as JSON, an array of these.

#[derive(Serialize, Deserialize)]
struct JsonResource {
    name: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scalar: Option<JsonScalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ranges: Option<JsonRanges>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    set: Option<JsonSet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    reservations: Vec<JsonReservation>,
}

#[derive(Serialize, Deserialize)]
struct JsonScalar {
    value: f64,
}

#[derive(Serialize, Deserialize, Default)]
struct JsonRanges {
    #[serde(default)]
    range: Vec<JsonRange>,
}

#[derive(Serialize, Deserialize)]
struct JsonRange {
    begin: u64,
    end: u64,
}

#[derive(Serialize, Deserialize, Default)]
struct JsonSet {
    #[serde(default)]
    item: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct JsonReservation {
    #[serde(default)]
    role: Option<String>,
}

impl JsonResource {
    fn into_resource(self, default_role: &str) -> Result<Resource, ParseError> {
        let bad = |reason: &str| ParseError::Json(format!("resource '{}': {reason}", self.name));
        if self.name.is_empty() {
            return Err(ParseError::Json("a resource without a name".into()));
        }
        // Refined reservations stack; the last one is the role that may use the resource.
        let role = match (self.reservations.last(), &self.role) {
            (Some(JsonReservation { role: Some(role) }), _) => role.clone(),
            (Some(_), _) => return Err(bad("a reservation without a role")),
            (None, Some(role)) => role.clone(),
            (None, None) => default_role.to_string(),
        };
        validate_role(&role)?;
        let kind = match self.kind.as_deref() {
            Some("SCALAR") => ValueKind::Scalar,
            Some("RANGES") => ValueKind::Ranges,
            Some("SET") => ValueKind::Set,
            Some(other) => return Err(bad(&format!("unknown type '{other}'"))),
            None if self.scalar.is_some() => ValueKind::Scalar,
            None if self.ranges.is_some() => ValueKind::Ranges,
            None if self.set.is_some() => ValueKind::Set,
            None => return Err(bad("no type and no value")),
        };
        let value = match kind {
            ValueKind::Scalar => {
                let v = self
                    .scalar
                    .as_ref()
                    .ok_or_else(|| bad("type SCALAR without 'scalar'"))?
                    .value;
                if !v.is_finite() || v < 0.0 {
                    return Err(bad("scalars must be finite and not negative"));
                }
                Value::Scalar(Scalar::new(v))
            }
            ValueKind::Ranges => {
                let ranges = self
                    .ranges
                    .as_ref()
                    .ok_or_else(|| bad("type RANGES without 'ranges'"))?;
                if ranges.range.iter().any(|r| r.begin > r.end) {
                    return Err(bad("a range ends before it begins"));
                }
                Value::Ranges(Ranges::new(ranges.range.iter().map(|r| (r.begin, r.end))))
            }
            ValueKind::Set => {
                let set = self
                    .set
                    .as_ref()
                    .ok_or_else(|| bad("type SET without 'set'"))?;
                Value::Set(set.item.iter().cloned().collect())
            }
        };
        Ok(Resource {
            name: self.name.into(),
            role: role.into(),
            value,
        })
    }

    fn from_resource(r: &Resource) -> JsonResource {
        let mut json = JsonResource {
            name: r.name.to_string(),
            kind: Some(r.value.kind().to_string()),
            scalar: None,
            ranges: None,
            set: None,
            role: r.is_reserved().then(|| r.role.to_string()),
            reservations: Vec::new(),
        };
        match &r.value {
            Value::Scalar(s) => json.scalar = Some(JsonScalar { value: s.value() }),
            Value::Ranges(ranges) => {
                json.ranges = Some(JsonRanges {
                    range: ranges
                        .ranges()
                        .iter()
                        .map(|r| JsonRange {
                            begin: r.begin,
                            end: r.end,
                        })
                        .collect(),
                })
            }
            Value::Set(items) => {
                json.set = Some(JsonSet {
                    item: items.iter().cloned().collect(),
                })
            }
        }
        json
    }
}

fn parse_json_items(text: &str, default_role: &str) -> Result<Vec<Resource>, ParseError> {
    let items: Vec<JsonResource> =
        serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))?;
    items
        .into_iter()
        .map(|item| item.into_resource(default_role))
        .collect()
}

/// As Mesos's JSON array of `Resource` messages (`role` only on reserved resources).
impl Serialize for Resources {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(JsonResource::from_resource))
    }
}

impl<'de> Deserialize<'de> for Resources {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Vec::<JsonResource>::deserialize(deserializer)?;
        items
            .into_iter()
            .map(|item| item.into_resource(DEFAULT_ROLE))
            .collect::<Result<Resources, _>>()
            .map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Quantities

/// Amounts by resource name with roles and identities dropped, as quota limits and
/// `--min_allocatable_resources` express them. Zero amounts are not stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ResourceQuantities(BTreeMap<String, Scalar>);

impl ResourceQuantities {
    pub fn new() -> ResourceQuantities {
        ResourceQuantities::default()
    }

    /// Parses `cpus:1;mem:32`: non-negative scalars only, as Mesos's `ResourceQuantities`.
    pub fn parse(text: &str) -> Result<ResourceQuantities, ParseError> {
        let mut out = ResourceQuantities::new();
        for token in text.split(';').filter(|t| !t.trim().is_empty()) {
            let Some((name, value)) = token.split_once(':') else {
                return Err(ParseError::Colon(token.to_string()));
            };
            if value.contains(':') {
                return Err(ParseError::Colon(token.to_string()));
            }
            let name = name.trim();
            if name.is_empty() {
                return Err(ParseError::EmptyName(token.to_string()));
            }
            let bad = |reason: &str| ParseError::Value {
                name: name.to_string(),
                value: value.trim().to_string(),
                reason: reason.to_string(),
            };
            match parse_value(value).map_err(|reason| bad(&reason))? {
                TextValue::Scalar(v) if v < 0.0 => {
                    return Err(bad("quantities must not be negative"))
                }
                TextValue::Scalar(v) => out.add(name, Scalar::new(v)),
                _ => return Err(bad("only scalar quantities are allowed")),
            }
        }
        Ok(out)
    }

    pub fn get(&self, name: &str) -> Scalar {
        self.0.get(name).copied().unwrap_or_default()
    }

    pub fn add(&mut self, name: &str, amount: Scalar) {
        if !amount.is_positive() {
            return;
        }
        match self.0.get_mut(name) {
            Some(have) => *have += amount,
            None => {
                self.0.insert(name.to_string(), amount);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Scalar)> {
        self.0.iter().map(|(name, amount)| (name.as_str(), *amount))
    }
}

impl FromStr for ResourceQuantities {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<ResourceQuantities, ParseError> {
        ResourceQuantities::parse(s)
    }
}

impl fmt::Display for ResourceQuantities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, amount)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{name}:{amount}")?;
        }
        Ok(())
    }
}

/// Parses `--min_allocatable_resources`: alternatives separated by `|`, each a set of
/// quantities (`cpus:0.01|mem:32`). An offer is big enough when it holds every quantity of
/// at least one alternative. An empty flag means no minimum.
pub fn parse_min_allocatable(text: &str) -> Result<Vec<ResourceQuantities>, ParseError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split('|').map(ResourceQuantities::parse).collect()
}

// ---------------------------------------------------------------------------------------------
// Attributes

/// An agent attribute's value: Mesos allows text, scalars and ranges (no sets).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttributeValue {
    Text(String),
    Scalar(Scalar),
    Ranges(Ranges),
}

impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeValue::Text(t) => f.write_str(t),
            AttributeValue::Scalar(s) => s.fmt(f),
            AttributeValue::Ranges(r) => r.fmt(f),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute {
    pub name: String,
    pub value: AttributeValue,
}

/// Agent attributes in the order they were given (`rack:r1;zone:a;level:3`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Attributes(Vec<Attribute>);

impl Attributes {
    pub fn parse(text: &str) -> Result<Attributes, ParseError> {
        let mut out = Vec::new();
        for token in text.split([';', '\n']).filter(|t| !t.trim().is_empty()) {
            let Some((name, value)) = token.split_once(':') else {
                return Err(ParseError::Attribute(token.to_string()));
            };
            let name = name.trim();
            if name.is_empty() || value.trim().is_empty() {
                return Err(ParseError::Attribute(token.to_string()));
            }
            let bad = |reason: String| ParseError::Value {
                name: name.to_string(),
                value: value.trim().to_string(),
                reason,
            };
            let value = match parse_value(value).map_err(bad)? {
                TextValue::Scalar(v) => AttributeValue::Scalar(Scalar::new(v)),
                TextValue::Ranges(r) => AttributeValue::Ranges(r),
                TextValue::Text(t) => AttributeValue::Text(t),
                TextValue::Set(_) => return Err(bad("attributes cannot be sets".into())),
            };
            out.push(Attribute {
                name: name.to_string(),
                value,
            });
        }
        Ok(Attributes(out))
    }

    /// The first attribute called `name`.
    pub fn get(&self, name: &str) -> Option<&AttributeValue> {
        self.0.iter().find(|a| a.name == name).map(|a| &a.value)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Attribute> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for Attributes {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Attributes, ParseError> {
        Attributes::parse(s)
    }
}

impl fmt::Display for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{}:{}", a.name, a.value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn res(text: &str) -> Resources {
        Resources::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_and_prints_text() {
        let cases = [
            ("cpus:4;mem:2048", "cpus:4;mem:2048"),
            (" mem : 2048 ; cpus:4 ;", "cpus:4;mem:2048"),
            ("cpus:0.5;cpus:0.25", "cpus:0.75"),
            ("cpus:0.0001", ""),
            ("gpus:0;cpus:1", "cpus:1"),
            ("ports:[31000-32000,33000-33001]", "ports:[31000-32000, 33000-33001]"),
            ("ports:[3-4, 1-2,10-10]", "ports:[1-4, 10-10]"),
            ("ports:[]", ""),
            ("foo:{b,a,b}", "foo:{a, b}"),
            ("cpus(web):2;cpus:1", "cpus:1;cpus(web):2"),
            ("cpus( web ):2", "cpus(web):2"),
            ("cpus(*):2", "cpus:2"),
            ("disk:1e3", "disk:1000"),
            (
                "cpus:4;mem:2048;disk:1000;ports:[31000-32000,33000-33001];cpus(web):2;gpus:0;foo:{a,b}",
                "cpus:4;cpus(web):2;disk:1000;foo:{a, b};mem:2048;ports:[31000-32000, 33000-33001]",
            ),
        ];
        for (text, want) in cases {
            let parsed = res(text);
            assert_eq!(parsed.to_string(), want, "{text}");
            assert_eq!(res(&parsed.to_string()), parsed, "round trip of {text}");
        }
    }

    #[test]
    fn rejects_bad_text_naming_the_part() {
        let cases = [
            ("cpus", "'cpus'"),
            ("cpus:1:2", "'cpus:1:2'"),
            ("cpus:", "'cpus:'"),
            (":4", "empty name"),
            ("cpus(web:2", "parentheses"),
            ("cpus(web)x:2", "parentheses"),
            ("cpus:-1", "'-1' for 'cpus'"),
            ("cpus:abc", "'abc' for 'cpus'"),
            ("cpus:inf", "finite"),
            ("ports:[1-2", "mismatched"),
            ("ports:[5-1]", "ends before"),
            ("ports:[1,2]", "begin-end"),
            ("ports:[a-b]", "non-negative"),
            ("cpus(.):1", "invalid role '.'"),
            ("cpus(a b):1", "invalid role"),
            ("cpus(/a):1", "invalid role"),
            ("foo:1;foo:[1-2]", "both as SCALAR and as RANGES"),
        ];
        for (text, want) in cases {
            let err = Resources::parse(text).expect_err(text).to_string();
            assert!(err.contains(want), "{text}: '{err}' should mention {want}");
        }
    }

    #[test]
    fn parses_json() {
        let json = r#"[
            {"name":"cpus","type":"SCALAR","scalar":{"value":4}},
            {"name":"mem","type":"SCALAR","scalar":{"value":2048},"role":"*"},
            {"name":"cpus","type":"SCALAR","scalar":{"value":2},"role":"web"},
            {"name":"disk","type":"SCALAR","scalar":{"value":10},
             "reservations":[{"type":"STATIC","role":"a"},{"type":"STATIC","role":"a/b"}]},
            {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]}},
            {"name":"foo","type":"SET","set":{"item":["a","b"]}}
        ]"#;
        let parsed = res(json);
        assert_eq!(
            parsed.to_string(),
            "cpus:4;cpus(web):2;disk(a/b):10;foo:{a, b};mem:2048;ports:[31000-32000]"
        );
        let back = serde_json::to_string(&parsed).unwrap();
        assert_eq!(serde_json::from_str::<Resources>(&back).unwrap(), parsed);
        assert!(back.contains(r#"{"name":"cpus","type":"SCALAR","scalar":{"value":4.0}}"#));

        for bad in [
            r#"[{"name":"cpus","type":"SCALAR"}]"#,
            r#"[{"name":"cpus","type":"TEXT","text":{"value":"x"}}]"#,
            r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]"#,
            r#"[{"name":"cpus""#,
        ] {
            assert!(
                matches!(Resources::parse(bad), Err(ParseError::Json(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn default_role_applies_to_unreserved_resources() {
        let r = Resources::parse_with_default_role("cpus:1;mem(x):2", "web").unwrap();
        assert_eq!(r.to_string(), "cpus(web):1;mem(x):2");
    }

    #[test]
    fn arithmetic() {
        let mut a = res("cpus:4;mem:2048;ports:[31000-32000];foo:{a,b}");
        let b = res("cpus:1.5;mem:48;ports:[31000-31009,31500-31500];foo:{a}");
        assert!(a.contains(&b));
        assert!(!b.contains(&a));
        a.subtract(&b).unwrap();
        assert_eq!(
            a.to_string(),
            "cpus:2.5;foo:{b};mem:2000;ports:[31010-31499, 31501-32000]"
        );
        let before = a.clone();
        let err = a.subtract(&res("cpus:3")).unwrap_err();
        assert!(err.to_string().contains("cpus:3"));
        assert_eq!(a, before, "a failed subtract changes nothing");
        assert!(!a.contains(&res("cpus(web):1")), "roles must match");
        assert!(a.contains(&Resources::new()));
        a.subtract(&a.clone()).unwrap();
        assert!(a.is_empty());
    }

    #[test]
    fn scalars_do_not_drift() {
        let mut total = Resources::new();
        let tenth = res("cpus:0.1");
        for _ in 0..1000 {
            total += &tenth;
        }
        assert_eq!(total.cpus(), Some(100.0));
        for _ in 0..1000 {
            total.subtract(&tenth).unwrap();
        }
        assert!(total.is_empty());
        assert_eq!(Scalar::new(0.0015).to_string(), "0.002");
        assert_eq!(Scalar::new(-1.25).to_string(), "-1.25");
    }

    #[test]
    fn getters_and_roles() {
        let r = res("cpus:4;cpus(web):2;cpus(web/api):1;mem:2048;ports:[1-2];ports(web):[5-6]");
        assert_eq!(r.cpus(), Some(7.0));
        assert_eq!(r.mem(), Some(2048.0));
        assert_eq!(r.disk(), None);
        assert_eq!(r.ports(), Some(Ranges::new([(1, 2), (5, 6)])));
        assert_eq!(
            r.allocatable_to("web").to_string(),
            "cpus:4;cpus(web):2;mem:2048;ports:[1-2];ports(web):[5-6]"
        );
        assert_eq!(r.allocatable_to("web/api").cpus(), Some(7.0));
        assert_eq!(r.allocatable_to("webx").cpus(), Some(4.0));
        assert_eq!(
            r.allocatable_to("*").to_string(),
            r.unreserved().to_string()
        );
        assert!(r.has_allocatable_to("other"));
        assert!(!res("cpus(web):1").has_allocatable_to("other"));
        assert_eq!(r.flatten().to_string(), "cpus:7;mem:2048;ports:[1-2, 5-6]");
        assert_eq!(
            r.reserved().to_string(),
            "cpus(web):2;cpus(web/api):1;ports(web):[5-6]"
        );
        let q = r.quantities();
        assert_eq!(q.get("cpus"), Scalar::new(7.0));
        assert_eq!(q.get("ports"), Scalar::new(4.0));
    }

    #[test]
    fn quantities_and_min_allocatable() {
        let alts = parse_min_allocatable("cpus:0.01|mem:32").unwrap();
        assert_eq!(alts.len(), 2);
        assert_eq!(alts[0].to_string(), "cpus:0.01");
        assert_eq!(
            parse_min_allocatable("cpus:1;mem:32|disk:0").unwrap()[1],
            ResourceQuantities::new()
        );
        assert!(parse_min_allocatable("").unwrap().is_empty());
        for (bad, want) in [
            ("cpus:-1", "negative"),
            ("ports:[1-2]", "only scalar"),
            ("cpus", "'cpus'"),
            ("cpus:1|mem", "'mem'"),
            ("cpus:x", "'x' for 'cpus'"),
        ] {
            let err = parse_min_allocatable(bad).expect_err(bad).to_string();
            assert!(err.contains(want), "{bad}: {err}");
        }
        let offer = res("cpus(web):0.5;mem:16;ports:[1-10]");
        assert!(offer.contains_quantities(&"cpus:0.01".parse().unwrap()));
        assert!(!offer.contains_quantities(&"mem:32".parse().unwrap()));
        assert!(offer.contains_quantities(&"ports:10;mem:16".parse().unwrap()));
        assert!(offer.contains_quantities(&ResourceQuantities::new()));
    }

    #[test]
    fn attributes() {
        let a =
            Attributes::parse("rack:r1;zone:a;level:3;ids:[1-3,5-9];host:a.b:c\nos:linux").unwrap();
        assert_eq!(a.get("rack"), Some(&AttributeValue::Text("r1".into())));
        assert_eq!(
            a.get("level"),
            Some(&AttributeValue::Scalar(Scalar::new(3.0)))
        );
        assert_eq!(
            a.get("ids"),
            Some(&AttributeValue::Ranges(Ranges::new([(1, 3), (5, 9)])))
        );
        assert_eq!(a.get("host"), Some(&AttributeValue::Text("a.b:c".into())));
        assert_eq!(a.get("os"), Some(&AttributeValue::Text("linux".into())));
        assert_eq!(
            a.to_string(),
            "rack:r1;zone:a;level:3;ids:[1-3, 5-9];host:a.b:c;os:linux"
        );
        assert_eq!(Attributes::parse(&a.to_string()).unwrap(), a);
        assert!(Attributes::parse("").unwrap().is_empty());
        for (bad, want) in [
            ("rack", "'rack'"),
            (":x", "':x'"),
            ("s:{a,b}", "sets"),
            ("r:[1-", "mismatched"),
        ] {
            let err = Attributes::parse(bad).expect_err(bad).to_string();
            assert!(err.contains(want), "{bad}: {err}");
        }
    }

    #[test]
    fn roles() {
        for ok in ["*", "web", "a/b", "a.b", "a-b", "a/b/c"] {
            assert!(validate_role(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", ".", "..", "-a", "a//b", "/a", "a/", "a b", "a/*", "a/./b", "a\tb",
        ] {
            assert!(validate_role(bad).is_err(), "{bad:?}");
        }
    }

    fn arb_resources() -> impl Strategy<Value = Resources> {
        let name = prop::sample::select(vec!["cpus", "mem", "ports", "tags"]);
        let role = prop::sample::select(vec!["*", "web", "web/api"]);
        let item = (
            name,
            role,
            0u32..5000,
            prop::collection::vec((0u64..200, 0u64..20), 0..4),
        );
        prop::collection::vec(item, 0..6).prop_map(|items| {
            items
                .into_iter()
                .map(|(name, role, amount, spans)| {
                    let value = match name {
                        "ports" => {
                            Value::Ranges(Ranges::new(spans.iter().map(|&(b, l)| (b, b + l))))
                        }
                        "tags" => {
                            Value::Set(spans.iter().map(|(b, _)| format!("t{}", b % 7)).collect())
                        }
                        _ => Value::Scalar(Scalar::from_millis(i64::from(amount))),
                    };
                    Resource::new(name, value).reserved(role)
                })
                .collect()
        })
    }

    fn naive(ranges: &[(u64, u64)]) -> BTreeSet<u64> {
        ranges.iter().flat_map(|&(b, e)| b..=e).collect()
    }

    #[test]
    fn a_resource_sum_gives_back_part_of_a_range() {
        // A framework held ports [31000-31100] (offered) and kept only 31000 for its task.
        let r = |text: &str| Resources::parse(text).unwrap();
        let mut sum = ResourceSum::default();
        sum.add(&r("cpus:1;ports:[31000-31100]"));
        sum.remove(&r("cpus:0.5;ports:[31001-31100]")).unwrap();
        assert_eq!(sum.total(), r("cpus:0.5;ports:[31000-31000]"));

        // Another agent's overlapping ports stay when the first agent's go.
        sum.add(&r("ports:[31000-31010, 32000-32000]"));
        sum.remove(&r("ports:[31000-31000]")).unwrap();
        assert_eq!(sum.total(), r("cpus:0.5;ports:[31000-31010, 32000-32000]"));
        sum.remove(&r("cpus:0.5;ports:[31000-31010, 32000-32000]"))
            .unwrap();
        assert!(sum.is_empty(), "{sum:?}");
        assert_eq!(sum.total(), Resources::default());
    }

    proptest! {
        #[test]
        fn add_then_subtract_is_identity(a in arb_resources(), b in arb_resources()) {
            let mut sum = a.plus(&b);
            prop_assert!(sum.contains(&a));
            prop_assert!(sum.contains(&b));
            sum.subtract(&b).unwrap();
            // Sets and ranges are unions: b's items already in a are taken away too, so
            // only scalars come back exactly; the rest is contained in a.
            prop_assert!(a.contains(&sum));
            prop_assert_eq!(sum.filter(|r| r.value.kind() == ValueKind::Scalar),
                            a.filter(|r| r.value.kind() == ValueKind::Scalar));
        }

        #[test]
        fn disjoint_add_then_subtract_is_identity(a in arb_resources(), b in arb_resources()) {
            let b = b.filter(|r| r.value.kind() == ValueKind::Scalar);
            let mut sum = a.plus(&b);
            sum.subtract(&b).unwrap();
            prop_assert_eq!(sum, a);
        }

        #[test]
        fn text_round_trips(a in arb_resources()) {
            prop_assert_eq!(Resources::parse(&a.to_string()).unwrap(), a.clone());
            let json = serde_json::to_string(&a).unwrap();
            prop_assert_eq!(Resources::parse(&json).unwrap(), a);
        }

        #[test]
        fn ranges_are_coalesced(pairs in prop::collection::vec((0u64..300, 0u64..30), 0..12)) {
            let pairs: Vec<(u64, u64)> = pairs.into_iter().map(|(b, l)| (b, b + l)).collect();
            let r = Ranges::new(pairs.clone());
            for w in r.ranges().windows(2) {
                prop_assert!(w[0].end + 1 < w[1].begin, "{} not coalesced", r);
            }
            let want = naive(&pairs);
            let got: BTreeSet<u64> = r.ranges().iter().flat_map(|x| x.begin..=x.end).collect();
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(r.count(), want.len() as u64);
            for v in 0..340 {
                prop_assert_eq!(r.contains_value(v), want.contains(&v));
            }
        }

        #[test]
        fn ranges_subtract_and_contain(a in prop::collection::vec((0u64..300, 0u64..30), 0..8),
                                       b in prop::collection::vec((0u64..300, 0u64..30), 0..8)) {
            let a: Vec<(u64, u64)> = a.into_iter().map(|(x, l)| (x, x + l)).collect();
            let b: Vec<(u64, u64)> = b.into_iter().map(|(x, l)| (x, x + l)).collect();
            let (ra, rb) = (Ranges::new(a.clone()), Ranges::new(b.clone()));
            let (na, nb) = (naive(&a), naive(&b));
            prop_assert_eq!(ra.contains(&rb), nb.is_subset(&na));
            let mut diff = ra.clone();
            diff.subtract(&rb);
            let got: BTreeSet<u64> = diff.ranges().iter().flat_map(|x| x.begin..=x.end).collect();
            prop_assert_eq!(got, na.difference(&nb).copied().collect::<BTreeSet<_>>());
            prop_assert_eq!(&diff, &Ranges::new(diff.ranges().iter().map(|x| (x.begin, x.end))));
            let mut sum = ra.clone();
            sum.add(&rb);
            prop_assert_eq!(sum, Ranges::new(a.iter().chain(&b).copied()));
        }

        #[test]
        fn a_resource_sum_takes_back_parts_of_what_was_added(
            parts in prop::collection::vec((arb_resources(), arb_resources()), 0..6)
        ) {
            // Each part (an agent's offer) gives back what it shares with another set (the
            // rest of a launch); the sum then holds exactly what each part kept.
            let mut sum = ResourceSum::default();
            for (part, _) in &parts {
                sum.add(part);
            }
            let mut want = Resources::default();
            for (part, other) in &parts {
                let given_back = part.minus(&part.minus(other));
                sum.remove(&given_back).unwrap();
                want.add(&part.minus(&given_back));
            }
            prop_assert_eq!(sum.total(), want);
        }

        #[test]
        fn a_resource_sum_is_the_sum_of_what_is_in_it(parts in prop::collection::vec(arb_resources(), 0..6),
                                                       drop in prop::collection::vec(any::<bool>(), 6)) {
            let mut sum = ResourceSum::default();
            for p in &parts {
                sum.add(p);
            }
            let mut kept = Vec::new();
            for (p, gone) in parts.iter().zip(&drop) {
                if *gone {
                    sum.remove(p).unwrap();
                } else {
                    kept.push(p.clone());
                }
            }
            let mut want = Resources::default();
            for p in &kept {
                want.add(p);
            }
            prop_assert_eq!(sum.total(), want);
            prop_assert_eq!(sum.is_empty(), kept.iter().all(Resources::is_empty));
        }
    }
}
