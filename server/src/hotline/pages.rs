//! The administrator's page of the hotline (`/web/admin/hotline`): the
//! platforms' credentials (create — the token and signing secret are shown
//! once — and revoke) and the webhook calls that keep failing, each with
//! its last error and a button to try it again now.

use axum::extract::{Form, State};
use axum::response::Response;
use serde::Deserialize;

use super::{Created, Hotline, Knobs};
use crate::principal::Role;
use crate::state::AppState;
use crate::web::pages::{Nav, when};
use crate::web::session::WebUser;
use crate::web::{WebError, WebResult, render};

struct CredentialLine {
    name: String,
    webhook: String,
    created: String,
    revoked: Option<String>,
}

struct FailingLine {
    id: i64,
    credential: String,
    reference: String,
    report_id: String,
    step: String,
    attempts: i64,
    last_error: String,
    last_at: String,
    next_at: String,
    revoked: bool,
}

#[derive(askama::Template)]
#[template(path = "hotline.html")]
struct HotlinePage {
    nav: Nav,
    done: Option<String>,
    created: Option<Created>,
    credentials: Vec<CredentialLine>,
    failing: Vec<FailingLine>,
    failing_after: i64,
}

fn admin(user: &WebUser) -> WebResult<()> {
    if user.principal().role == Role::Admin {
        Ok(())
    } else {
        Err(WebError::Forbidden)
    }
}

async fn page(
    state: &AppState,
    user: &WebUser,
    done: Option<String>,
    created: Option<Created>,
) -> WebResult<Response> {
    let hotline = Hotline::of(state);
    let failing_after = Knobs::from_env().failing_after;
    let credentials = hotline
        .credentials()
        .await?
        .into_iter()
        .map(|c| CredentialLine {
            name: c.name,
            webhook: c.webhook_url,
            created: when(c.created_at),
            revoked: c.revoked_at.map(when),
        })
        .collect();
    let failing = hotline
        .failing(failing_after, 500)
        .await?
        .into_iter()
        .map(|f| {
            let step = serde_json::from_str::<serde_json::Value>(&f.payload)
                .ok()
                .and_then(|v| v["step_name"].as_str().map(str::to_owned))
                .unwrap_or_default();
            FailingLine {
                id: f.id,
                credential: f.credential,
                reference: f.reference,
                report_id: f.report_id,
                step,
                attempts: f.attempts,
                last_error: f.last_error.unwrap_or_default(),
                last_at: f.last_at.map(when).unwrap_or_default(),
                next_at: when(f.next_at),
                revoked: f.revoked,
            }
        })
        .collect();
    render(&HotlinePage {
        nav: Nav::of(user),
        done,
        created,
        credentials,
        failing,
        failing_after,
    })
}

/// `GET /web/admin/hotline`.
pub async fn show(State(state): State<AppState>, user: WebUser) -> WebResult<Response> {
    admin(&user)?;
    page(&state, &user, None, None).await
}

/// The form creating a credential.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    csrf: String,
    name: String,
    webhook: String,
}

/// `POST /web/admin/hotline/add`: the page, with the new secrets shown once.
pub async fn add(
    State(state): State<AppState>,
    user: WebUser,
    Form(form): Form<AddForm>,
) -> WebResult<Response> {
    admin(&user)?;
    user.check_csrf(&form.csrf)?;
    let created = Hotline::of(&state)
        .create(&form.name, &form.webhook)
        .await?;
    page(
        &state,
        &user,
        Some(format!("已创建凭据 {}", created.name)),
        Some(created),
    )
    .await
}

/// The form revoking a credential.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    csrf: String,
    name: String,
}

/// `POST /web/admin/hotline/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    user: WebUser,
    Form(form): Form<RevokeForm>,
) -> WebResult<Response> {
    admin(&user)?;
    user.check_csrf(&form.csrf)?;
    Hotline::of(&state).revoke(&form.name).await?;
    page(
        &state,
        &user,
        Some(format!("已吊销凭据 {}", form.name.trim())),
        None,
    )
    .await
}

/// The form retrying a call (`id`) or all of them (no `id`).
#[derive(Debug, Deserialize)]
pub struct RetryForm {
    csrf: String,
    #[serde(default)]
    id: Option<i64>,
}

/// `POST /web/admin/hotline/retry`.
pub async fn retry(
    State(state): State<AppState>,
    user: WebUser,
    Form(form): Form<RetryForm>,
) -> WebResult<Response> {
    admin(&user)?;
    user.check_csrf(&form.csrf)?;
    let n = Hotline::of(&state).retry(form.id).await?;
    page(
        &state,
        &user,
        Some(format!("已安排立即重试 {n} 个回调")),
        None,
    )
    .await
}
