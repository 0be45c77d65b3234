//! A building or unit head's side of the store: the masked roster of their
//! building as the server last gave it (kept for offline use), and the
//! contacts they record, each its own small document pushed like any
//! other record.

use super::Store;
use crate::codes::Op;
use crate::contact::{self, Contact, NewContact, Roster};
use crate::doc::{self, DocId};
use crate::{Error, Reason, Result};

/// The roster as last received (JSON).
const ROSTER_KEY: &str = "contact.roster";

impl Store {
    /// The roster of the signed-in head's building or unit, as last
    /// fetched (`None` before the first sync).
    pub fn roster(&self) -> Result<Option<Roster>> {
        Ok(self
            .meta(ROSTER_KEY)?
            .filter(|j| !j.is_empty())
            .and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// Keep the roster (`None`: forget it, at sign-out).
    pub fn set_roster(&mut self, roster: Option<&Roster>) -> Result<()> {
        let json = match roster {
            Some(r) => serde_json::to_string(r).map_err(|e| Error::Shape(e.to_string()))?,
            None => String::new(),
        };
        self.set_meta(ROSTER_KEY, &json)
    }

    /// Record a contact with a household of the roster, as the signed-in
    /// author, now; returns its id. Works offline: the household's grid and
    /// place come from the kept roster.
    pub fn log_contact(&mut self, new: NewContact) -> Result<DocId> {
        let roster = self.roster()?.ok_or_else(|| {
            Reason::new(
                "还没有楼栋名册：请先联网同步一次",
                "no roster yet: sync once while online",
            )
            .on("household")
        })?;
        let household = roster.household(new.household.trim()).ok_or_else(|| {
            Reason::new(
                "该户不在您负责的楼栋名册中",
                "the household is not on your building's roster",
            )
            .on("household")
        })?;
        let id = doc::new_id();
        let method = if new.method.trim().is_empty() {
            crate::codes::VisitMethod::InPerson.code().to_string()
        } else {
            new.method.trim().to_string()
        };
        let c = Contact {
            kind: contact::KIND.into(),
            schema: contact::SCHEMA,
            id: id.clone(),
            grid: household.grid.clone(),
            household: household.id.clone(),
            place: household.place.clone(),
            by: self.author.user.clone(),
            role: self.author.role.clone(),
            at: self.clock.now_ms(),
            method,
            findings: new.findings.trim().into(),
            needs: new.needs.trim().into(),
            follow_up: new.follow_up,
        };
        c.validate(&self.clock)?;
        let grid = c.grid.clone();
        self.create_doc(&id, contact::KIND, &grid, Op::LogContact.code(), |tx| {
            doc::write_new(tx, &automerge::ROOT, &c)
        })?;
        Ok(id)
    }

    /// The contacts this device holds (the head's own), newest first.
    pub fn contacts(&mut self) -> Result<Vec<Contact>> {
        let ids: Vec<DocId> = self
            .documents()?
            .into_iter()
            .filter(|(_, kind, _)| kind == contact::KIND)
            .map(|(id, _, _)| id)
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.with_doc(&id, |d| doc::read::<Contact>(d, None))?);
        }
        out.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::OpenOptions;
    use crate::clock::Clock;
    use crate::contact::{Post, RosterHousehold};
    use crate::doc::Author;
    use crate::household::Place;

    fn roster() -> Roster {
        Roster {
            post: Post {
                grid: "110105001001001".into(),
                compound: "幸福小区".into(),
                building: "3号楼".into(),
                unit: String::new(),
            },
            at: 1,
            households: vec![RosterHousehold {
                id: "h1".into(),
                grid: "110105001001001".into(),
                place: Place {
                    compound: "幸福小区".into(),
                    building: "3号楼".into(),
                    unit: "1单元".into(),
                    room: "101".into(),
                    ..Place::default()
                },
                residents: Vec::new(),
            }],
        }
    }

    #[test]
    fn a_head_logs_contacts_offline_for_households_on_the_roster_only() {
        let mut s = Store::open_in_memory(OpenOptions::default()).unwrap();
        s.set_author(Author {
            user: "lou".into(),
            role: "building_head".into(),
        })
        .unwrap();
        s.set_clock(Clock::Fixed(1_700_000_000_000));
        let new = NewContact {
            household: "h1".into(),
            findings: "独居老人身体尚可".into(),
            needs: "楼道灯坏了".into(),
            ..NewContact::default()
        };
        // Before the first sync there is no roster to record against.
        assert!(matches!(
            s.log_contact(new.clone()),
            Err(Error::Invalid { field, .. }) if field == "household"
        ));
        s.set_roster(Some(&roster())).unwrap();
        let id = s.log_contact(new.clone()).unwrap();
        let other = NewContact {
            household: "h2".into(),
            ..new
        };
        assert!(matches!(
            s.log_contact(other),
            Err(Error::Invalid { field, .. }) if field == "household"
        ));
        let all = s.contacts().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id, id);
        assert_eq!(all[0].place.room, "101");
        assert_eq!(all[0].method, "in_person");
        assert_eq!(all[0].by, "lou");
        assert_eq!(s.pending_changes().unwrap(), 1, "waits in the outbox");
    }
}
