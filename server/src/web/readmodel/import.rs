//! The read model's query for the ledger import ([`crate::import`]): what
//! the server already holds of a community (its households by address, their
//! residents), and where the file's ID numbers are recorded anywhere.

use std::collections::HashMap;

use gridsync_core::household::Place;

use super::{ReadModel, place_at, upper};
use crate::db::DbError;

/// A resident as the read model holds them.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Resident key in the household.
    pub key: String,
    /// Full name.
    pub name: String,
    /// ID number.
    pub id_number: Option<String>,
    /// Sex code.
    pub sex: Option<String>,
    /// Birth date.
    pub birth_date: Option<String>,
    /// Ethnicity code.
    pub ethnicity: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Relation-to-head code.
    pub relation: Option<String>,
    /// Residence status code.
    pub status: Option<String>,
    /// Attention tag codes.
    pub tags: Vec<String>,
}

/// Where an ID number is recorded.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The household's id.
    pub household: String,
    /// Its grid.
    pub grid: String,
    /// Its place.
    pub place: Place,
}

/// What the server holds of the community, and where the file's ID
/// numbers are recorded anywhere.
#[derive(Debug, Default)]
pub struct Existing {
    /// (grid, address key) → household id.
    pub households: HashMap<(String, String), String>,
    /// Household id → its current residents.
    pub residents: HashMap<String, Vec<Known>>,
    /// ID number → where it is recorded.
    pub ids: HashMap<String, Recorded>,
}

/// What is held under `community`, and where each of `ids` is recorded.
pub async fn existing(
    model: &ReadModel,
    community: &str,
    ids: Vec<String>,
) -> Result<Existing, DbError> {
    let (lo, hi) = (community.to_owned(), upper(community));
    model
        .run(move |c| {
            let mut out = Existing::default();
            let mut q = c.prepare(
                "SELECT id, grid, address_key FROM households WHERE grid >= ?1 AND grid < ?2",
            )?;
            let rows = q.query_map([&lo, &hi], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
            })?;
            for row in rows {
                let (id, grid, key) = row?;
                out.households.insert((grid, key), id);
            }
            let mut q = c.prepare(
                "SELECT household_id, key, name, id_number, sex, birth_date, ethnicity, phone,
                        relation, status, tags
                 FROM residents WHERE grid >= ?1 AND grid < ?2",
            )?;
            let rows = q.query_map([&lo, &hi], |r| {
                let tags: String = r.get(10)?;
                Ok((
                    r.get::<_, String>(0)?,
                    Known {
                        key: r.get(1)?,
                        name: r.get(2)?,
                        id_number: r.get(3)?,
                        sex: r.get(4)?,
                        birth_date: r.get(5)?,
                        ethnicity: r.get(6)?,
                        phone: r.get(7)?,
                        relation: r.get(8)?,
                        status: r.get(9)?,
                        tags: tags
                            .split(',')
                            .filter(|t| !t.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    },
                ))
            })?;
            for row in rows {
                let (h, k) = row?;
                out.residents.entry(h).or_default().push(k);
            }
            for chunk in ids.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(",");
                let mut q = c.prepare(&format!(
                    "SELECT r.id_number, h.id, h.grid, h.area, h.compound, h.building, h.unit, h.room
                     FROM residents r JOIN households h ON h.id = r.household_id
                     WHERE r.id_number IN ({marks})"
                ))?;
                let rows = q.query_map(rusqlite::params_from_iter(chunk.iter()), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Recorded {
                            household: r.get(1)?,
                            grid: r.get(2)?,
                            place: place_at(r, 3)?,
                        },
                    ))
                })?;
                for row in rows {
                    let (id, at) = row?;
                    out.ids.insert(id, at);
                }
            }
            Ok(out)
        })
        .await
}
