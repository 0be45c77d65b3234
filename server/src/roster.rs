//! `GET /v1/roster`: the households of a 楼栋长's building (or a 单元长's
//! unit), masked, for the phone to keep and record contacts against
//! offline. A head never receives the household documents themselves:
//! names keep the surname (张*明), phones the first 3 and last 4 digits,
//! ID numbers and sensitive tags (PIPL art. 28) are left out, ages are
//! given instead of birth dates. Served from the read model, brought up to
//! the log's end first, so a household recorded a moment ago is on it.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use gridsync_core::clock::Clock;
use gridsync_core::codes::AttentionTag;
use gridsync_core::contact::{Roster, RosterHousehold, RosterResident};
use gridsync_core::household::{Place, age_on};
use gridsync_core::id_number::{mask_name, mask_phone};
use rusqlite::params;

use crate::error::ApiError;
use crate::principal::Principal;
use crate::state::AppState;

/// The roster route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/roster", get(roster))
}

async fn roster(State(state): State<AppState>, p: Principal) -> Result<Json<Roster>, ApiError> {
    let Some(post) = p.post.clone().filter(|_| p.role.is_head()) else {
        return Err(ApiError::Forbidden(
            "只有楼栋长、单元长有楼栋名册 / only building and unit heads have a roster".into(),
        ));
    };
    crate::web::readmodel::catch_up(&state)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let clock = Clock::System;
    let today = clock.today();
    let wanted = post.clone();
    let households = state
        .web
        .model()
        .run(move |c| {
            let mut homes: Vec<RosterHousehold> = c
                .prepare_cached(
                    "SELECT id, grid, area, compound, building, unit, room FROM households
                     WHERE grid = ?1 AND compound = ?2 AND building = ?3
                       AND (?4 = '' OR unit = ?4)
                     ORDER BY unit, length(room), room",
                )?
                .query_map(
                    params![wanted.grid, wanted.compound, wanted.building, wanted.unit],
                    |r| {
                        Ok(RosterHousehold {
                            id: r.get(0)?,
                            grid: r.get(1)?,
                            place: Place {
                                area: r.get(2)?,
                                compound: r.get(3)?,
                                building: r.get(4)?,
                                unit: r.get(5)?,
                                room: r.get(6)?,
                            },
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
                        let tags: String = r.get(4)?;
                        let birth: Option<String> = r.get(2)?;
                        let phone: Option<String> = r.get(5)?;
                        Ok(RosterResident {
                            name: mask_name(&r.get::<_, String>(0)?),
                            sex: r.get(1)?,
                            age: birth.as_deref().and_then(|b| age_on(b, today)),
                            relation: r.get(3)?,
                            tags: shareable_tags(&tags),
                            phone: phone
                                .filter(|ph| !ph.is_empty())
                                .map(|ph: String| mask_phone(&ph)),
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(homes)
        })
        .await?;
    tracing::info!(
        user_id = %p.user_id,
        households = households.len(),
        "roster served"
    );
    Ok(Json(Roster {
        post,
        at: clock.now_ms(),
        households,
    }))
}

/// The tags a head may see: known and not sensitive. The read model keeps
/// a resident's tags as text; both a JSON list and a comma list are read.
fn shareable_tags(stored: &str) -> Vec<String> {
    let codes: Vec<String> = serde_json::from_str::<Vec<String>>(stored).unwrap_or_else(|_| {
        stored
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect()
    });
    codes
        .into_iter()
        .filter(|c| AttentionTag::from_code(c).is_ok_and(|t| !t.is_sensitive()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::shareable_tags;

    #[test]
    fn sensitive_and_unknown_tags_stay_off_the_roster() {
        assert_eq!(
            shareable_tags(r#"["living_alone_elderly","drug_user","made_up"]"#),
            vec!["living_alone_elderly".to_owned()]
        );
        assert_eq!(
            shareable_tags("party_member,disabled"),
            vec!["party_member".to_owned()]
        );
    }
}
