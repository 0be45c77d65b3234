//! The ledger import pages (导入台账, `/web/import`): upload a file, map
//! its columns (pre-filled from the community's saved mapping, else from
//! the column names), see the dry run's report, import. The work is
//! [`crate::import`]'s; these handlers parse the forms and show it.
//!
//! The uploaded file stays in this process's memory between the steps,
//! keyed by its SHA-256 and the person who uploaded it, for
//! [`UPLOAD_TTL`]: the import is of exactly the file the dry run checked
//! (an expired upload asks for the file again). Nothing of it is written
//! to disk, and the report masks names, ID numbers and phones.

use std::time::{Duration, Instant};

use axum::extract::{Form, FromRequest, Query, Request, State};
use axum::http::header;
use axum::response::Response;
use serde::Deserialize;

use super::pages::{Nav, territory_link};
use super::session::WebUser;
use super::{WebError, WebResult, render};
use crate::import::mapping::{self, Field, Saved};
use crate::import::{Report, row::Problem};
use crate::state::AppState;

/// How long an upload waits for its dry run and import.
pub const UPLOAD_TTL: Duration = Duration::from_secs(30 * 60);
/// Uploads kept at once (the oldest is dropped first).
const UPLOADS_KEPT: usize = 16;
/// Bytes of uploads kept at once (the oldest are dropped first).
const UPLOAD_BYTES_KEPT: usize = 128 << 20;
/// Refused rows listed on the report page.
const LISTED: usize = 200;

struct Upload {
    sha256: String,
    user_id: String,
    file_name: String,
    bytes: Vec<u8>,
    at: Instant,
}

static UPLOADS: std::sync::Mutex<Vec<Upload>> = std::sync::Mutex::new(Vec::new());

fn keep(upload: Upload) {
    let Ok(mut kept) = UPLOADS.lock() else {
        return;
    };
    kept.retain(|u| {
        u.at.elapsed() < UPLOAD_TTL && !(u.sha256 == upload.sha256 && u.user_id == upload.user_id)
    });
    while !kept.is_empty()
        && (kept.len() >= UPLOADS_KEPT
            || kept.iter().map(|u| u.bytes.len()).sum::<usize>() + upload.bytes.len()
                > UPLOAD_BYTES_KEPT)
    {
        kept.remove(0);
    }
    kept.push(upload);
}

/// The upload `sha256` of `user_id`: its name and bytes.
fn uploaded(sha256: &str, user_id: &str) -> WebResult<(String, Vec<u8>)> {
    let kept = UPLOADS
        .lock()
        .map_err(|_| WebError::Internal("upload store poisoned".into()))?;
    kept.iter()
        .find(|u| u.sha256 == sha256 && u.user_id == user_id && u.at.elapsed() < UPLOAD_TTL)
        .map(|u| (u.file_name.clone(), u.bytes.clone()))
        .ok_or_else(|| WebError::Bad("上传的文件已过期，请重新上传".into()))
}

/// A community the person may import into.
pub struct Choice {
    code: String,
    name: String,
    selected: bool,
}

#[derive(askama::Template)]
#[template(path = "import.html")]
struct UploadPage {
    nav: Nav,
    communities: Vec<Choice>,
    error: String,
}

/// `?code=` of the upload page.
#[derive(Debug, Default, Deserialize)]
pub struct CodeQuery {
    #[serde(default)]
    code: Option<String>,
}

async fn communities(state: &AppState, user: &WebUser, code: &str) -> WebResult<Vec<Choice>> {
    let p = user.principal();
    let prefix = match p.role {
        crate::principal::Role::Admin => String::new(),
        crate::principal::Role::Supervisor => p.subtree.clone().unwrap_or_default(),
        _ => return Err(WebError::Forbidden),
    };
    let mut out: Vec<Choice> = state
        .directory
        .communities(&prefix)
        .await?
        .into_iter()
        .filter(|c| crate::import::may_import(p, &c.code))
        .map(|c| Choice {
            selected: c.code == code,
            code: c.code,
            name: c.name,
        })
        .collect();
    out.sort_by(|a, b| a.code.cmp(&b.code));
    if out.is_empty() {
        return Err(WebError::Forbidden);
    }
    Ok(out)
}

/// `GET /web/import`: the upload form.
pub async fn form(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<CodeQuery>,
) -> WebResult<Response> {
    let code = q.code.unwrap_or_default();
    render(&UploadPage {
        nav: Nav::of(&user),
        communities: communities(&state, &user, &code).await?,
        error: String::new(),
    })
}

/// One field of the mapping form.
pub struct FieldRow {
    code: &'static str,
    label: &'static str,
    required: bool,
    options: Vec<(String, bool)>,
}

#[derive(askama::Template)]
#[template(path = "import_map.html")]
struct MapPage {
    nav: Nav,
    code: String,
    community: String,
    file_name: String,
    sha256: String,
    rows: usize,
    fields: Vec<FieldRow>,
    saved: bool,
    error: String,
}

fn map_page(
    user: &WebUser,
    code: &str,
    community: String,
    upload: (&str, &str),
    table: &crate::import::table::Table,
    mapping: &Saved,
) -> MapPage {
    let fields = Field::ALL
        .into_iter()
        .map(|f| {
            let chosen = mapping.get(f.code());
            FieldRow {
                code: f.code(),
                label: f.label(),
                required: f.required(),
                options: table
                    .headers
                    .iter()
                    .filter(|h| !h.is_empty())
                    .map(|h| (h.clone(), chosen == Some(h)))
                    .collect(),
            }
        })
        .collect();
    MapPage {
        nav: Nav::of(user),
        code: code.to_owned(),
        community,
        file_name: upload.0.to_owned(),
        sha256: upload.1.to_owned(),
        rows: table.rows.len(),
        fields,
        saved: false,
        error: String::new(),
    }
}

async fn community_name(state: &AppState, code: &str) -> WebResult<String> {
    Ok(state
        .directory
        .community(code)
        .await?
        .map(|c| c.name)
        .unwrap_or_default())
}

/// `POST /web/import` (multipart: `csrf`, `code`, `file`): keep the file,
/// show the mapping form.
pub async fn upload(
    State(state): State<AppState>,
    user: WebUser,
    request: Request,
) -> WebResult<Response> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let boundary = super::multipart::boundary(&content_type)
        .ok_or_else(|| WebError::Bad("请选择要上传的台账文件".into()))?;
    let body = axum::body::Bytes::from_request(request, &state)
        .await
        .map_err(|_| WebError::Bad("文件过大或未传完".into()))?;
    let parts = super::multipart::parse(&body, &boundary).map_err(|e| WebError::Bad(e.into()))?;
    let text = |name: &str| {
        parts
            .iter()
            .find(|p| p.name == name && p.filename.is_none())
            .map(|p| String::from_utf8_lossy(&p.data).trim().to_owned())
            .unwrap_or_default()
    };
    user.check_csrf(&text("csrf"))?;
    let code = text("code");
    crate::import::context(&state, user.principal(), &code).await?;
    let file = parts
        .iter()
        .find(|p| p.name == "file" && p.filename.is_some() && !p.data.is_empty());
    let Some(file) = file else {
        return upload_again(
            &state,
            &user,
            &code,
            "请选择要上传的台账文件（.xlsx 或 .csv）",
        )
        .await;
    };
    let file_name = file
        .filename
        .clone()
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect::<String>();
    let table = match crate::import::table::read(&file_name, &file.data) {
        Ok(t) => t,
        Err(e) => return upload_again(&state, &user, &code, &e).await,
    };
    let sha256 = crate::import::sha256(&file.data);
    keep(Upload {
        sha256: sha256.clone(),
        user_id: user.principal().user_id.clone(),
        file_name: file_name.clone(),
        bytes: file.data.clone(),
        at: Instant::now(),
    });
    let saved = mapping::load(state.web.main(), &code).await?;
    let mapping = mapping::prefill(&table.headers, saved.as_ref());
    let mut page = map_page(
        &user,
        &code,
        community_name(&state, &code).await?,
        (&file_name, &sha256),
        &table,
        &mapping,
    );
    page.saved = saved.is_some();
    render(&page)
}

async fn upload_again(
    state: &AppState,
    user: &WebUser,
    code: &str,
    error: &str,
) -> WebResult<Response> {
    let mut response = render(&UploadPage {
        nav: Nav::of(user),
        communities: communities(state, user, code).await?,
        error: error.to_owned(),
    })?;
    *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    Ok(response)
}

#[derive(askama::Template)]
#[template(path = "import_report.html")]
struct ReportPage {
    nav: Nav,
    report: Report,
    listed: Vec<Problem>,
    mapping: String,
    back: String,
}

fn report_page(user: &WebUser, report: Report, mapping: &Saved) -> WebResult<Response> {
    let listed = report.refused.iter().take(LISTED).cloned().collect();
    let back = territory_link(&report.community);
    render(&ReportPage {
        nav: Nav::of(user),
        listed,
        mapping: serde_json::to_string(mapping).unwrap_or_default(),
        back,
        report,
    })
}

/// `POST /web/import/check` (`csrf`, `code`, `sha256`, `map_<field>`):
/// save the mapping for the community, show the dry run.
pub async fn check(
    State(state): State<AppState>,
    user: WebUser,
    Form(form): Form<Vec<(String, String)>>,
) -> WebResult<Response> {
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    user.check_csrf(&get("csrf"))?;
    let code = get("code");
    let p = user.principal();
    crate::import::context(&state, p, &code).await?;
    let (file_name, bytes) = uploaded(&get("sha256"), &p.user_id)?;
    let chosen: Saved = form
        .iter()
        .filter_map(|(k, v)| {
            let field = k.strip_prefix("map_")?;
            (Field::from_code(field).is_some() && !v.trim().is_empty())
                .then(|| (field.to_owned(), v.trim().to_owned()))
        })
        .collect();
    let table = crate::import::table::read(&file_name, &bytes).map_err(WebError::Bad)?;
    if let Err(e) = mapping::resolve(&table.headers, &chosen) {
        let sha256 = get("sha256");
        let mut page = map_page(
            &user,
            &code,
            community_name(&state, &code).await?,
            (&file_name, &sha256),
            &table,
            &chosen,
        );
        page.error = e;
        let mut response = render(&page)?;
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
        return Ok(response);
    }
    mapping::save(state.web.main(), &code, &chosen, &p.user_id).await?;
    let report = crate::import::dry_run(&state, p, &file_name, &bytes, &code, &chosen).await?;
    report_page(&user, report, &chosen)
}

/// The import form.
#[derive(Debug, Deserialize)]
pub struct RunForm {
    csrf: String,
    code: String,
    sha256: String,
    mapping: String,
}

/// `POST /web/import/run`: import the file the dry run checked.
pub async fn run(
    State(state): State<AppState>,
    user: WebUser,
    Form(form): Form<RunForm>,
) -> WebResult<Response> {
    user.check_csrf(&form.csrf)?;
    let p = user.principal();
    let (file_name, bytes) = uploaded(&form.sha256, &p.user_id)?;
    let mapping: Saved = serde_json::from_str(&form.mapping)
        .map_err(|_| WebError::Bad("列对应关系有误，请重新上传".into()))?;
    let report = crate::import::import(&state, p, &file_name, &bytes, &form.code, &mapping).await?;
    report_page(&user, report, &mapping)
}
