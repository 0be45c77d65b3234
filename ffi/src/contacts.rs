//! 楼栋长 and 单元长 on the phone (the 小三级 below the grid): the masked
//! roster of their building or unit, as the last sync brought it, and the
//! contacts they record at the door, offline, synced like any record.
//! Thin wrappers over gridsync-core's `Store` roster and contact functions.

use gridsync_core::contact as core_contact;

use crate::client::{Gridsync, lock};
use crate::error::Result;

/// The households of a head's building or unit; names and phones masked,
/// no ID numbers (the head never holds the ledger).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BuildingRoster {
    /// Grid code.
    pub grid: String,
    /// 小区 and 楼栋 (and 单元 for a unit head), e.g. 幸福小区 3号楼.
    pub post: String,
    /// When the server made it (ms since the epoch).
    pub at: i64,
    /// The households, by room.
    pub households: Vec<RosterHousehold>,
}

/// One household of the roster.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RosterHousehold {
    /// Its id: what `logContact` names.
    pub id: String,
    /// 单元.
    pub unit: String,
    /// 室.
    pub room: String,
    /// The people living there, masked.
    pub residents: Vec<RosterResident>,
}

/// One resident of a roster household.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RosterResident {
    /// Name masked: 张*明.
    pub name: String,
    /// Sex code (`codes(CodeTable.SEX)`).
    pub sex: Option<String>,
    /// Age in years, if the birth date is known.
    pub age: Option<u32>,
    /// Relation to the head of household (code).
    pub relation: Option<String>,
    /// Attention tags a head may see (独居老人, 高龄老人, …; never the
    /// sensitive ones), as codes.
    pub tags: Vec<String>,
    /// Phone masked: 138****5678.
    pub phone: Option<String>,
}

/// A contact to record.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct NewContact {
    /// The household's id, from the roster.
    pub household: String,
    /// `in_person` 入户走访 (when empty), `phone` 电话沟通, `message`
    /// 信息推送, `other` 其他.
    #[uniffi(default)]
    pub method: String,
    /// What was found.
    #[uniffi(default)]
    pub findings: String,
    /// 群众诉求: what the household asks for.
    #[uniffi(default)]
    pub needs: String,
    /// 需跟进: the grid worker should follow up.
    #[uniffi(default)]
    pub follow_up: bool,
}

/// A recorded contact.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ContactRow {
    /// Its id.
    pub id: String,
    /// The household's id.
    pub household: String,
    /// 单元 and 室 of the household, e.g. 2单元 301.
    pub place: String,
    /// When (ms since the epoch).
    pub at: i64,
    /// How (code).
    pub method: String,
    /// What was found.
    pub findings: String,
    /// 群众诉求.
    pub needs: String,
    /// 需跟进.
    pub follow_up: bool,
}

#[uniffi::export]
impl Gridsync {
    /// The roster of the signed-in 楼栋长/单元长's building or unit, as
    /// the last sync brought it (every sync refreshes it); `None` before
    /// the first sync or for other roles.
    pub fn building_roster(&self) -> Result<Option<BuildingRoster>> {
        let roster = lock(&self.store).roster()?;
        Ok(roster.map(|r| BuildingRoster {
            grid: r.post.grid.clone(),
            post: r.post.describe(),
            at: r.at,
            households: r
                .households
                .into_iter()
                .map(|h| RosterHousehold {
                    id: h.id,
                    unit: h.place.unit,
                    room: h.place.room,
                    residents: h
                        .residents
                        .into_iter()
                        .map(|p| RosterResident {
                            name: p.name,
                            sex: p.sex,
                            age: p.age,
                            relation: p.relation,
                            tags: p.tags,
                            phone: p.phone,
                        })
                        .collect(),
                })
                .collect(),
        }))
    }

    /// Record a contact with a household of the roster, offline; returns
    /// its id. Throws `Invalid` naming the field (`household` when it is
    /// not on the roster, `method`, `findings` when nothing was noted).
    pub fn log_contact(&self, contact: NewContact) -> Result<String> {
        let r = lock(&self.store).log_contact(core_contact::NewContact {
            household: contact.household,
            method: contact.method,
            findings: contact.findings,
            needs: contact.needs,
            follow_up: contact.follow_up,
        });
        self.edited(r)
    }

    /// The contacts recorded on this account, newest first.
    pub fn contacts(&self) -> Result<Vec<ContactRow>> {
        let all = lock(&self.store).contacts()?;
        Ok(all
            .into_iter()
            .map(|c| ContactRow {
                place: [c.place.unit.trim(), c.place.room.trim()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" "),
                id: c.id,
                household: c.household,
                at: c.at,
                method: c.method,
                findings: c.findings,
                needs: c.needs,
                follow_up: c.follow_up,
            })
            .collect())
    }
}
