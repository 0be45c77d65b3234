//! Recording the territory and the resident ledger: grids and their places,
//! households, residents and visits, each edit validated before it touches
//! the document.

use automerge::transaction::{Transactable, Transaction};
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};
use rusqlite::OptionalExtension;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Store;
use crate::codes::Op;
use crate::codes::VisitorRole;
use crate::doc::{self, DocId};
use crate::grid::{self, Grid, NewGrid};
use crate::household::{self, HouseFacts, Household, NewHousehold, Place, Resident, Visit};
use crate::shape;
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
    /// Read document `id` as `D`, let `f` change it, then write only what
    /// changed, as one Automerge change. If `f` fails nothing is written.
    pub(crate) fn edit_typed<D, T>(
        &mut self,
        id: &str,
        op: &str,
        f: impl FnOnce(&mut D) -> Result<T>,
    ) -> Result<T>
    where
        D: Serialize + DeserializeOwned,
    {
        let old_json = self.with_doc(id, |d| Ok(doc::to_json(d, None)))?;
        let mut value: D =
            serde_json::from_value(old_json).map_err(|e| Error::Shape(e.to_string()))?;
        // Compare against what the type sees, so fields it does not know
        // (written by a newer app) are never touched.
        let old = to_json(&value)?;
        let out = f(&mut value)?;
        let new = to_json(&value)?;
        if old != new {
            // The same closed shape and limits the server holds documents
            // to: refused here, before anything is recorded.
            if let Some(kind) = new.get("kind").and_then(serde_json::Value::as_str) {
                shape::check(kind, &new)?;
            }
            self.edit_doc(id, op, |tx| {
                doc::write_diff(tx, &automerge::ROOT, &old, &new)
            })?;
        }
        Ok(out)
    }

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
        self.write(|s| {
            s.create_doc(&id, grid::KIND, &new.code, Op::CreateGrid.code(), |tx| {
                doc::write_new(tx, &automerge::ROOT, &grid)
            })?;
            // Households created in the same batch look the grid up.
            s.project_now(&id)
        })?;
        Ok(id)
    }

    fn grid_doc_id(&self, code: &str) -> Result<Option<DocId>> {
        self.catch_up()?;
        Ok(self
            .conn
            .prepare_cached("SELECT doc_id FROM p_grids WHERE code = ?1")?
            .query_row([code], |r| r.get(0))
            .optional()?)
    }

    fn known_grid(&self, code: &str) -> Result<DocId> {
        self.grid_doc_id(code)?.ok_or_else(|| {
            Reason::new("本机没有该网格", "unknown grid: not in this store").on("grid")
        })
    }

    /// The grid with this code.
    pub fn grid(&mut self, code: &str) -> Result<Grid> {
        let id = self.known_grid(code)?;
        self.with_doc(&id, |d| doc::read(d, None))
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
        let id = self.known_grid(code)?;
        let key = grid::place_key(area, compound, building, unit);
        self.edit_typed(&id, Op::AddPlace.code(), |g: &mut Grid| {
            g.places.insert(key);
            Ok(())
        })
    }

    /// Record a new household, with the residents given, in its grid.
    pub fn create_household(&mut self, new: NewHousehold) -> Result<DocId> {
        let grid = self.grid(&new.grid)?;
        let place = trim_place(new.place);
        grid.check_place(&place)?;
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
            place,
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
        shape::check(household::KIND, &to_json(&h)?)?;
        self.create_doc(
            &id,
            household::KIND,
            &new.grid,
            Op::CreateHousehold.code(),
            |tx| doc::write_new(tx, &automerge::ROOT, &h),
        )?;
        Ok(id)
    }

    /// A household, with its residents and visits.
    pub fn household(&mut self, id: &str) -> Result<Household> {
        let h: Household = self.with_doc(id, |d| doc::read(d, None))?;
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
        let current = self.household(id)?;
        let grid = self.grid(&current.grid).ok();
        self.edit_typed(id, Op::EditHousehold.code(), |h: &mut Household| {
            household::ensure_live(h)?;
            let mut fields = HouseholdFields {
                place: h.place.clone(),
                house: h.house.clone(),
                holder: h.holder.clone(),
                tags: h.tags.clone(),
            };
            f(&mut fields);
            fields.place = trim_place(fields.place);
            if fields.place != h.place {
                match &grid {
                    Some(g) => g.check_place(&fields.place)?,
                    None => {
                        return Err(Reason::new(
                            "本机没有该网格",
                            "unknown grid: not in this store",
                        )
                        .on("grid"));
                    }
                }
            }
            fields.house.validate()?;
            check_holder(&fields.holder)?;
            h.place = fields.place;
            h.house = fields.house;
            h.holder = fields.holder;
            h.tags = fields.tags;
            Ok(())
        })
    }

    /// Move a household to another grid (redrawn grids, a wrong grid at
    /// entry). Its place must exist in the new grid. Only supervisors may
    /// do this: the server refuses it from anyone else.
    pub fn move_household(&mut self, id: &str, grid_code: &str) -> Result<()> {
        let current = self.household(id)?;
        household::ensure_live(&current)?;
        let target = self.grid(grid_code)?;
        target.check_place(&current.place)?;
        let code = grid_code.to_string();
        self.edit_typed(id, Op::MoveHousehold.code(), |h: &mut Household| {
            h.grid = code;
            Ok(())
        })?;
        let grid = grid_code.to_string();
        self.write(|s| {
            s.conn
                .prepare_cached("UPDATE docs SET scope = ?2 WHERE id = ?1")?
                .execute(rusqlite::params![id, grid])?;
            Ok(())
        })
    }

    /// Add a resident to a household; returns the resident's id.
    pub fn add_resident(&mut self, household_id: &str, resident: Resident) -> Result<String> {
        let mut r = resident;
        r.normalise();
        r.validate("", &self.clock)?;
        let rid = doc::new_id();
        self.add_entry(
            household_id,
            Op::AddResident.code(),
            "residents",
            &rid,
            &r,
            |tx, residents| below_limit(tx, residents, shape::RESIDENTS_PER_HOUSEHOLD, "residents"),
        )?;
        Ok(rid)
    }

    /// Add `value` under a new key of the household's map `map`, without
    /// reading the rest of the document (the hot path of recording visits).
    /// `check` sees the map before the entry is added.
    fn add_entry<V: Serialize>(
        &mut self,
        household_id: &str,
        op: &str,
        map: &str,
        key: &str,
        value: &V,
        check: impl FnOnce(&Transaction<'_>, &ObjId) -> Result<()>,
    ) -> Result<()> {
        self.edit_doc(household_id, op, |tx| {
            ensure_household_tx(tx)?;
            let obj = map_obj(tx, &automerge::ROOT, map)?;
            check(tx, &obj)?;
            let child = tx.put_object(&obj, key, ObjType::Map)?;
            doc::write_new(tx, &child, value)
        })
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
        self.edit_typed(
            household_id,
            Op::UpdateResident.code(),
            |h: &mut Household| {
                household::ensure_live(h)?;
                let r = h
                    .residents
                    .get_mut(resident_id)
                    .ok_or_else(|| Error::NotFound {
                        kind: "resident",
                        id: resident_id.into(),
                    })?;
                let old_id = r.id_number.clone();
                f(r);
                if r.id_number != old_id {
                    // Sex and birth date derived from the old number follow the new one.
                    let derived = Resident {
                        id_number: old_id,
                        ..Resident::default()
                    };
                    let mut derived = derived;
                    derived.normalise();
                    if r.sex == derived.sex {
                        r.sex = None;
                    }
                    if r.birth_date == derived.birth_date {
                        r.birth_date = None;
                    }
                }
                r.normalise();
                r.validate("", &clock)
            },
        )
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

    /// Record a visit (or call, or message), always as the signed-in
    /// author: an empty `visitor` or `role` is filled with theirs, another
    /// person's is refused (the server refuses it too, so 包保 coverage
    /// cannot be recorded under someone else's name). A visit is never
    /// edited: to correct one, record a new visit with `corrects` naming
    /// it. Returns the visit's id.
    pub fn add_visit(&mut self, household_id: &str, visit: Visit) -> Result<String> {
        let mut v = visit;
        let own_role = VisitorRole::of_user_role(&self.author.role)
            .code()
            .to_string();
        if v.visitor.trim().is_empty() {
            v.visitor = self.author.user.clone();
        }
        if v.role.trim().is_empty() {
            v.role = own_role.clone();
        }
        if v.visitor != self.author.user {
            return Err(Reason::new(
                "走访人须为当前登录的本人",
                "visitor must be the signed-in user",
            )
            .on("visitor"));
        }
        if v.role != own_role {
            return Err(Reason::new(
                "走访人身份须与当前登录的角色一致",
                "visitor role must be the signed-in user's role",
            )
            .on("role"));
        }
        v.validate(&self.clock)?;
        let vid = doc::new_id();
        let corrects = v.corrects.clone();
        self.add_entry(
            household_id,
            Op::AddVisit.code(),
            "visits",
            &vid,
            &v,
            |tx, visits| {
                below_limit(tx, visits, shape::VISITS_PER_HOUSEHOLD, "visits")?;
                match corrects {
                    Some(c) if tx.get(visits, c.as_str())?.is_none() => Err(Reason::new(
                        "要更正的走访记录不在该户",
                        "the visit to correct is not in this household",
                    )
                    .on("corrects")),
                    _ => Ok(()),
                }
            },
        )?;
        Ok(vid)
    }
}

/// Refuse a new entry in `map` once it holds `max`.
fn below_limit(tx: &Transaction<'_>, map: &ObjId, max: usize, field: &str) -> Result<()> {
    if tx.length(map) >= max {
        return Err(Reason::new(
            format!("条目已达上限（最多{max}条）"),
            format!("already {max} entries, the most allowed"),
        )
        .on(field));
    }
    Ok(())
}

fn to_json<V: Serialize>(v: &V) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| Error::Shape(e.to_string()))
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
fn map_obj(tx: &mut Transaction<'_>, obj: &ObjId, key: &str) -> Result<ObjId> {
    match tx.get(obj, key)? {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Ok(tx.put_object(obj, key, ObjType::Map)?),
    }
}

fn ensure_household_tx(tx: &Transaction<'_>) -> Result<()> {
    if doc::kind_of(tx).as_deref() != Some(household::KIND) {
        return Err(Reason::new("该记录不是住户", "document is not a household").on("household_id"));
    }
    if let Some((Value::Scalar(s), _)) = tx.get(&automerge::ROOT, "merged_into")?
        && let ScalarValue::Str(survivor) = s.as_ref()
    {
        return Err(Error::Merged {
            id: doc::string_at(tx, &automerge::ROOT, "id").unwrap_or_default(),
            survivor: survivor.to_string(),
        });
    }
    Ok(())
}
