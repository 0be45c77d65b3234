//! The 小三级 below the grid: 楼栋长 (building heads) and 单元长 (unit
//! heads), volunteers who know every door of their building. They never
//! hold the ledger: the server gives them a **roster** of the households in
//! their building or unit with names and phones masked and without ID
//! numbers ([`Roster`]), which the phone keeps for offline use; and what
//! they learn at the door they record as **contacts** ([`Contact`]): one
//! small document per contact, written offline and synced like any other
//! record, read by the grid's worker and supervisors beside the
//! household's visits. A contact noting a 群众诉求 (`needs`) or 需跟进
//! (`follow_up`) joins the community's list of open needs.
//!
//! A contact names the household by id and carries the household's grid
//! and place as the roster gave them; the server checks that place is the
//! head's own building or unit and that the author is the signed-in head.

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::codes::VisitMethod;
use crate::household::Place;
use crate::{Reason, Result, shape};

/// The `kind` of a contact document.
pub const KIND: &str = "contact";
/// The contact document's schema version.
pub const SCHEMA: u64 = 1;

/// A contact as stored: who, which household, how and what was noted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Contact {
    /// Always [`KIND`].
    pub kind: String,
    /// [`SCHEMA`].
    pub schema: u64,
    /// Document id.
    pub id: String,
    /// The household's grid code.
    pub grid: String,
    /// The household's document id.
    pub household: String,
    /// The household's place, as the roster gave it.
    pub place: Place,
    /// User id of the head who made the contact.
    pub by: String,
    /// Their role code (`building_head`, `unit_head`).
    pub role: String,
    /// When (ms since the epoch).
    pub at: i64,
    /// How ([`VisitMethod`] code).
    pub method: String,
    /// What was found.
    pub findings: String,
    /// 群众诉求: what the household asks for.
    pub needs: String,
    /// 需跟进: the grid worker should follow up.
    pub follow_up: bool,
}

/// A contact to record: the household (from the roster) and what was noted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewContact {
    /// The household's document id, as in the roster.
    pub household: String,
    /// How ([`VisitMethod`] code; empty means in person).
    pub method: String,
    /// What was found.
    pub findings: String,
    /// 群众诉求.
    pub needs: String,
    /// 需跟进.
    pub follow_up: bool,
}

impl Contact {
    /// Check every field (the phone before it records, the server on push).
    pub fn validate(&self, clock: &Clock) -> Result<()> {
        if self.household.trim().is_empty() {
            return Err(Reason::new("请选择住户", "household must be given").on("household"));
        }
        if self.by.trim().is_empty() {
            return Err(Reason::new("缺少联系人", "by must not be empty").on("by"));
        }
        if self.place.building.trim().is_empty() {
            return Err(
                Reason::new("楼栋不能为空", "building must not be empty").on("place.building")
            );
        }
        VisitMethod::from_code(&self.method).map_err(|r| r.on("method"))?;
        if self.at <= 0 {
            return Err(Reason::new("联系时间无效", "contact time is not set").on("at"));
        }
        if self.at > clock.now_ms() + crate::household::CLOCK_SKEW_MS {
            return Err(
                Reason::new("联系时间不能晚于现在", "contact time is in the future").on("at"),
            );
        }
        for (name, text) in [("findings", &self.findings), ("needs", &self.needs)] {
            if text.chars().count() > shape::TEXT_CHARS {
                return Err(Reason::new(
                    format!("内容过长（最多{}字）", shape::TEXT_CHARS),
                    format!("text longer than {} characters", shape::TEXT_CHARS),
                )
                .on(name));
            }
        }
        if self.findings.trim().is_empty() && self.needs.trim().is_empty() {
            return Err(
                Reason::new("请填写情况或群众诉求", "findings or needs must be given")
                    .on("findings"),
            );
        }
        Ok(())
    }
}

/// Where a building or unit head serves: a building of a compound in a
/// grid, or one unit of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Post {
    /// Grid code.
    pub grid: String,
    /// 小区.
    pub compound: String,
    /// 楼栋.
    pub building: String,
    /// 单元 (unit heads only; empty for a building head).
    pub unit: String,
}

impl Post {
    /// Whether a household or contact at `grid`/`place` is within the post.
    pub fn covers(&self, grid: &str, place: &Place) -> bool {
        grid == self.grid
            && place.compound.trim() == self.compound.trim()
            && place.building.trim() == self.building.trim()
            && (self.unit.trim().is_empty() || place.unit.trim() == self.unit.trim())
    }

    /// The post in words: 幸福小区 3号楼 2单元.
    pub fn describe(&self) -> String {
        [&self.compound, &self.building, &self.unit]
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The households of a head's building or unit, as the server gives them:
/// no ID numbers, names and phones masked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Roster {
    /// The head's building or unit.
    pub post: Post,
    /// When the server made it (ms).
    pub at: i64,
    /// The households, by room.
    pub households: Vec<RosterHousehold>,
}

/// One household of a roster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RosterHousehold {
    /// Document id (what a contact names).
    pub id: String,
    /// Grid code.
    pub grid: String,
    /// Place.
    pub place: Place,
    /// The people living there.
    pub residents: Vec<RosterResident>,
}

/// One resident of a roster household, masked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RosterResident {
    /// The name masked (张*明).
    pub name: String,
    /// Sex code.
    pub sex: Option<String>,
    /// Age in whole years, when the birth date is known.
    pub age: Option<u32>,
    /// Relation to the head of household (code).
    pub relation: Option<String>,
    /// Attention tags that are not sensitive (独居老人, 高龄老人, …).
    pub tags: Vec<String>,
    /// The phone masked (138****5678).
    pub phone: Option<String>,
}

impl Roster {
    /// The household `id`, if it is on the roster.
    pub fn household(&self, id: &str) -> Option<&RosterHousehold> {
        self.households.iter().find(|h| h.id == id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn contact() -> Contact {
        Contact {
            kind: KIND.into(),
            schema: SCHEMA,
            id: "c1".into(),
            grid: "110105001001001".into(),
            household: "h1".into(),
            place: Place {
                compound: "幸福小区".into(),
                building: "3号楼".into(),
                unit: "2单元".into(),
                room: "301".into(),
                ..Place::default()
            },
            by: "u1".into(),
            role: "building_head".into(),
            at: 1_700_000_000_000,
            method: "in_person".into(),
            findings: "老人身体尚可".into(),
            needs: String::new(),
            follow_up: false,
        }
    }

    #[test]
    fn a_contact_is_checked_field_by_field() {
        let clock = Clock::Fixed(1_700_000_100_000);
        assert!(contact().validate(&clock).is_ok());
        let field = |c: Contact| match c.validate(&clock) {
            Err(crate::Error::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(
            field(Contact {
                method: "pigeon".into(),
                ..contact()
            }),
            "method"
        );
        assert_eq!(
            field(Contact {
                at: 1_800_000_000_000,
                ..contact()
            }),
            "at"
        );
        assert_eq!(
            field(Contact {
                findings: " ".into(),
                ..contact()
            }),
            "findings"
        );
        assert_eq!(
            field(Contact {
                household: String::new(),
                ..contact()
            }),
            "household"
        );
    }

    #[test]
    fn ages_count_whole_years() {
        use crate::household::age_on;
        use time::macros::date;
        let today = date!(2026 - 12 - 04);
        assert_eq!(age_on("1950-12-04", today), Some(76));
        assert_eq!(age_on("1950-12-05", today), Some(75));
        assert_eq!(age_on("2026-12-05", today), None);
        assert_eq!(age_on("1950-13-01", today), None);
        assert_eq!(age_on("", today), None);
    }

    #[test]
    fn a_post_covers_its_building_or_its_unit_only() {
        let c = contact();
        let building = Post {
            grid: c.grid.clone(),
            compound: "幸福小区".into(),
            building: "3号楼".into(),
            unit: String::new(),
        };
        assert!(building.covers(&c.grid, &c.place));
        let unit = Post {
            unit: "1单元".into(),
            ..building.clone()
        };
        assert!(!unit.covers(&c.grid, &c.place));
        assert!(!building.covers("110105001001002", &c.place));
        let next_door = Place {
            building: "4号楼".into(),
            ..c.place.clone()
        };
        assert!(!building.covers(&c.grid, &next_door));
        assert_eq!(unit.describe(), "幸福小区 3号楼 1单元");
    }
}
