//! The household document (户): its place, house facts, package-holder, the
//! residents living there (the resident ledger, 居民台账) and its visit log.
//!
//! One household is one Automerge document. Residents and visits are maps
//! keyed by UUID inside it, so residents added and visits appended on two
//! phones at once all survive a merge. Removing a resident is a flag, never a
//! delete of the entry, so an edit made concurrently on another phone is kept
//! (see docs/adr/0002-conflict-rules.md).
//!
//! The structs here are the document's shape: lenient when read (codes are
//! strings, so a code added by a newer app never makes a household
//! unreadable), strict when written (`validate`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codes::{
    AttentionTag, Ethnicity, HouseUse, Relation, ResidenceStatus, Sex, VisitMethod, VisitorRole,
};
use crate::id_number::{IdNumber, validate_phone};
use crate::shape;
use crate::tagset::TagSet;
use crate::{Error, Reason, Result};

mod validate;

pub(crate) use crate::clock::CLOCK_SKEW_MS;
use crate::clock::Clock;

/// Where a household lives, down to the room: 片区 / 小区 / 楼栋 / 单元 / 室.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Place {
    /// 片区 area (may be empty when the grid has no areas).
    pub area: String,
    /// 小区/院落 compound.
    pub compound: String,
    /// 楼栋 building.
    pub building: String,
    /// 单元 unit (may be empty for a building without units).
    pub unit: String,
    /// 室 room number.
    pub room: String,
}

impl Place {
    /// The address key used to spot duplicate households: trimmed parts joined.
    pub fn address_key(&self) -> String {
        [
            &self.area,
            &self.compound,
            &self.building,
            &self.unit,
            &self.room,
        ]
        .iter()
        .map(|s| s.trim())
        .collect::<Vec<_>>()
        .join("/")
    }
}

/// Facts about the dwelling.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HouseFacts {
    /// Use of the dwelling, a [`HouseUse`] code.
    pub usage: Option<String>,
    /// Ownership: 自有 own / 租赁 rent / 公房 public / 其他 other, free text.
    pub ownership: Option<String>,
    /// Floor area in square metres.
    pub area_m2: Option<f64>,
    /// Number of people actually living there.
    pub occupants: Option<u32>,
}

/// A person in the resident ledger.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resident {
    /// 姓名.
    pub name: String,
    /// 公民身份号码, 18 characters (GB 11643).
    pub id_number: Option<String>,
    /// Sex, a GB/T 2261.1 code.
    pub sex: Option<String>,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// Ethnicity, a GB 3304 code.
    pub ethnicity: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Relation to the head of household, a GB/T 4761 code.
    pub relation: Option<String>,
    /// Residence status, a [`ResidenceStatus`] code.
    pub status: Option<String>,
    /// Attention tags, [`AttentionTag`] codes.
    pub tags: TagSet,
    /// Moved in, `YYYY-MM-DD`.
    pub moved_in: Option<String>,
    /// Moved out, `YYYY-MM-DD`.
    pub moved_out: Option<String>,
    /// Removed from the ledger (a flag, so concurrent edits are kept).
    pub removed: bool,
    /// Free-text note.
    pub note: Option<String>,
    /// Set when this entry was found to be the same person as another entry of
    /// the household and merged into it: the survivor's key.
    pub merged_into: Option<String>,
}

/// One contact with a household: a visit, a phone call, a message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Visit {
    /// The user who made the contact.
    pub visitor: String,
    /// Their role, a [`VisitorRole`] code.
    pub role: String,
    /// When, milliseconds since the Unix epoch.
    pub at: i64,
    /// How, a [`VisitMethod`] code.
    pub method: String,
    /// What was found.
    pub findings: String,
    /// Needs and opinions collected (社情民意).
    pub needs: String,
    /// Whether a follow-up is wanted.
    pub follow_up: bool,
    /// Latitude, WGS-84.
    pub lat: Option<f64>,
    /// Longitude, WGS-84.
    pub lon: Option<f64>,
    /// The visit this entry corrects (its key in the same household). A
    /// recorded visit is never edited or removed: a correction is a new
    /// entry that refers to it, so the log reads like an account book.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrects: Option<String>,
}

/// A household document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Household {
    /// Always `"household"`.
    pub kind: String,
    /// Document schema version.
    pub schema: u64,
    /// The document id (UUID v7).
    pub id: String,
    /// The grid code this household belongs to (its scope).
    pub grid: String,
    /// Where it is.
    pub place: Place,
    /// House facts.
    pub house: HouseFacts,
    /// The package-holder (包保责任人) user id, if any.
    pub holder: Option<String>,
    /// Household tags (free codes, e.g. 出租户).
    pub tags: TagSet,
    /// Residents keyed by UUID.
    pub residents: BTreeMap<String, Resident>,
    /// Visits keyed by UUID.
    pub visits: BTreeMap<String, Visit>,
    /// Who created the record.
    pub created_by: String,
    /// When, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Set when this household was a duplicate merged into another: the
    /// survivor's id. The document stays as a tombstone.
    pub merged_into: Option<String>,
    /// Heads (hex) of this document when it was merged; edits after them are
    /// forwarded to the survivor.
    pub merged_heads: Vec<String>,
    /// Households a person confirmed are NOT duplicates of this one.
    pub distinct_from: TagSet,
}

/// The kind tag of household documents.
pub const KIND: &str = "household";
/// The schema version written by this code.
pub const SCHEMA: u64 = 1;

impl Household {
    /// Visits in time order (oldest first), ties broken by key.
    pub fn visits_in_order(&self) -> Vec<(&str, &Visit)> {
        let mut v: Vec<_> = self.visits.iter().map(|(k, v)| (k.as_str(), v)).collect();
        v.sort_by(|a, b| a.1.at.cmp(&b.1.at).then(a.0.cmp(b.0)));
        v
    }

    /// Residents still in the ledger (not removed, not merged away).
    pub fn current_residents(&self) -> impl Iterator<Item = (&str, &Resident)> {
        self.residents
            .iter()
            .filter(|(_, r)| !r.removed && r.merged_into.is_none())
            .map(|(k, r)| (k.as_str(), r))
    }

    /// The time of the latest contact of any kind, if any.
    pub fn last_visit_at(&self) -> Option<i64> {
        self.visits.values().map(|v| v.at).max()
    }

    /// The time of the latest contact made by the household's package-holder.
    pub fn last_holder_contact_at(&self) -> Option<i64> {
        let holder = self.holder.as_deref()?;
        self.visits
            .values()
            .filter(|v| v.visitor == holder)
            .map(|v| v.at)
            .max()
    }
}

/// What a caller gives to create a household.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewHousehold {
    /// Grid code (15 digits); the grid must be known to the store.
    pub grid: String,
    /// Place inside the grid.
    pub place: Place,
    /// House facts.
    pub house: HouseFacts,
    /// Package-holder user id.
    pub holder: Option<String>,
    /// Household tags.
    pub tags: TagSet,
    /// Residents recorded at once, with the household.
    pub residents: Vec<Resident>,
}

impl Resident {
    /// A resident with just a name; fill the rest with struct update syntax.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// The ID number masked for lists (110105********1234).
    pub fn id_number_masked(&self) -> Option<String> {
        self.id_number.as_deref().map(|s| match IdNumber::parse(s) {
            Ok(id) => id.masked(),
            Err(_) => "*".repeat(s.chars().count()),
        })
    }

    /// Check every field; `field` names are prefixed with `prefix`.
    pub fn validate(&self, prefix: &str, clock: &Clock) -> Result<()> {
        let f = |name: &str| format!("{prefix}{name}");
        let name = self.name.trim();
        if name.is_empty() {
            return Err(Reason::new("姓名不能为空", "name must not be empty").on(f("name")));
        }
        if name.chars().count() > shape::NAME_CHARS {
            return Err(Reason::new(
                format!("姓名过长（最多{}字）", shape::NAME_CHARS),
                format!("name longer than {} characters", shape::NAME_CHARS),
            )
            .on(f("name")));
        }
        let id = match &self.id_number {
            Some(s) => Some(IdNumber::parse(s).map_err(|r| r.on(f("id_number")))?),
            None => None,
        };
        if let Some(id) = &id
            && id.birth_date() > clock.today()
        {
            return Err(
                Reason::new("出生日期不能晚于今天", "birth date is in the future")
                    .on(f("id_number")),
            );
        }
        if let Some(code) = &self.sex {
            let sex = Sex::from_code(code).map_err(|r| r.on(f("sex")))?;
            if let Some(id) = &id
                && matches!(sex, Sex::Male | Sex::Female)
                && sex != id.sex()
            {
                return Err(Reason::new(
                    "性别与身份证号码不一致",
                    "sex does not agree with the ID number",
                )
                .on(f("sex")));
            }
        }
        if let Some(d) = &self.birth_date {
            let date = validate::date(d, clock).map_err(|r| r.on(f("birth_date")))?;
            if let Some(id) = &id
                && date != id.birth_date()
            {
                return Err(Reason::new(
                    "出生日期与身份证号码不一致",
                    "birth date does not agree with the ID number",
                )
                .on(f("birth_date")));
            }
        }
        if let Some(code) = &self.ethnicity {
            Ethnicity::from_code(code).map_err(|r| r.on(f("ethnicity")))?;
        }
        if let Some(p) = &self.phone {
            validate_phone(p).map_err(|r| r.on(f("phone")))?;
        }
        if let Some(code) = &self.relation {
            Relation::from_code(code).map_err(|r| r.on(f("relation")))?;
        }
        if let Some(code) = &self.status {
            ResidenceStatus::from_code(code).map_err(|r| r.on(f("status")))?;
        }
        for tag in self.tags.iter() {
            AttentionTag::from_code(tag).map_err(|r| r.on(f("tags")))?;
        }
        let moved_in = match &self.moved_in {
            Some(d) => Some(validate::date(d, clock).map_err(|r| r.on(f("moved_in")))?),
            None => None,
        };
        if let Some(d) = &self.moved_out {
            let out = validate::date(d, clock).map_err(|r| r.on(f("moved_out")))?;
            if moved_in.is_some_and(|i| out < i) {
                return Err(
                    Reason::new("迁出日期早于迁入日期", "moved out before moving in")
                        .on(f("moved_out")),
                );
            }
        }
        if self
            .note
            .as_ref()
            .is_some_and(|n| n.chars().count() > shape::NOTE_CHARS)
        {
            return Err(Reason::new(
                format!("备注过长（最多{}字）", shape::NOTE_CHARS),
                format!("note longer than {} characters", shape::NOTE_CHARS),
            )
            .on(f("note")));
        }
        if self.tags.0.len() > shape::TAGS {
            return Err(Reason::new(
                format!("标签过多（最多{}个）", shape::TAGS),
                format!("more than {} tags", shape::TAGS),
            )
            .on(f("tags")));
        }
        Ok(())
    }

    /// Normalise what validation accepts in more than one spelling
    /// (lower-case x in ID numbers, spaces around phone numbers).
    pub fn normalise(&mut self) {
        if let Some(id) = &self.id_number
            && let Ok(id) = IdNumber::parse(id)
        {
            self.id_number = Some(id.as_str().to_string());
        }
        if let Some(p) = &self.phone
            && let Ok(p) = validate_phone(p)
        {
            self.phone = Some(p);
        }
        self.name = self.name.trim().to_string();
        if self.sex.is_none()
            && let Some(id) = self
                .id_number
                .as_deref()
                .and_then(|s| IdNumber::parse(s).ok())
        {
            self.sex = Some(id.sex().code().to_string());
        }
        if self.birth_date.is_none()
            && let Some(id) = self
                .id_number
                .as_deref()
                .and_then(|s| IdNumber::parse(s).ok())
        {
            self.birth_date = Some(validate::format_date(id.birth_date()));
        }
    }
}

/// Age in whole years on `today` of someone born on `birth_date`
/// (`YYYY-MM-DD`); `None` when the date does not read or is after today.
pub fn age_on(birth_date: &str, today: time::Date) -> Option<u32> {
    let mut parts = birth_date.trim().splitn(3, '-');
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u8 = parts.next()?.parse().ok()?;
    let d: u8 = parts.next()?.parse().ok()?;
    let born = time::Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()?;
    if born > today {
        return None;
    }
    let mut age = today.year() - born.year();
    if (today.month() as u8, today.day()) < (born.month() as u8, born.day()) {
        age -= 1;
    }
    u32::try_from(age).ok()
}

impl Visit {
    /// Check every field.
    pub fn validate(&self, clock: &Clock) -> Result<()> {
        if self.visitor.trim().is_empty() {
            return Err(Reason::new("走访人不能为空", "visitor must not be empty").on("visitor"));
        }
        VisitorRole::from_code(&self.role).map_err(|r| r.on("role"))?;
        VisitMethod::from_code(&self.method).map_err(|r| r.on("method"))?;
        if self.at <= 0 {
            return Err(Reason::new("走访时间无效", "visit time is not set").on("at"));
        }
        if self.at > clock.now_ms() + CLOCK_SKEW_MS {
            return Err(
                Reason::new("走访时间不能晚于现在", "visit time is in the future").on("at"),
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
        match (self.lat, self.lon) {
            (None, None) => {}
            (Some(lat), Some(lon)) => {
                if !(-90.0..=90.0).contains(&lat) {
                    return Err(Reason::new("纬度超出范围", "latitude out of range").on("lat"));
                }
                if !(-180.0..=180.0).contains(&lon) {
                    return Err(Reason::new("经度超出范围", "longitude out of range").on("lon"));
                }
            }
            (Some(_), None) => return Err(Reason::new("缺少经度", "longitude missing").on("lon")),
            (None, Some(_)) => return Err(Reason::new("缺少纬度", "latitude missing").on("lat")),
        }
        Ok(())
    }
}

impl HouseFacts {
    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        if let Some(code) = &self.usage {
            HouseUse::from_code(code).map_err(|r| r.on("house.usage"))?;
        }
        if let Some(a) = self.area_m2
            && !(a.is_finite() && a > 0.0 && a < 100_000.0)
        {
            return Err(Reason::new(
                "面积须为正数",
                "area must be a positive number of square metres",
            )
            .on("house.area_m2"));
        }
        if self.occupants.is_some_and(|n| n > 500) {
            return Err(
                Reason::new("居住人数不合理", "implausible number of occupants")
                    .on("house.occupants"),
            );
        }
        Ok(())
    }
}

/// Refuse edits of a household that was merged into another.
pub(crate) fn ensure_live(h: &Household) -> Result<()> {
    match &h.merged_into {
        Some(survivor) => Err(Error::Merged {
            id: h.id.clone(),
            survivor: survivor.clone(),
        }),
        None => Ok(()),
    }
}
