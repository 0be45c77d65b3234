//! Duplicates made offline: the same household (same grid and address) or
//! the same person (same ID number) recorded on two phones before either
//! synced. Spotted from the projections once both are here; merged so that
//! every resident and visit of both is kept.
//!
//! The survivor is always the document created first (the smaller UUID v7),
//! so two people merging the same pair on two phones make the same choice.
//! The other becomes a tombstone pointing at the survivor; edits that reach
//! the tombstone later (made on a phone that had not synced yet) are
//! forwarded to the survivor when they arrive (see `forward_if_merged`).

use serde::{Deserialize, Serialize};

use super::Store;
use crate::codes::Op;
use crate::doc;
use crate::household::{self, Household, Resident};
use crate::{Error, Reason, Result};

/// What kind of duplicate is suspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateKind {
    /// Two households with the same grid and address.
    Household,
    /// Two entries with the same ID number in one household.
    ResidentInHousehold,
    /// The same ID number in two different households.
    ResidentAcrossHouseholds,
}

/// A pair of records that look like the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateSuspect {
    /// What kind of duplicate.
    pub kind: DuplicateKind,
    /// The household ids (equal for [`DuplicateKind::ResidentInHousehold`]).
    pub households: [String; 2],
    /// The resident ids, for resident duplicates.
    pub residents: Option<[String; 2]>,
}

impl Store {
    /// Every suspected duplicate in the store.
    pub fn duplicate_suspects(&self) -> Result<Vec<DuplicateSuspect>> {
        self.catch_up()?;
        let mut out = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.doc_id, b.doc_id FROM p_households a
             JOIN p_households b ON a.grid = b.grid AND a.address_key = b.address_key AND a.doc_id < b.doc_id
             WHERE a.merged_into IS NULL AND b.merged_into IS NULL
               AND NOT EXISTS (SELECT 1 FROM p_distinct d
                   WHERE (d.doc_id = a.doc_id AND d.other = b.doc_id) OR (d.doc_id = b.doc_id AND d.other = a.doc_id))
             ORDER BY a.doc_id, b.doc_id",
        )?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (a, b) = row?;
            out.push(DuplicateSuspect {
                kind: DuplicateKind::Household,
                households: [a, b],
                residents: None,
            });
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.doc_id, a.resident_id, b.doc_id, b.resident_id FROM p_residents a
             JOIN p_residents b ON a.id_number = b.id_number
               AND (a.doc_id < b.doc_id OR (a.doc_id = b.doc_id AND a.resident_id < b.resident_id))
             WHERE a.removed = 0 AND b.removed = 0 AND a.id_number IS NOT NULL
             ORDER BY a.doc_id, a.resident_id",
        )?;
        for row in stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })? {
            let (ha, ra, hb, rb) = row?;
            let kind = if ha == hb {
                DuplicateKind::ResidentInHousehold
            } else {
                DuplicateKind::ResidentAcrossHouseholds
            };
            out.push(DuplicateSuspect {
                kind,
                households: [ha, hb],
                residents: Some([ra, rb]),
            });
        }
        Ok(out)
    }

    /// Record that two households are not duplicates: they stop being
    /// suspected, on every device once synced.
    pub fn dismiss_duplicate(&mut self, a: &str, b: &str) -> Result<()> {
        self.write(|s| {
            for (this, other) in [(a, b), (b, a)] {
                s.edit_typed(this, Op::DismissDuplicate.code(), |h: &mut Household| {
                    h.distinct_from.insert(other);
                    Ok(())
                })?;
            }
            Ok(())
        })
    }

    /// Merge two households that are the same one. Returns the survivor's
    /// id (the one created first). Every resident and visit of both is kept;
    /// a resident present in both (same ID number) becomes one entry, empty
    /// fields filled from the other.
    pub fn merge_households(&mut self, a: &str, b: &str) -> Result<String> {
        if a == b {
            return Err(
                Reason::new("不能与自身合并", "cannot merge a household with itself").on("b"),
            );
        }
        let (survivor_id, loser_id) = if a < b { (a, b) } else { (b, a) };
        let survivor = self.household(survivor_id)?;
        let loser = self.household(loser_id)?;
        for h in [&survivor, &loser] {
            if let Some(s) = &h.merged_into {
                return Err(Error::Merged {
                    id: h.id.clone(),
                    survivor: s.clone(),
                });
            }
        }
        if survivor.grid != loser.grid {
            return Err(Reason::new(
                "两户不在同一网格，不能合并",
                "households are in different grids",
            )
            .on("b"));
        }
        let loser_heads = self.heads(loser_id)?;
        self.write(|s| {
            s.absorb(
                survivor_id,
                &Household::default(),
                &loser,
                Op::MergeHouseholds.code(),
            )?;
            s.edit_typed(loser_id, Op::MergedInto.code(), |h: &mut Household| {
                h.merged_into = Some(survivor_id.to_string());
                h.merged_heads = loser_heads;
                Ok(())
            })?;
            Ok(survivor_id.to_string())
        })
    }

    /// Merge two entries of one household that are the same person; the
    /// entry kept is the one with the smaller id. Returns its id.
    pub fn merge_residents(&mut self, household_id: &str, a: &str, b: &str) -> Result<String> {
        if a == b {
            return Err(
                Reason::new("不能与自身合并", "cannot merge a resident with itself").on("b"),
            );
        }
        let (keep, gone) = if a < b { (a, b) } else { (b, a) };
        let clock = self.clock;
        self.edit_typed(
            household_id,
            Op::MergeResidents.code(),
            |h: &mut Household| {
                household::ensure_live(h)?;
                let missing = |id: &str| Error::NotFound {
                    kind: "resident",
                    id: id.to_string(),
                };
                let other = h
                    .residents
                    .get(gone)
                    .cloned()
                    .ok_or_else(|| missing(gone))?;
                let kept = h.residents.get_mut(keep).ok_or_else(|| missing(keep))?;
                fill_resident(kept, &other);
                kept.validate("", &clock)?;
                if let Some(g) = h.residents.get_mut(gone) {
                    g.merged_into = Some(keep.to_string());
                }
                Ok(keep.to_string())
            },
        )
    }

    /// Copy into `survivor_id` what `now` has that `before` did not: new or
    /// changed residents, visits and household fields.
    fn absorb(
        &mut self,
        survivor_id: &str,
        before: &Household,
        now: &Household,
        op: &str,
    ) -> Result<bool> {
        self.edit_typed(survivor_id, op, |survivor: &mut Household| {
            let original = survivor.clone();
            for (key, r) in &now.residents {
                if before.residents.get(key) == Some(r) {
                    continue;
                }
                let same_person = r.id_number.as_ref().and_then(|id| {
                    survivor
                        .residents
                        .iter()
                        .find(|(k, s)| {
                            *k != key && s.id_number.as_ref() == Some(id) && s.merged_into.is_none()
                        })
                        .map(|(k, _)| k.clone())
                });
                match (same_person, before.residents.get(key)) {
                    (Some(k), _) => {
                        if let Some(target) = survivor.residents.get_mut(&k) {
                            fill_resident(target, r);
                        }
                    }
                    (None, Some(old)) if survivor.residents.contains_key(key) => {
                        if let Some(target) = survivor.residents.get_mut(key) {
                            apply_changed_fields(target, old, r);
                        }
                    }
                    (None, _) => {
                        survivor.residents.insert(key.clone(), r.clone());
                    }
                }
            }
            for (key, v) in &now.visits {
                if before.visits.get(key) != Some(v) {
                    survivor.visits.insert(key.clone(), v.clone());
                }
            }
            if now.holder.is_some() && (survivor.holder.is_none() || before.holder != now.holder) {
                survivor.holder = now.holder.clone();
            }
            fill_house(&mut survivor.house, &now.house);
            for tag in now.tags.iter() {
                if !before.tags.contains(tag) {
                    survivor.tags.insert(tag);
                }
            }
            Ok(*survivor != original)
        })
    }

    /// After remote data reached `id`: if it is a merged-away household and
    /// brought edits made after the merge, carry them to the survivor, then
    /// move the tombstone's mark forward so they are carried only once.
    pub(super) fn forward_if_merged(&mut self, id: &str) -> Result<()> {
        let (h, old): (Household, Option<Household>) = {
            let loaded = self.with_doc(id, |d| {
                // Cheap test first: almost no document is a tombstone.
                if doc::string_at(d, &automerge::ROOT, "merged_into").is_none() {
                    return Ok(None);
                }
                let Ok(h) = doc::read::<Household>(d, None) else {
                    return Ok(None);
                };
                if h.merged_into.is_none() || h.merged_heads.is_empty() {
                    return Ok(None);
                }
                let heads = doc::heads_from_hex(&h.merged_heads)?;
                let old = doc::read::<Household>(d, Some(&heads)).ok();
                Ok(Some((h, old)))
            })?;
            match loaded {
                Some(x) => x,
                None => return Ok(()),
            }
        };
        let Some(survivor) = h.merged_into.clone() else {
            return Ok(());
        };
        if !self.contains(&survivor)? {
            return Ok(());
        }
        let before = old.unwrap_or_default();
        if self.absorb(&survivor, &before, &h, Op::ForwardMergedEdits.code())? {
            let heads = self.heads(id)?;
            self.edit_typed(id, Op::MergedHeads.code(), |h: &mut Household| {
                h.merged_heads = heads;
                Ok(())
            })?;
        }
        Ok(())
    }
}

fn fill<T: Clone>(target: &mut Option<T>, from: &Option<T>) {
    if target.is_none() {
        target.clone_from(from);
    }
}

/// Fill `target`'s empty fields from `from`; tags by union.
fn fill_resident(target: &mut Resident, from: &Resident) {
    fill(&mut target.id_number, &from.id_number);
    fill(&mut target.sex, &from.sex);
    fill(&mut target.birth_date, &from.birth_date);
    fill(&mut target.ethnicity, &from.ethnicity);
    fill(&mut target.phone, &from.phone);
    fill(&mut target.relation, &from.relation);
    fill(&mut target.status, &from.status);
    fill(&mut target.moved_in, &from.moved_in);
    fill(&mut target.moved_out, &from.moved_out);
    fill(&mut target.note, &from.note);
    for tag in from.tags.iter() {
        target.tags.insert(tag);
    }
}

/// Apply to `target` each field that changed from `old` to `new`.
fn apply_changed_fields(target: &mut Resident, old: &Resident, new: &Resident) {
    macro_rules! changed {
        ($($f:ident),*) => {$(
            if old.$f != new.$f {
                target.$f = new.$f.clone();
            }
        )*};
    }
    changed!(
        name, id_number, sex, birth_date, ethnicity, phone, relation, status, tags, moved_in,
        moved_out, removed, note
    );
}

fn fill_house(target: &mut crate::household::HouseFacts, from: &crate::household::HouseFacts) {
    fill(&mut target.usage, &from.usage);
    fill(&mut target.ownership, &from.ownership);
    fill(&mut target.area_m2, &from.area_m2);
    fill(&mut target.occupants, &from.occupants);
}
