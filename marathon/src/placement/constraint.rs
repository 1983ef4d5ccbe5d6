//! Marathon's placement constraints: `["field", "OPERATOR"]` or
//! `["field", "OPERATOR", "value"]`.
//!
//! A constraint reads one field of an agent — `hostname`/`@hostname`, `@region`, `@zone`, or
//! an attribute — as text, and compares it with the constraint's value or with the same field
//! of the agents the run spec's instances already run on. An agent without the field satisfies
//! only UNLIKE.
//!
//! | operator | the offer's agent passes when |
//! |---|---|
//! | UNIQUE | no instance runs on an agent with the same value |
//! | CLUSTER v | its value is `v` |
//! | CLUSTER | every instance runs on an agent with its value (the first placed one picks it) |
//! | GROUP_BY [n] | its value is unused, or least used once at least `n` values are in use |
//! | LIKE re / UNLIKE re | its value does / does not fully match `re` |
//! | MAX_PER n | fewer than `n` instances run on agents with its value |
//! | IS v | its value is `v` (a number compared in Marathon's number format) |

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use mesos_common::resources::Scalar;
use regex::Regex;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::offer::Agent;

/// Why a constraint is not valid. The messages are Marathon's validation messages.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConstraintError {
    #[error("Each constraint must have either 2 or 3 fields")]
    Arity,
    #[error("missing field for constraint declaration")]
    MissingField,
    #[error(
        "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS"
    )]
    UnknownOperator(String),
    #[error("UNIQUE does not accept a value")]
    UniqueWithValue,
    #[error("GROUP BY must define an integer value or else no value at all")]
    GroupByNotInteger,
    #[error("MAX_PER requires an integer value")]
    MaxPerNotInteger,
    #[error("LIKE and UNLIKE require a non-empty, regular expression value")]
    MissingRegex,
    #[error("'{0}' is not a valid regular expression")]
    BadRegex(String),
    #[error(
        "IS only supports Mesos text and float values (see http://mesos.apache.org/documentation/latest/attributes-resources/)"
    )]
    IsNotText,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Unique,
    Cluster,
    GroupBy,
    Like,
    Unlike,
    MaxPer,
    Is,
}

impl Operator {
    pub fn name(self) -> &'static str {
        match self {
            Operator::Unique => "UNIQUE",
            Operator::Cluster => "CLUSTER",
            Operator::GroupBy => "GROUP_BY",
            Operator::Like => "LIKE",
            Operator::Unlike => "UNLIKE",
            Operator::MaxPer => "MAX_PER",
            Operator::Is => "IS",
        }
    }

    /// Marathon upper-cases the operator before looking it up, so `unique` is accepted.
    fn parse(text: &str) -> Option<Operator> {
        let upper = text.to_ascii_uppercase();
        [
            Operator::Unique,
            Operator::Cluster,
            Operator::GroupBy,
            Operator::Like,
            Operator::Unlike,
            Operator::MaxPer,
            Operator::Is,
        ]
        .into_iter()
        .find(|op| op.name() == upper)
    }
}

/// Which part of an agent a constraint reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Hostname,
    Region,
    Zone,
    Attribute(String),
}

impl Field {
    pub fn parse(text: &str) -> Field {
        match text {
            "hostname" | "@hostname" => Field::Hostname,
            "@region" => Field::Region,
            "@zone" => Field::Zone,
            name => Field::Attribute(name.to_string()),
        }
    }

    /// The field's text on `agent`, or `None` when the agent does not have it.
    pub fn read<'a>(&self, agent: &'a Agent) -> Option<Cow<'a, str>> {
        match self {
            Field::Hostname => Some(Cow::Borrowed(agent.hostname.as_str())),
            Field::Region => agent.region().map(Cow::Borrowed),
            Field::Zone => agent.zone().map(Cow::Borrowed),
            Field::Attribute(name) => agent.attribute(name).map(|v| match v {
                super::offer::AttributeValue::Text(t) => Cow::Borrowed(t.as_str()),
                other => Cow::Owned(other.to_string()),
            }),
        }
    }
}

/// The checked, ready-to-evaluate form of a constraint's operator and value.
#[derive(Debug, Clone)]
enum Rule {
    Unique,
    Cluster(Option<String>),
    GroupBy(usize),
    Like(Regex),
    Unlike(Regex),
    MaxPer(i64),
    Is(String),
}

/// A validated placement constraint. Written and read as Marathon's JSON array form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Constraint {
    field: String,
    source: Field,
    operator: Operator,
    value: Option<String>,
    rule: Rule,
}

impl PartialEq for Constraint {
    fn eq(&self, other: &Constraint) -> bool {
        (&self.field, self.operator, &self.value) == (&other.field, other.operator, &other.value)
    }
}

impl Eq for Constraint {}

impl Constraint {
    /// Parses Marathon's array form: `["field", "OPERATOR"]` or `["field", "OPERATOR", "value"]`.
    pub fn parse<S: AsRef<str>>(parts: &[S]) -> Result<Constraint, ConstraintError> {
        match parts {
            [field, op] => Constraint::new(field.as_ref(), op.as_ref(), None),
            [field, op, value] => {
                Constraint::new(field.as_ref(), op.as_ref(), Some(value.as_ref()))
            }
            _ => Err(ConstraintError::Arity),
        }
    }

    pub fn new(
        field: &str,
        operator: &str,
        value: Option<&str>,
    ) -> Result<Constraint, ConstraintError> {
        if field.is_empty() {
            return Err(ConstraintError::MissingField);
        }
        let operator = Operator::parse(operator)
            .ok_or_else(|| ConstraintError::UnknownOperator(operator.to_string()))?;
        let rule = match (operator, value) {
            // `["hostname", "UNIQUE", ""]` is the form Marathon's own examples use.
            (Operator::Unique, None) | (Operator::Unique, Some("")) => Rule::Unique,
            (Operator::Unique, Some(_)) => return Err(ConstraintError::UniqueWithValue),
            // Marathon treats an empty value as none: the first instance picks it.
            (Operator::Cluster, value) => {
                Rule::Cluster(value.filter(|v| !v.is_empty()).map(str::to_string))
            }
            (Operator::GroupBy, None) | (Operator::GroupBy, Some("")) => Rule::GroupBy(0),
            (Operator::GroupBy, Some(v)) => {
                let n: i32 = v.parse().map_err(|_| ConstraintError::GroupByNotInteger)?;
                Rule::GroupBy(usize::try_from(n).unwrap_or(0))
            }
            (Operator::MaxPer, v) => {
                let n: i32 = v
                    .and_then(|v| v.parse().ok())
                    .ok_or(ConstraintError::MaxPerNotInteger)?;
                Rule::MaxPer(i64::from(n))
            }
            (Operator::Like, v) => Rule::Like(full_match(v)?),
            (Operator::Unlike, v) => Rule::Unlike(full_match(v)?),
            (Operator::Is, v) => {
                let v = v.unwrap_or("");
                let literal = v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '.' | '-'));
                if !literal {
                    return Err(ConstraintError::IsNotText);
                }
                Rule::Is(number_as_marathon_prints(v).unwrap_or_else(|| v.to_string()))
            }
        };
        Ok(Constraint {
            field: field.to_string(),
            source: Field::parse(field),
            operator,
            value: value.map(str::to_string),
            rule,
        })
    }

    /// The field as written (`hostname`, `@zone`, `rack`).
    pub fn field(&self) -> &str {
        &self.field
    }

    pub fn source(&self) -> &Field {
        &self.source
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// Marathon's array form.
    pub fn to_parts(&self) -> Vec<String> {
        let mut parts = vec![self.field.clone(), self.operator.name().to_string()];
        parts.extend(self.value.clone());
        parts
    }

    /// Whether an instance may go on `agent`, given the agents the run spec's instances run
    /// on (one entry per instance).
    pub fn is_met(&self, agent: &Agent, placed: &[&Agent]) -> bool {
        let Some(value) = self.source.read(agent) else {
            return self.operator == Operator::Unlike;
        };
        let value = value.as_ref();
        let source = &self.source;
        match &self.rule {
            Rule::Like(re) => re.is_match(value),
            Rule::Unlike(re) => !re.is_match(value),
            Rule::Is(wanted) => value == wanted,
            Rule::Cluster(Some(wanted)) => value == wanted,
            Rule::Cluster(None) => placed
                .iter()
                .all(|p| source.read(p).as_deref() == Some(value)),
            Rule::Unique => placed
                .iter()
                .all(|p| source.read(p).as_deref() != Some(value)),
            Rule::MaxPer(max) => {
                let here = placed
                    .iter()
                    .filter(|p| source.read(p).as_deref() == Some(value))
                    .count();
                (here as i64) < *max
            }
            Rule::GroupBy(expected) => {
                let mut counts: HashMap<Cow<'_, str>, usize> = HashMap::new();
                for p in placed {
                    if let Some(v) = source.read(p) {
                        *counts.entry(v).or_default() += 1;
                    }
                }
                match counts.get(value) {
                    // A value no instance uses yet has the fewest instances of all.
                    None => true,
                    Some(&here) => {
                        let fewest = counts.values().copied().min().unwrap_or(0);
                        counts.len() >= *expected && here == fewest
                    }
                }
            }
        }
    }
}

/// Compiles a LIKE/UNLIKE pattern to match the whole value, as Java's `String.matches` does.
fn full_match(pattern: Option<&str>) -> Result<Regex, ConstraintError> {
    let pattern = pattern
        .filter(|p| !p.is_empty())
        .ok_or(ConstraintError::MissingRegex)?;
    // Checked alone first: wrapped, an unbalanced `a)(b` would become a valid pattern.
    Regex::new(pattern).map_err(|_| ConstraintError::BadRegex(pattern.to_string()))?;
    Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|_| ConstraintError::BadRegex(pattern.to_string()))
}

/// `1.50` as attributes print it (`1.5`), so IS compares numbers, not spellings.
fn number_as_marathon_prints(text: &str) -> Option<String> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return None;
    }
    text.parse::<f64>().ok().map(|v| Scalar::new(v).to_string())
}

impl TryFrom<Vec<String>> for Constraint {
    type Error = ConstraintError;
    fn try_from(parts: Vec<String>) -> Result<Constraint, ConstraintError> {
        Constraint::parse(&parts)
    }
}

impl From<Constraint> for Vec<String> {
    fn from(c: Constraint) -> Vec<String> {
        c.to_parts()
    }
}

/// `field:OPERATOR` or `field:OPERATOR:value`, the label used in "why is it waiting" messages.
impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.field, self.operator.name())?;
        if let Some(v) = &self.value {
            write!(f, ":{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::testkit::agent;

    fn c(parts: &[&str]) -> Constraint {
        Constraint::parse(parts).unwrap_or_else(|e| panic!("{parts:?}: {e}"))
    }

    #[test]
    fn parses_valid_constraints() {
        let cases: &[(&[&str], Operator, Option<&str>)] = &[
            (&["hostname", "UNIQUE"], Operator::Unique, None),
            (&["hostname", "unique"], Operator::Unique, None),
            (&["rack", "CLUSTER"], Operator::Cluster, None),
            (&["rack", "CLUSTER", "a"], Operator::Cluster, Some("a")),
            (&["rack", "GROUP_BY"], Operator::GroupBy, None),
            (&["rack", "GROUP_BY", "3"], Operator::GroupBy, Some("3")),
            (&["rack", "LIKE", "r[0-9]"], Operator::Like, Some("r[0-9]")),
            (
                &["rack", "UNLIKE", "r1|r2"],
                Operator::Unlike,
                Some("r1|r2"),
            ),
            (&["@zone", "MAX_PER", "2"], Operator::MaxPer, Some("2")),
            (&["level", "IS", "1.50"], Operator::Is, Some("1.50")),
            (
                &["os", "IS", "centos-7.2_x/y"],
                Operator::Is,
                Some("centos-7.2_x/y"),
            ),
        ];
        for (parts, op, value) in cases {
            let parsed = c(parts);
            assert_eq!(parsed.field(), parts[0]);
            assert_eq!(parsed.operator(), *op, "{parts:?}");
            assert_eq!(parsed.value(), *value, "{parts:?}");
        }
    }

    #[test]
    fn an_empty_value_is_no_value_for_unique_and_group_by() {
        assert!(Constraint::parse(&["hostname", "UNIQUE", ""]).is_ok());
        assert!(Constraint::parse(&["rack", "GROUP_BY", ""]).is_ok());
    }

    #[test]
    fn rejects_invalid_constraints_with_marathon_messages() {
        let cases: &[(&[&str], &str)] = &[
            (&["hostname"], "Each constraint must have either 2 or 3 fields"),
            (&["a", "b", "c", "d"], "Each constraint must have either 2 or 3 fields"),
            (&["", "UNIQUE"], "missing field for constraint declaration"),
            (
                &["hostname", "SOMETIMES"],
                "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS",
            ),
            (&["hostname", "UNIQUE", "x"], "UNIQUE does not accept a value"),
            (
                &["rack", "GROUP_BY", "two"],
                "GROUP BY must define an integer value or else no value at all",
            ),
            (&["rack", "MAX_PER"], "MAX_PER requires an integer value"),
            (&["rack", "MAX_PER", "1.5"], "MAX_PER requires an integer value"),
            (
                &["rack", "LIKE"],
                "LIKE and UNLIKE require a non-empty, regular expression value",
            ),
            (
                &["rack", "UNLIKE", ""],
                "LIKE and UNLIKE require a non-empty, regular expression value",
            ),
            (&["rack", "LIKE", "a)(b"], "'a)(b' is not a valid regular expression"),
            (&["rack", "UNLIKE", "[a-"], "'[a-' is not a valid regular expression"),
            (
                &["rack", "IS", "{a,b}"],
                "IS only supports Mesos text and float values (see http://mesos.apache.org/documentation/latest/attributes-resources/)",
            ),
        ];
        for (parts, message) in cases {
            let err = Constraint::parse(parts).expect_err(&format!("{parts:?} should fail"));
            assert_eq!(err.to_string(), *message, "{parts:?}");
        }
    }

    #[test]
    fn json_round_trip() {
        let parsed: Vec<Constraint> =
            serde_json::from_str(r#"[["hostname","UNIQUE"],["rack","GROUP_BY","2"]]"#).unwrap();
        assert_eq!(
            parsed,
            vec![c(&["hostname", "UNIQUE"]), c(&["rack", "GROUP_BY", "2"])]
        );
        assert_eq!(
            serde_json::to_string(&parsed).unwrap(),
            r#"[["hostname","UNIQUE"],["rack","GROUP_BY","2"]]"#
        );
        let err = serde_json::from_str::<Constraint>(r#"["rack","MAX_PER","x"]"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("MAX_PER requires an integer value"),
            "{err}"
        );
        assert_eq!(c(&["rack", "LIKE", "a.*"]).to_string(), "rack:LIKE:a.*");
        assert_eq!(c(&["hostname", "UNIQUE"]).to_string(), "hostname:UNIQUE");
    }

    #[test]
    fn fields_read_hostname_fault_domain_and_attributes_as_marathon_prints_them() {
        let a = agent("a1")
            .host("h1.example")
            .domain("eu", "eu-1a")
            .attr("rack", "r1")
            .scalar("level", 1.5)
            .scalar("cores", 8.0)
            .scalar("tiny", 0.0005)
            .ranges("slots", &[(5, 9), (1, 2)])
            .set("disks", &["ssd", "hdd"]);
        let cases = [
            ("hostname", Some("h1.example")),
            ("@hostname", Some("h1.example")),
            ("@region", Some("eu")),
            ("@zone", Some("eu-1a")),
            ("rack", Some("r1")),
            ("level", Some("1.5")),
            ("cores", Some("8")),
            ("tiny", Some("0.001")),
            ("slots", Some("[1-2,5-9]")),
            ("disks", Some("{hdd,ssd}")),
            ("missing", None),
        ];
        for (field, want) in cases {
            assert_eq!(Field::parse(field).read(&a).as_deref(), want, "{field}");
        }
        assert_eq!(Field::Region.read(&agent("a2")), None);
    }

    /// Operator cases on the attribute `rack`: the constraint (`:`-separated), the offer's
    /// rack (`-` = the agent has no rack), the racks of the agents instances run on, and
    /// whether the offer's agent passes.
    #[test]
    fn operators_on_an_attribute() {
        let cases = [
            ("rack:UNIQUE", "a", "", true),
            ("rack:UNIQUE", "a", "b -", true),
            ("rack:UNIQUE", "a", "b a", false),
            ("rack:UNIQUE", "-", "", false),
            ("rack:CLUSTER:a", "a", "", true),
            ("rack:CLUSTER:a", "b", "", false),
            ("rack:CLUSTER:a", "-", "", false),
            // Without a value, the first instance picks it.
            ("rack:CLUSTER", "b", "", true),
            ("rack:CLUSTER", "b", "b b", true),
            ("rack:CLUSTER", "a", "b", false),
            ("rack:CLUSTER", "a", "-", false),
            ("rack:CLUSTER:", "a", "", true),
            ("rack:CLUSTER:", "a", "b", false),
            // New values and the least used values pass.
            ("rack:GROUP_BY", "a", "", true),
            ("rack:GROUP_BY", "c", "a b", true),
            ("rack:GROUP_BY", "a", "a b", true),
            ("rack:GROUP_BY", "a", "a a b", false),
            ("rack:GROUP_BY", "b", "a a b", true),
            ("rack:GROUP_BY", "-", "", false),
            // With n, a seen value waits until n values are seen.
            ("rack:GROUP_BY:3", "a", "a b", false),
            ("rack:GROUP_BY:3", "c", "a b", true),
            ("rack:GROUP_BY:3", "a", "a b c", true),
            ("rack:GROUP_BY:2", "a", "a b", true),
            // Whole-value regexes; only UNLIKE passes without the attribute.
            ("rack:LIKE:r[0-9]", "r1", "", true),
            ("rack:LIKE:r[0-9]", "r12", "", false),
            ("rack:LIKE:r", "rr", "", false),
            ("rack:LIKE:r.*", "-", "", false),
            ("rack:UNLIKE:r[0-9]", "r1", "", false),
            ("rack:UNLIKE:r[0-9]", "r12", "", true),
            ("rack:UNLIKE:r1|r2", "r3", "", true),
            ("rack:UNLIKE:r.*", "-", "", true),
            ("rack:MAX_PER:2", "a", "a", true),
            ("rack:MAX_PER:2", "a", "a a", false),
            ("rack:MAX_PER:2", "b", "a a", true),
            ("rack:MAX_PER:0", "b", "", false),
            ("rack:MAX_PER:2", "-", "", false),
            ("rack:IS:a", "a", "", true),
            ("rack:IS:a", "ab", "", false),
            ("rack:IS:a", "-", "", false),
        ];
        let with_rack = |id: &str, rack: &str| match rack {
            "-" => agent(id),
            rack => agent(id).attr("rack", rack),
        };
        for (constraint, offer_rack, placed_racks, met) in cases {
            let parts: Vec<&str> = constraint.split(':').collect();
            let constraint = c(&parts);
            let offered = with_rack("offered", offer_rack);
            let placed: Vec<Agent> = placed_racks
                .split_whitespace()
                .enumerate()
                .map(|(i, rack)| with_rack(&format!("p{i}"), rack))
                .collect();
            let placed: Vec<&Agent> = placed.iter().collect();
            assert_eq!(
                constraint.is_met(&offered, &placed),
                met,
                "{constraint} on {offer_rack} with instances on [{placed_racks}]"
            );
        }
    }

    #[test]
    fn hostname_and_fault_domain_fields() {
        let h1 = agent("a1").host("h1").domain("eu", "eu-1a");
        let h2 = agent("a2").host("h2").domain("eu", "eu-1b");
        let bare = agent("a3").host("h3");
        let cases: &[(&[&str], &Agent, &[&Agent], bool)] = &[
            (&["hostname", "UNIQUE"], &h1, &[&h2], true),
            (&["hostname", "UNIQUE"], &h1, &[&h1], false),
            (&["@hostname", "UNIQUE"], &h1, &[&h1], false),
            (&["hostname", "CLUSTER", "h2"], &h2, &[], true),
            (&["hostname", "LIKE", "h[12]"], &h1, &[], true),
            (&["hostname", "IS", "h3"], &bare, &[], true),
            (&["@region", "CLUSTER", "eu"], &h2, &[], true),
            (&["@region", "CLUSTER", "eu"], &bare, &[], false),
            (&["@region", "UNLIKE", "eu"], &bare, &[], true),
            (&["@zone", "UNIQUE"], &h2, &[&h1], true),
            (&["@zone", "UNIQUE"], &h1, &[&h1, &h2], false),
            (&["@zone", "MAX_PER", "1"], &h1, &[&h2], true),
            (&["@zone", "GROUP_BY", "2"], &h1, &[&h1], false),
            (&["@zone", "GROUP_BY", "2"], &h2, &[&h1], true),
        ];
        for (parts, offered, placed, met) in cases {
            assert_eq!(
                c(parts).is_met(offered, placed),
                *met,
                "{parts:?} on {}",
                offered.hostname
            );
        }
    }

    #[test]
    fn is_compares_numbers_in_marathon_format() {
        let a = agent("a").scalar("level", 1.5).scalar("cores", 8.0);
        assert!(c(&["level", "IS", "1.50"]).is_met(&a, &[]));
        assert!(c(&["level", "IS", "1.5"]).is_met(&a, &[]));
        assert!(c(&["cores", "IS", "8"]).is_met(&a, &[]));
        assert!(c(&["cores", "IS", "8.000"]).is_met(&a, &[]));
        assert!(!c(&["cores", "IS", "8.1"]).is_met(&a, &[]));
    }

    #[test]
    fn like_matches_non_text_attributes_by_their_printed_form() {
        let a = agent("a").ranges("slots", &[(1, 2)]).set("disks", &["ssd"]);
        assert!(c(&["slots", "LIKE", r"\[1-2\]"]).is_met(&a, &[]));
        assert!(c(&["disks", "LIKE", r"\{ssd\}"]).is_met(&a, &[]));
        assert!(c(&["disks", "UNIQUE"]).is_met(&a, &[]));
    }
}
