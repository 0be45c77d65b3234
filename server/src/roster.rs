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
use gridsync_core::household::age_on;
use gridsync_core::id_number::{mask_name, mask_phone};

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
    let households = crate::web::readmodel::roster::households_at(state.web.model(), post.clone())
        .await?
        .into_iter()
        .map(|h| RosterHousehold {
            id: h.id,
            grid: h.grid,
            place: h.place,
            residents: h
                .residents
                .into_iter()
                .map(|r| RosterResident {
                    name: mask_name(&r.name),
                    sex: r.sex,
                    age: r.birth_date.as_deref().and_then(|b| age_on(b, today)),
                    relation: r.relation,
                    tags: shareable_tags(&r.tags),
                    phone: r
                        .phone
                        .filter(|ph| !ph.is_empty())
                        .map(|ph| mask_phone(&ph)),
                })
                .collect(),
        })
        .collect::<Vec<_>>();
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
