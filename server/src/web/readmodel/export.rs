//! The read model's queries for the exports ([`crate::web::export`]):
//! the resident ledger, the residents per attention tag of each grid for
//! the summary sheet, and the visit log, of a territory or one building.
//! Rows carry codes and user ids as stored; the export turns them into
//! cells (names in Chinese, masking).

use std::collections::HashMap;

use gridsync_core::household::{Place, Resident};
use gridsync_core::tagset::TagSet;
use rusqlite::params;

use super::{ReadModel, place_at as place, upper};
use crate::db::DbError;

/// Which records an export covers.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Codes from `lo` (inclusive) to `hi` (exclusive).
    pub lo: String,
    /// Upper bound.
    pub hi: String,
    /// Only this building.
    pub building: Option<String>,
}

impl Selection {
    /// Everything under territory `code`.
    pub fn under(code: &str) -> Self {
        Self {
            lo: code.to_owned(),
            hi: upper(code),
            building: None,
        }
    }
}

/// A resident as the ledger lists them, with their household's place.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    /// Grid code.
    pub grid: String,
    /// Where the household is.
    pub place: Place,
    /// The resident as the read model keeps them: name, ID number and
    /// phone in full (the export masks them), the codes and the attention
    /// tags; the fields it does not keep are at their defaults.
    pub resident: Resident,
    /// The household's 包保责任人 (user id).
    pub holder: Option<String>,
}

/// The residents of `sel` by grid and address (then relation and name).
pub async fn ledger_rows(model: &ReadModel, sel: Selection) -> Result<Vec<LedgerRow>, DbError> {
    model
        .run(move |c| {
            c.prepare(
                "SELECT h.grid, h.area, h.compound, h.building, h.unit, h.room, r.name, r.id_number,
                        r.sex, r.birth_date, r.ethnicity, r.phone, r.relation, r.status, r.tags,
                        h.holder
                 FROM residents r JOIN households h ON h.id = r.household_id
                 WHERE h.grid >= ?1 AND h.grid < ?2 AND (?3 IS NULL OR h.building = ?3)
                 ORDER BY h.grid, h.compound, h.building, h.unit, length(h.room), h.room, r.relation, r.name",
            )?
            .query_map(params![sel.lo, sel.hi, sel.building], |r| {
                Ok(LedgerRow {
                    grid: r.get(0)?,
                    place: place(r, 1)?,
                    resident: Resident {
                        name: r.get(6)?,
                        id_number: r.get(7)?,
                        sex: r.get(8)?,
                        birth_date: r.get(9)?,
                        ethnicity: r.get(10)?,
                        phone: r.get(11)?,
                        relation: r.get(12)?,
                        status: r.get(13)?,
                        tags: TagSet::of(
                            r.get::<_, String>(14)?.split(',').filter(|t| !t.is_empty()),
                        ),
                        ..Resident::default()
                    },
                    holder: r.get(15)?,
                })
            })?
            .collect()
        })
        .await
}

/// Residents per attention tag code, per grid of `sel` (by grid code,
/// then tag code; a tag no one has is absent).
pub async fn tag_counts_by_grid(
    model: &ReadModel,
    sel: &Selection,
) -> Result<HashMap<String, HashMap<String, i64>>, DbError> {
    let (lo, hi) = (sel.lo.clone(), sel.hi.clone());
    let counts: Vec<(String, String, i64)> = model
        .run(move |c| {
            c.prepare_cached(
                "SELECT grid, tag, count(*) FROM resident_tags WHERE grid >= ?1 AND grid < ?2 GROUP BY grid, tag",
            )?
            .query_map(params![lo, hi], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect()
        })
        .await?;
    let mut by_grid: HashMap<String, HashMap<String, i64>> = HashMap::new();
    for (grid, tag, k) in counts {
        by_grid.entry(grid).or_default().insert(tag, k);
    }
    Ok(by_grid)
}

/// A visit (or a 楼栋长/单元长's contact) as the visit log lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitLogRow {
    /// Grid code.
    pub grid: String,
    /// Where the household is.
    pub place: Place,
    /// When, ms.
    pub at: i64,
    /// Who (user id).
    pub visitor: String,
    /// In which role, code.
    pub role: String,
    /// How, code.
    pub method: String,
    /// What was found.
    pub findings: String,
    /// 群众诉求, may be empty.
    pub needs: String,
    /// 需跟进.
    pub follow_up: bool,
}

/// The visits to the households of `sel`, newest first.
pub async fn visit_log(model: &ReadModel, sel: Selection) -> Result<Vec<VisitLogRow>, DbError> {
    model
        .run(move |c| {
            c.prepare(
                "SELECT h.grid, h.area, h.compound, h.building, h.unit, h.room, v.at, v.visitor,
                        v.role, v.method, v.findings, v.needs, v.follow_up
                 FROM visits v JOIN households h ON h.id = v.household_id
                 WHERE h.grid >= ?1 AND h.grid < ?2 AND (?3 IS NULL OR h.building = ?3)
                 ORDER BY v.at DESC",
            )?
            .query_map(params![sel.lo, sel.hi, sel.building], |r| {
                Ok(VisitLogRow {
                    grid: r.get(0)?,
                    place: place(r, 1)?,
                    at: r.get(6)?,
                    visitor: r.get(7)?,
                    role: r.get(8)?,
                    method: r.get(9)?,
                    findings: r.get(10)?,
                    needs: r.get(11)?,
                    follow_up: r.get(12)?,
                })
            })?
            .collect()
        })
        .await
}
