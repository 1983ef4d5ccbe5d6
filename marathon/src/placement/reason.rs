//! Why an offer was not used, in Marathon's funnel order.

use std::fmt;

use serde::Serialize;

/// Why an offer could not take an instance. The variants are declared in Marathon's funnel
/// order, so `Ord` is that order: when an offer fails for several reasons, the smallest is the
/// one the statistics count. Serialised as Marathon spells them (`"InsufficientCpus"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Reason {
    /// No resource in the offer has one of the accepted roles.
    UnfulfilledRole,
    /// At least one placement constraint rejects the agent.
    UnfulfilledConstraint,
    /// A resident instance's reservation is not in the offer.
    NoCorrespondingReservationFound,
    /// The agent is in maintenance or draining.
    AgentMaintenance,
    InsufficientCpus,
    InsufficientMemory,
    InsufficientDisk,
    InsufficientGpus,
    InsufficientPorts,
    /// The offer has GPUs and the run spec needs none: GPU agents are kept for GPU work.
    DeclinedScarceResources,
}

impl Reason {
    /// Every reason, in funnel order.
    pub const FUNNEL: [Reason; 10] = [
        Reason::UnfulfilledRole,
        Reason::UnfulfilledConstraint,
        Reason::NoCorrespondingReservationFound,
        Reason::AgentMaintenance,
        Reason::InsufficientCpus,
        Reason::InsufficientMemory,
        Reason::InsufficientDisk,
        Reason::InsufficientGpus,
        Reason::InsufficientPorts,
        Reason::DeclinedScarceResources,
    ];

    /// The position in [`Reason::FUNNEL`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Reason::UnfulfilledRole => "UnfulfilledRole",
            Reason::UnfulfilledConstraint => "UnfulfilledConstraint",
            Reason::NoCorrespondingReservationFound => "NoCorrespondingReservationFound",
            Reason::AgentMaintenance => "AgentMaintenance",
            Reason::InsufficientCpus => "InsufficientCpus",
            Reason::InsufficientMemory => "InsufficientMemory",
            Reason::InsufficientDisk => "InsufficientDisk",
            Reason::InsufficientGpus => "InsufficientGpus",
            Reason::InsufficientPorts => "InsufficientPorts",
            Reason::DeclinedScarceResources => "DeclinedScarceResources",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn funnel_order_is_the_declaration_order() {
        for (i, reason) in Reason::FUNNEL.iter().enumerate() {
            assert_eq!(reason.index(), i);
        }
        assert!(Reason::FUNNEL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn serialises_as_marathon_names() {
        for reason in Reason::FUNNEL {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.name()));
        }
        assert_eq!(
            Reason::NoCorrespondingReservationFound.to_string(),
            "NoCorrespondingReservationFound"
        );
    }
}
