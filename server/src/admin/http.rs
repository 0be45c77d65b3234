//! The admin HTTP endpoints, `/v1/admin/…`: users, devices, territory.
//! Every handler takes an [`AdminPrincipal`], so other roles get 403.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use super::{
    ChangeUser, CreateUser, CreatedUser, change_user, create_user, find_user, revoke_device,
};
use crate::auth::{AdminPrincipal, JsonBody};
use crate::directory::{Department, Device, DirectoryError, ImportSummary, User};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::territory::{self, Format, Territory};

/// The admin routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/users", get(list_users).post(add_user))
        .route("/v1/admin/users/{id}", get(get_user).patch(patch_user))
        .route("/v1/admin/devices", get(list_devices))
        .route(
            "/v1/admin/departments",
            get(list_departments).post(add_department),
        )
        .route("/v1/admin/devices/{id}/revoke", post(revoke))
        .route(
            "/v1/admin/territory",
            get(export_territory).post(import_json),
        )
        .route("/v1/admin/territory/csv", post(import_csv))
}

async fn list_departments(
    State(state): State<AppState>,
    _: AdminPrincipal,
) -> ApiResult<Json<Vec<Department>>> {
    Ok(Json(state.directory.departments().await?))
}

/// Create a department, or rename it if the code exists.
async fn add_department(
    State(state): State<AppState>,
    _: AdminPrincipal,
    JsonBody(req): JsonBody<Department>,
) -> ApiResult<(StatusCode, Json<Department>)> {
    let d = state.directory.upsert_department(req).await?;
    tracing::info!(department = %d.code, "department saved");
    Ok((StatusCode::CREATED, Json(d)))
}

async fn list_users(
    State(state): State<AppState>,
    _: AdminPrincipal,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(state.directory.users().await?))
}

async fn add_user(
    State(state): State<AppState>,
    _: AdminPrincipal,
    JsonBody(req): JsonBody<CreateUser>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    Ok((StatusCode::CREATED, Json(create_user(&state, req).await?)))
}

async fn get_user(
    State(state): State<AppState>,
    _: AdminPrincipal,
    Path(id): Path<String>,
) -> ApiResult<Json<User>> {
    state
        .directory
        .user(&id)
        .await?
        .map(Json)
        .ok_or_else(|| DirectoryError::UserNotFound.into())
}

async fn patch_user(
    State(state): State<AppState>,
    AdminPrincipal(admin): AdminPrincipal,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ChangeUser>,
) -> ApiResult<Json<User>> {
    Ok(Json(change_user(&state, Some(&admin), &id, req).await?))
}

/// `GET /v1/admin/devices?user=…` (a user id or username).
#[derive(Debug, Deserialize)]
struct DeviceQuery {
    user: Option<String>,
}

async fn list_devices(
    State(state): State<AppState>,
    _: AdminPrincipal,
    Query(q): Query<DeviceQuery>,
) -> ApiResult<Json<Vec<Device>>> {
    let user_id = match q.user {
        Some(u) => Some(find_user(&state, &u).await?.id),
        None => None,
    };
    Ok(Json(state.directory.devices(user_id.as_deref()).await?))
}

async fn revoke(
    State(state): State<AppState>,
    _: AdminPrincipal,
    Path(id): Path<String>,
) -> ApiResult<Json<Device>> {
    Ok(Json(revoke_device(&state, &id).await?))
}

async fn export_territory(
    State(state): State<AppState>,
    _: AdminPrincipal,
) -> ApiResult<Json<Territory>> {
    Ok(Json(territory::export(state.directory.as_ref()).await?))
}

async fn import_json(
    State(state): State<AppState>,
    _: AdminPrincipal,
    body: Bytes,
) -> ApiResult<Json<ImportSummary>> {
    import(&state, Format::Json, &body).await
}

async fn import_csv(
    State(state): State<AppState>,
    _: AdminPrincipal,
    body: Bytes,
) -> ApiResult<Json<ImportSummary>> {
    import(&state, Format::Csv, &body).await
}

async fn import(state: &AppState, format: Format, body: &[u8]) -> ApiResult<Json<ImportSummary>> {
    let summary = territory::import(state.directory.as_ref(), format, body).await?;
    // Phones learn new grids (and their places) from grid documents.
    crate::sync::publish_grids(state)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(
        streets = summary.streets.created + summary.streets.updated,
        communities = summary.communities.created + summary.communities.updated,
        grids = summary.grids.created + summary.grids.updated,
        "territory imported"
    );
    Ok(Json(summary))
}
