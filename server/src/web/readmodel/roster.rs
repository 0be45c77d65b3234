//! The read model's query for a 楼栋长/单元长's roster ([`crate::roster`]):
//! the households of one building (or one unit) with their current
//! residents, as stored; the roster masks them before they leave.

use gridsync_core::contact::Post;
use gridsync_core::household::Place;
use rusqlite::params;

use super::{ReadModel, place_at};
use crate::db::DbError;

/// A household at a head's post.
#[derive(Debug, Clone, PartialEq)]
pub struct PostHousehold {
    /// Document id.
    pub id: String,
    /// Grid code.
    pub grid: String,
    /// Where it is.
    pub place: Place,
    /// Its current residents, in key order.
    pub residents: Vec<PostResident>,
}

/// A resident as the read model keeps them, unmasked.
#[derive(Debug, Clone, PartialEq)]
pub struct PostResident {
    /// Full name.
    pub name: String,
    /// Sex code.
    pub sex: Option<String>,
    /// Birth date (YYYY-MM-DD).
    pub birth_date: Option<String>,
    /// Relation-to-head code.
    pub relation: Option<String>,
    /// Attention tags as stored (a JSON or comma list).
    pub tags: String,
    /// Phone number.
    pub phone: Option<String>,
}

/// The households within `post` (its building, or its unit when it names
/// one), by unit and room.
pub async fn households_at(model: &ReadModel, post: Post) -> Result<Vec<PostHousehold>, DbError> {
    model
        .run(move |c| {
            let mut homes: Vec<PostHousehold> = c
                .prepare_cached(
                    "SELECT id, grid, area, compound, building, unit, room FROM households
                     WHERE grid = ?1 AND compound = ?2 AND building = ?3
                       AND (?4 = '' OR unit = ?4)
                     ORDER BY unit, length(room), room",
                )?
                .query_map(
                    params![post.grid, post.compound, post.building, post.unit],
                    |r| {
                        Ok(PostHousehold {
                            id: r.get(0)?,
                            grid: r.get(1)?,
                            place: place_at(r, 2)?,
                            residents: Vec::new(),
                        })
                    },
                )?
                .collect::<rusqlite::Result<_>>()?;
            let mut people = c.prepare_cached(
                "SELECT name, sex, birth_date, relation, tags, phone FROM residents
                 WHERE household_id = ?1 ORDER BY key",
            )?;
            for h in &mut homes {
                h.residents = people
                    .query_map([&h.id], |r| {
                        Ok(PostResident {
                            name: r.get(0)?,
                            sex: r.get(1)?,
                            birth_date: r.get(2)?,
                            relation: r.get(3)?,
                            tags: r.get(4)?,
                            phone: r.get(5)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(homes)
        })
        .await
}
