//! `POST /v1/reveals`: a phone's record that a person read a resident's
//! full ID number and phone (everything a phone shows is masked; the full
//! values come only from the SDK's `revealResident`, which records who,
//! when, which resident and why, and the next sync sends the records
//! here). Each becomes an entry of the audit log ([`crate::web::audit`],
//! action `reveal`) with the signed-in user and device from the token,
//! the household and resident ids, the phone's time and the reason; the
//! administrators' audit page lists it. A record sent again (its answer
//! was lost) is recorded once. No personal data is sent: ids, a time and
//! the reason only.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;
use crate::state::AppState;
use crate::web::audit;

/// Most records in one request (the phone sends 200 at a time).
pub const MAX_REVEALS: usize = 500;
/// Most characters of a reason (as the phone's SDK allows).
pub const MAX_REASON_CHARS: usize = gridsync_core::store::MAX_REASON_CHARS;
/// Most characters of an id (the record's, a household's, a resident's).
const MAX_ID_CHARS: usize = 64;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/reveals", post(reveals))
}

/// One reveal as the phone sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealIn {
    /// The record's id (a UUID made on the phone).
    pub id: String,
    /// When it was read, ms since the epoch (the phone's clock).
    pub at: i64,
    /// The household.
    pub household_id: String,
    /// The resident.
    pub resident_id: String,
    /// Why, as the person gave it.
    pub reason: String,
}

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealsRequest {
    /// The records, at most [`MAX_REVEALS`].
    pub reveals: Vec<RevealIn>,
}

/// The answer: the ids the audit log holds now (recorded by this request
/// or an earlier one); the phone forgets those.
#[derive(Debug, Serialize)]
pub struct RevealsResponse {
    /// Ids held.
    pub recorded: Vec<String>,
}

fn check_id(field: &str, v: &str) -> ApiResult<()> {
    let ok = !v.is_empty()
        && v.chars().count() <= MAX_ID_CHARS
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!(
                "编号无效：应为1至{MAX_ID_CHARS}个字母、数字或 - _ : . / \
                 not an id: 1 to {MAX_ID_CHARS} letters, digits or - _ : ."
            ),
        ))
    }
}

fn check(i: usize, r: &RevealIn) -> ApiResult<()> {
    check_id(&format!("reveals[{i}].id"), &r.id)?;
    check_id(&format!("reveals[{i}].household_id"), &r.household_id)?;
    check_id(&format!("reveals[{i}].resident_id"), &r.resident_id)?;
    if r.at <= 0 {
        return Err(ApiError::invalid(
            format!("reveals[{i}].at"),
            "时间无效 / at must be a positive time in ms",
        ));
    }
    let reason = r.reason.trim();
    if reason.is_empty()
        || reason.chars().count() > MAX_REASON_CHARS
        || reason.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            format!("reveals[{i}].reason"),
            format!(
                "原因须为1至{MAX_REASON_CHARS}个字且不含控制字符 / the reason must be 1 to \
                 {MAX_REASON_CHARS} characters without control characters"
            ),
        ));
    }
    Ok(())
}

/// `POST /v1/reveals`: record the phone's reveals in the audit log.
async fn reveals(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(req): JsonBody<RevealsRequest>,
) -> ApiResult<Json<RevealsResponse>> {
    if req.reveals.len() > MAX_REVEALS {
        return Err(ApiError::invalid(
            "reveals",
            format!("一次最多{MAX_REVEALS}条 / at most {MAX_REVEALS} records a request"),
        ));
    }
    for (i, r) in req.reveals.iter().enumerate() {
        check(i, r)?;
    }
    let device = p.device_id.clone().unwrap_or_default();
    let mut recorded = Vec::with_capacity(req.reveals.len());
    for r in req.reveals {
        let entry = audit::Entry {
            at: r.at,
            user_id: p.user_id.clone(),
            username: p.username.clone(),
            action: "reveal".into(),
            target: r.household_id,
            detail: format!(
                "居民 {}；设备 {device}；原因：{}；记录 {}",
                r.resident_id,
                r.reason.trim(),
                r.id
            ),
        };
        audit::record_once(state.web.main(), entry).await?;
        recorded.push(r.id);
    }
    Ok(Json(RevealsResponse { recorded }))
}
