//! Recording the territory and the resident ledger: grids and their places,
//! households, residents and visits, each edit validated before it touches
//! the document.

use automerge::transaction::{Transactable, Transaction};
use automerge::{ObjId, ObjType, ReadDoc, Value};
use autosurgeon::{hydrate, hydrate_prop, reconcile, reconcile_prop};
use rusqlite::OptionalExtension;

use super::Store;
use crate::codes::VisitorRole;
use crate::doc::{self, DocId};
use crate::grid::{self, Grid, NewGrid};
use crate::household::{self, HouseFacts, Household, NewHousehold, Place, Resident, Visit};
use crate::tagset::TagSet;
use crate::{Error, Reason, Result};

/// The fields of a household a person may edit directly.
#[derive(Debug, Clone, PartialEq)]
pub struct HouseholdFields {
    /// Where it is (must stay inside the grid).
    pub place: Place,
    /// House facts.
    pub house: HouseFacts,
    /// Package-holder user id.
    pub holder: Option<String>,
    /// Household tags.
    pub tags: TagSet,
}

impl Store {
    /// Record a grid. Its code must be new to this store.
    pub fn create_grid(&mut self, new: NewGrid) -> Result<DocId> {
        new.validate()?;
        if self.grid_doc_id(&new.code)?.is_some() {
            return Err(
                Reason::new("该网格已存在", "a grid with this code already exists").on("code"),
            );
        }
        let id = doc::new_id();
        let grid = Grid {
            kind: grid::KIND.into(),
            schema: grid::SCHEMA,
            id: id.clone(),
            grid: new.code.clone(),
            name: new.name.trim().into(),
            community: new.community.trim().into(),
            street: new.street.trim().into(),
            places: TagSet::default(),
        };
        self.create_doc(&id, grid::KIND, &new.code, "create_grid", |tx| {
            reconcile(tx, &grid)?;
            Ok(())
        })?;
        Ok(id)
    }

    fn grid_doc_id(&self, code: &str) -> Result<Option<DocId>> {
        Ok(self
            .conn
            .prepare_cached("SELECT doc_id FROM p_grids WHERE code = ?1")?
            .query_row([code], |r| r.get(0))
            .optional()?)
    }

    /// The grid with this code.
    pub fn grid(&mut self, code: &str) -> Result<Grid> {
        let id = self.grid_doc_id(code)?.ok_or_else(|| {
            Reason::new("本机没有该网格", "unknown grid: not in this store").on("grid")
        })?;
        self.with_doc(&id, |d| Ok(hydrate(d)?))
    }

    /// Add a place (area / compound / building / unit) to a grid.
    pub fn add_place(
        &mut self,
        code: &str,
        area: &str,
        compound: &str,
        building: &str,
        unit: &str,
    ) -> Result<()> {
        grid::check_new_place(area, compound, building, unit)?;
        let id = self.grid_doc_id(code)?.ok_or_else(|| {
            Reason::new("本机没有该网格", "unknown grid: not in this store").on("grid")
        })?;
        let key = grid::place_key(area, compound, building, unit);
        self.edit_doc(&id, "add_place", |tx| {
            let places = map_obj(tx, &automerge::ROOT, "places")?;
            if tx.get(&places, key.as_str())?.is_none() {
                tx.put(&places, key.as_str(), true)?;
            }
            Ok(())
        })
    }

    /// Record a new household, with the residents given, in its grid.
    pub fn create_household(&mut self, new: NewHousehold) -> Result<DocId> {
        let grid = self.grid(&new.grid)?;
        grid.check_place(&new.place)?;
        new.house.validate()?;
        check_holder(&new.holder)?;
        let mut residents = std::collections::BTreeMap::new();
        for (i, r) in new.residents.into_iter().enumerate() {
            let mut r = r;
            r.normalise();
            r.validate(&format!("residents[{i}]."), &self.clock)?;
            residents.insert(doc::new_id(), r);
        }
        let id = doc::new_id();
        let h = Household {
            kind: household::KIND.into(),
            schema: household::SCHEMA,
            id: id.clone(),
            grid: new.grid.clone(),
            place: trim_place(new.place),
            house: new.house,
            holder: new.holder,
            tags: new.tags,
            residents,
            visits: Default::default(),
            created_by: self.author.user.clone(),
            created_at: self.clock.now_ms(),
            merged_into: None,
            merged_heads: Vec::new(),
            distinct_from: TagSet::default(),
        };
        self.create_doc(&id, household::KIND, &new.grid, "create_household", |tx| {
            reconcile(tx, &h)?;
            Ok(())
        })?;
        Ok(id)
    }

    /// A household, with its residents and visits.
    pub fn household(&mut self, id: &str) -> Result<Household> {
        let h: Household = self.with_doc(id, |d| Ok(hydrate(d)?))?;
        if h.kind != household::KIND {
            return Err(Error::NotFound {
                kind: "household",
                id: id.into(),
            });
        }
        Ok(h)
    }

    /// Edit a household's own fields. `f` gets the current values; what it
    /// leaves changed is validated and written, the rest untouched.
    pub fn edit_household(&mut self, id: &str, f: impl FnOnce(&mut HouseholdFields)) -> Result<()> {
        let h = self.household(id)?;
        household::ensure_live(&h)?;
        let mut fields = HouseholdFields {
            place: h.place.clone(),
            house: h.house.clone(),
            holder: h.holder.clone(),
            tags: h.tags.clone(),
        };
        f(&mut fields);
        fields.place = trim_place(fields.place);
        if fields.place != h.place {
            self.grid(&h.grid)?.check_place(&fields.place)?;
        }
        fields.house.validate()?;
        check_holder(&fields.holder)?;
        self.edit_doc(id, "edit_household", |tx| {
            ensure_live_tx(tx)?;
            reconcile_prop(tx, automerge::ROOT, "place", &fields.place)?;
            reconcile_prop(tx, automerge::ROOT, "house", &fields.house)?;
            reconcile_prop(tx, automerge::ROOT, "holder", &fields.holder)?;
            reconcile_prop(tx, automerge::ROOT, "tags", &fields.tags)?;
            Ok(())
        })
    }

    /// Add a resident to a household; returns the resident's id.
    pub fn add_resident(&mut self, household_id: &str, resident: Resident) -> Result<String> {
        let mut r = resident;
        r.normalise();
        r.validate("", &self.clock)?;
        let rid = doc::new_id();
        self.edit_doc(household_id, "add_resident", |tx| {
            ensure_household_tx(tx)?;
            let residents = map_obj(tx, &automerge::ROOT, "residents")?;
            reconcile_prop(tx, &residents, rid.as_str(), &r)?;
            Ok(())
        })?;
        Ok(rid)
    }

    /// One resident of a household.
    pub fn resident(&mut self, household_id: &str, resident_id: &str) -> Result<Resident> {
        let h = self.household(household_id)?;
        h.residents
            .get(resident_id)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                kind: "resident",
                id: resident_id.into(),
            })
    }

    /// Edit a resident: `f` gets the current record; the result is validated
    /// and only the fields it changed are written.
    pub fn update_resident(
        &mut self,
        household_id: &str,
        resident_id: &str,
        f: impl FnOnce(&mut Resident),
    ) -> Result<()> {
        let clock = self.clock;
        self.edit_doc(household_id, "update_resident", |tx| {
            ensure_live_tx(tx)?;
            let residents = map_obj(tx, &automerge::ROOT, "residents")?;
            let mut r = existing_resident(tx, &residents, resident_id)?;
            f(&mut r);
            r.normalise();
            r.validate("", &clock)?;
            reconcile_prop(tx, &residents, resident_id, &r)?;
            Ok(())
        })
    }

    /// Take a resident off the ledger (moved away, deceased, entered by
    /// mistake). The entry stays, flagged, so nothing typed about them on
    /// another phone at the same time is lost; [`Store::restore_resident`]
    /// undoes it.
    pub fn remove_resident(
        &mut self,
        household_id: &str,
        resident_id: &str,
        moved_out: Option<String>,
    ) -> Result<()> {
        self.update_resident(household_id, resident_id, |r| {
            r.removed = true;
            if moved_out.is_some() {
                r.moved_out = moved_out;
            }
        })
    }

    /// Put a removed resident back on the ledger.
    pub fn restore_resident(&mut self, household_id: &str, resident_id: &str) -> Result<()> {
        self.update_resident(household_id, resident_id, |r| r.removed = false)
    }

    /// Record a visit (or call, or message). An empty `visitor` or `role` is
    /// filled with the signed-in author. Returns the visit's id.
    pub fn add_visit(&mut self, household_id: &str, visit: Visit) -> Result<String> {
        let mut v = visit;
        if v.visitor.trim().is_empty() {
            v.visitor = self.author.user.clone();
        }
        if v.role.trim().is_empty() {
            v.role = match VisitorRole::from_code(&self.author.role) {
                Ok(r) => r.code().to_string(),
                Err(_) => VisitorRole::Other.code().to_string(),
            };
        }
        v.validate(&self.clock)?;
        let vid = doc::new_id();
        self.edit_doc(household_id, "add_visit", |tx| {
            ensure_household_tx(tx)?;
            let visits = map_obj(tx, &automerge::ROOT, "visits")?;
            reconcile_prop(tx, &visits, vid.as_str(), &v)?;
            Ok(())
        })?;
        Ok(vid)
    }
}

fn trim_place(p: Place) -> Place {
    Place {
        area: p.area.trim().into(),
        compound: p.compound.trim().into(),
        building: p.building.trim().into(),
        unit: p.unit.trim().into(),
        room: p.room.trim().into(),
    }
}

fn check_holder(holder: &Option<String>) -> Result<()> {
    if holder.as_ref().is_some_and(|h| h.trim().is_empty()) {
        return Err(Reason::new(
            "包保责任人不能为空字符串",
            "holder must be a user id or absent",
        )
        .on("holder"));
    }
    Ok(())
}

/// The map at `key` of `obj`, created if absent (documents from older apps).
pub(super) fn map_obj(tx: &mut Transaction<'_>, obj: &ObjId, key: &str) -> Result<ObjId> {
    match tx.get(obj, key)? {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Ok(tx.put_object(obj, key, ObjType::Map)?),
    }
}

pub(super) fn existing_resident(
    tx: &Transaction<'_>,
    residents: &ObjId,
    resident_id: &str,
) -> Result<Resident> {
    match tx.get(residents, resident_id)? {
        Some((Value::Object(ObjType::Map), _)) => Ok(hydrate_prop(tx, residents, resident_id)?),
        _ => Err(Error::NotFound {
            kind: "resident",
            id: resident_id.into(),
        }),
    }
}

fn ensure_household_tx(tx: &Transaction<'_>) -> Result<()> {
    if doc::kind_of(tx).as_deref() != Some(household::KIND) {
        return Err(Reason::new("该记录不是住户", "document is not a household").on("household_id"));
    }
    ensure_live_tx(tx)
}

pub(super) fn ensure_live_tx(tx: &Transaction<'_>) -> Result<()> {
    let merged: Option<String> = hydrate_prop(tx, automerge::ROOT, "merged_into").unwrap_or(None);
    match merged {
        Some(survivor) => Err(Error::Merged {
            id: doc::string_at(tx, &automerge::ROOT, "id").unwrap_or_default(),
            survivor,
        }),
        None => Ok(()),
    }
}
