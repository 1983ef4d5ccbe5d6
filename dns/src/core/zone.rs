//! Answers for names in the Mesos domain, as Mesos-DNS gives them (`resolver.HandleMesos`):
//! the [`Records`] turned into DNS resource data once per change, so that a query is a
//! hash lookup and a few clones.
//!
//! - A, AAAA: the addresses of the name. SRV: the targets, owned by the name as asked,
//!   with each target's first A and AAAA as additional records. SOA and NS: in the
//!   authority section. ANY: all of these.
//! - Nothing found: NXDOMAIN with the SOA, except NOERROR when the name has records of
//!   another type, and plain NOERROR for SOA, NS and SRV questions.
//! - Several answers are shuffled: rudimentary load balancing across instances.

use std::collections::HashMap;
use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, SRV};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use rand::seq::SliceRandom;
use rand::Rng;

use super::records::Records;

/// What the answers carry besides the records.
#[derive(Debug, Clone)]
pub struct ZoneSettings {
    /// The domain with its trailing dot (`mesos.`).
    pub origin: Name,
    pub ttl: u32,
    pub srv_weight: u16,
    pub soa_mname: Name,
    pub soa_rname: Name,
    pub soa_refresh: u32,
    pub soa_retry: u32,
    pub soa_expire: u32,
    pub recurse_on: bool,
}

/// An answer: response code and sections.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub code: ResponseCode,
    pub recursion_available: bool,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
}

#[derive(Debug, Default)]
struct Entry {
    a: Vec<Record>,
    aaaa: Vec<Record>,
    /// SRV data; the owner is the name as asked, so records are made per answer.
    srv: Vec<SRV>,
    /// First A and AAAA of each SRV target.
    srv_additionals: Vec<Record>,
}

/// The records of one moment, ready to answer from.
#[derive(Debug)]
pub struct Zone {
    settings: ZoneSettings,
    origin: LowerName,
    serial: u32,
    names: HashMap<LowerName, Entry>,
    records: Records,
}

fn parse_name(text: &str) -> Option<Name> {
    Name::from_ascii(text).ok().filter(Name::is_fqdn)
}

impl Zone {
    pub fn new(settings: ZoneSettings, records: Records, serial: u32) -> Zone {
        let ttl = settings.ttl;
        let mut names: HashMap<LowerName, Entry> = HashMap::new();
        for (text, ips) in records.a.iter().chain(&records.aaaa) {
            let Some(name) = parse_name(text) else {
                tracing::debug!(name = %text, "skipping a name that is not a valid domain name");
                continue;
            };
            let entry = names.entry(LowerName::new(&name)).or_default();
            for ip in ips {
                match ip {
                    IpAddr::V4(v4) => {
                        entry
                            .a
                            .push(Record::from_rdata(name.clone(), ttl, RData::A(A(*v4))))
                    }
                    IpAddr::V6(v6) => entry.aaaa.push(Record::from_rdata(
                        name.clone(),
                        ttl,
                        RData::AAAA(AAAA(*v6)),
                    )),
                }
            }
        }
        let mut srvs = Vec::new();
        for (text, targets) in &records.srv {
            let Some(name) = parse_name(text) else {
                continue;
            };
            let mut srv = Vec::new();
            let mut additionals = Vec::new();
            let mut seen_hosts = Vec::new();
            for (host, port) in targets {
                let Some(target) = parse_name(host) else {
                    continue;
                };
                srv.push(SRV::new(0, settings.srv_weight, *port, target.clone()));
                if seen_hosts.contains(host) {
                    continue;
                }
                seen_hosts.push(host.clone());
                if let Some(ip) = records.a.get(host).and_then(|s| s.iter().next()) {
                    additionals.push(address_record(target.clone(), ttl, *ip));
                }
                if let Some(ip) = records.aaaa.get(host).and_then(|s| s.iter().next()) {
                    additionals.push(address_record(target, ttl, *ip));
                }
            }
            srvs.push((LowerName::new(&name), srv, additionals));
        }
        for (name, srv, additionals) in srvs {
            let entry = names.entry(name).or_default();
            entry.srv = srv;
            entry.srv_additionals = additionals;
        }
        Zone {
            origin: LowerName::new(&settings.origin),
            settings,
            serial,
            names,
            records,
        }
    }

    pub fn records(&self) -> &Records {
        &self.records
    }

    pub fn serial(&self) -> u32 {
        self.serial
    }

    pub fn settings(&self) -> &ZoneSettings {
        &self.settings
    }

    /// Whether this zone answers for the name (the domain or a name below it).
    pub fn contains(&self, name: &LowerName) -> bool {
        self.origin.zone_of(name)
    }

    /// The answer to one question about a name in the domain. `asked` is the name as
    /// the question spelled it (SRV and SOA answers repeat it).
    pub fn answer(&self, asked: &Name, qtype: RecordType, rng: &mut impl Rng) -> Reply {
        let lower = LowerName::new(asked);
        let cleaned;
        let key = if asked.iter().any(|label| label == b"*") {
            // Mesos-DNS drops wildcard labels: `*.web.marathon.mesos` is `web.marathon.mesos`.
            cleaned = LowerName::new(
                &Name::from_labels(asked.iter().filter(|label| *label != b"*"))
                    .map(|mut n| {
                        n.set_fqdn(true);
                        n
                    })
                    .unwrap_or_else(|_| asked.clone()),
            );
            &cleaned
        } else {
            &lower
        };
        let entry = self.names.get(key);
        let owner = Name::from(key.clone());
        let mut reply = Reply {
            code: ResponseCode::NoError,
            recursion_available: self.settings.recurse_on,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
        };
        let want = |t: RecordType| qtype == t || qtype == RecordType::ANY;
        if let Some(entry) = entry {
            if want(RecordType::SRV) {
                reply.answers.extend(entry.srv.iter().map(|srv| {
                    Record::from_rdata(asked.clone(), self.settings.ttl, RData::SRV(srv.clone()))
                }));
                reply
                    .additionals
                    .extend(entry.srv_additionals.iter().cloned());
            }
            if want(RecordType::A) {
                reply
                    .answers
                    .extend(entry.a.iter().map(|r| with_owner(r, &owner)));
            }
            if want(RecordType::AAAA) {
                reply
                    .answers
                    .extend(entry.aaaa.iter().map(|r| with_owner(r, &owner)));
            }
        }
        if want(RecordType::SOA) {
            reply.authorities.push(self.soa(asked));
        }
        if want(RecordType::NS) {
            reply.authorities.push(self.ns(asked));
        }
        if !reply.answers.is_empty() {
            reply.answers.shuffle(rng);
            return reply;
        }
        if matches!(qtype, RecordType::SOA | RecordType::NS | RecordType::SRV) {
            return reply;
        }
        if entry.is_none() {
            reply.code = ResponseCode::NXDomain;
        }
        reply.authorities.push(self.soa(asked));
        reply
    }

    fn soa(&self, owner: &Name) -> Record {
        let s = &self.settings;
        let rdata = SOA::new(
            s.soa_mname.clone(),
            s.soa_rname.clone(),
            self.serial,
            s.soa_refresh as i32,
            s.soa_retry as i32,
            s.soa_expire as i32,
            s.ttl,
        );
        Record::from_rdata(owner.clone(), s.ttl, RData::SOA(rdata))
    }

    fn ns(&self, owner: &Name) -> Record {
        Record::from_rdata(
            owner.clone(),
            self.settings.ttl,
            RData::NS(NS(self.settings.soa_mname.clone())),
        )
    }
}

fn address_record(name: Name, ttl: u32, ip: IpAddr) -> Record {
    let rdata = match ip {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    Record::from_rdata(name, ttl, rdata)
}

/// The stored record, owned by the name as looked up (lowercase; a wildcard label
/// removed).
fn with_owner(record: &Record, owner: &Name) -> Record {
    if record.name == *owner {
        return record.clone();
    }
    Record::from_rdata(owner.clone(), record.ttl, record.data.clone())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use rand::SeedableRng;

    use super::*;

    /// Mesos-DNS's defaults for the `mesos` domain.
    pub(crate) fn settings() -> ZoneSettings {
        ZoneSettings {
            origin: Name::from_ascii("mesos.").unwrap(),
            ttl: 60,
            srv_weight: 1,
            soa_mname: Name::from_ascii("ns1.mesos.").unwrap(),
            soa_rname: Name::from_ascii("root.ns1.mesos.").unwrap(),
            soa_refresh: 60,
            soa_retry: 600,
            soa_expire: 86400,
            recurse_on: true,
        }
    }

    fn zone() -> Zone {
        let mut records = Records::default();
        let set = |ips: &[&str]| {
            ips.iter()
                .map(|i| i.parse().unwrap())
                .collect::<BTreeSet<_>>()
        };
        records.a = BTreeMap::from([
            (
                "web.marathon.mesos.".to_string(),
                set(&["10.0.0.1", "10.0.0.2"]),
            ),
            ("web-a-s0.marathon.mesos.".to_string(), set(&["10.0.0.1"])),
        ]);
        records.aaaa = BTreeMap::from([("v6.marathon.mesos.".to_string(), set(&["2001:db8::1"]))]);
        records.srv = BTreeMap::from([(
            "_web._tcp.marathon.mesos.".to_string(),
            BTreeSet::from([
                ("web-a-s0.marathon.mesos.".to_string(), 31000),
                ("web-a-s0.marathon.mesos.".to_string(), 31001),
            ]),
        )]);
        Zone::new(settings(), records, 7)
    }

    fn ask(zone: &Zone, name: &str, qtype: RecordType) -> Reply {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        zone.answer(&Name::from_ascii(name).unwrap(), qtype, &mut rng)
    }

    fn rdata(records: &[Record]) -> Vec<String> {
        let mut out: Vec<String> = records.iter().map(|r| r.data.to_string()).collect();
        out.sort();
        out
    }

    #[test]
    fn answers_by_type() {
        let z = zone();
        let r = ask(&z, "WEB.Marathon.mesos.", RecordType::A);
        assert_eq!(r.code, ResponseCode::NoError);
        assert_eq!(rdata(&r.answers), ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(r.answers[0].name.to_ascii(), "web.marathon.mesos.");
        assert_eq!(r.answers[0].ttl, 60);

        let r = ask(&z, "_Web._tcp.marathon.mesos.", RecordType::SRV);
        assert_eq!(
            rdata(&r.answers),
            [
                "0 1 31000 web-a-s0.marathon.mesos.",
                "0 1 31001 web-a-s0.marathon.mesos."
            ]
        );
        assert_eq!(r.answers[0].name.to_ascii(), "_Web._tcp.marathon.mesos.");
        assert_eq!(rdata(&r.additionals), ["10.0.0.1"], "one A per target host");

        let r = ask(&z, "v6.marathon.mesos.", RecordType::AAAA);
        assert_eq!(rdata(&r.answers), ["2001:db8::1"]);
        let r = ask(&z, "*.web.marathon.mesos.", RecordType::A);
        assert_eq!(rdata(&r.answers), ["10.0.0.1", "10.0.0.2"]);
    }

    #[test]
    fn empty_answers_follow_mesos_dns() {
        let z = zone();
        // Unknown name: NXDOMAIN with the SOA.
        let r = ask(&z, "nothing.marathon.mesos.", RecordType::A);
        assert_eq!(r.code, ResponseCode::NXDomain);
        assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
        // Known name, other type: NOERROR (no data) with the SOA.
        let r = ask(&z, "web.marathon.mesos.", RecordType::AAAA);
        assert_eq!((r.code, r.answers.len()), (ResponseCode::NoError, 0));
        assert_eq!(r.authorities.len(), 1);
        let r = ask(&z, "web.marathon.mesos.", RecordType::MX);
        assert_eq!(r.code, ResponseCode::NoError);
        // SRV, SOA and NS questions never say NXDOMAIN.
        let r = ask(&z, "_nothing._tcp.marathon.mesos.", RecordType::SRV);
        assert_eq!((r.code, r.authorities.len()), (ResponseCode::NoError, 0));
        let r = ask(&z, "mesos.", RecordType::SOA);
        assert_eq!(r.code, ResponseCode::NoError);
        assert_eq!(
            r.authorities[0].data.to_string(),
            "ns1.mesos. root.ns1.mesos. 7 60 600 86400 60"
        );
        let r = ask(&z, "mesos.", RecordType::NS);
        assert_eq!(rdata(&r.authorities), ["ns1.mesos."]);
        // ANY: everything, authority included.
        let r = ask(&z, "web.marathon.mesos.", RecordType::ANY);
        assert_eq!(r.answers.len(), 2);
        assert_eq!(r.authorities.len(), 2);
    }

    #[test]
    fn the_zone_covers_its_domain_only() {
        let z = zone();
        let name = |s: &str| LowerName::new(&Name::from_ascii(s).unwrap());
        assert!(z.contains(&name("mesos.")));
        assert!(z.contains(&name("a.b.MESOS.")));
        assert!(!z.contains(&name("notmesos.")));
        assert!(!z.contains(&name("example.com.")));
    }
}
