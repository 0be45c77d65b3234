//! The review queue (待审核): what a supervisor settles for the phones —
//! same-field conflicts (a field changed on two phones offline: choose the
//! value to keep) and suspected duplicates (the same flat recorded twice:
//! merge or dismiss; the same ID number in two households: dismiss, or
//! merge the households when they are the same one; the same person twice
//! in one household: merge the entries), and households recorded on a
//! phone whose clock was off (their times need correcting: shown, not
//! changed). Each resolution runs
//! the core's own operation as the supervisor, through [`super::actor`],
//! so it reaches the phones like any other change.

use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{Crumb, Nav, territory_link, urlencode, when};
use super::readmodel;
use super::session::WebUser;
use super::{WebError, WebResult, access, mask, render};
use crate::principal::Role;
use crate::state::AppState;

/// A value standing in a conflict.
pub struct ChoiceView {
    /// Its index (the `choice` of the core's `resolve_conflict`).
    pub index: usize,
    /// The value, masked when it is an ID number or phone.
    pub value: String,
    /// Who wrote it.
    pub by: String,
    /// When.
    pub at: String,
    /// Shown until someone chooses.
    pub winner: bool,
}

/// A conflict in the queue.
pub struct ConflictView {
    /// Document.
    pub doc_id: String,
    /// Where the record is.
    pub place: String,
    /// The field, in Chinese.
    pub field: String,
    /// Path, JSON (sent back when choosing).
    pub path: String,
    /// The values.
    pub choices: Vec<ChoiceView>,
}

/// A duplicate pair in the queue.
pub struct DuplicateView {
    /// 重复住户 / 重复居民.
    pub kind: String,
    /// The two households.
    pub a: String,
    /// The second.
    pub b: String,
    /// Their address.
    pub place: String,
    /// What matched.
    pub detail: String,
    /// For a person recorded twice in one household: the two entries.
    pub residents: Option<(String, String)>,
}

/// A household recorded on a phone whose clock was off.
pub struct ClockView {
    /// The household.
    pub doc_id: String,
    /// Its address.
    pub place: String,
    /// Who recorded with the clock off.
    pub by: String,
    /// How far off, in words (手机时钟慢了 365 天).
    pub offset: String,
    /// What to do with the times it shows.
    pub correction: String,
    /// How many changes.
    pub changes: i64,
}

#[derive(askama::Template)]
#[template(path = "review.html")]
struct ReviewPage {
    nav: Nav,
    crumbs: Vec<Crumb>,
    code: String,
    done: Option<String>,
    conflicts: Vec<ConflictView>,
    duplicates: Vec<DuplicateView>,
    clocks: Vec<ClockView>,
}

/// A duration in days or hours, in words.
fn span_zh(ms: i64) -> String {
    let ms = ms.abs();
    if ms >= 86_400_000 {
        format!("{} 天", ms / 86_400_000)
    } else {
        format!("{} 小时", (ms / 3_600_000).max(1))
    }
}

/// How a clock offset (server minus phone) reads to a supervisor.
fn clock_words(offset_ms: i64) -> (String, String) {
    let span = span_zh(offset_ms);
    if offset_ms > 0 {
        (
            format!("手机时钟慢了 {span}"),
            format!("所记时间比实际早，实际时间应加 {span}"),
        )
    } else {
        (
            format!("手机时钟快了 {span}"),
            format!("所记时间比实际晚，实际时间应减 {span}"),
        )
    }
}

/// `?code=` of the queue.
#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// A conflicting field in words, from the core's one label table (the
/// same 公民身份号码 / 联系电话 as the household page and the exports).
fn field_zh(path: &[String]) -> String {
    let last = path.last().map(String::as_str).unwrap_or("");
    let name = gridsync_core::codes::field_label(last).unwrap_or(last);
    if path.first().map(String::as_str) == Some("residents") {
        format!("居民的{name}")
    } else {
        name.to_owned()
    }
}

fn territory_code(p: &crate::principal::Principal, code: Option<&str>) -> WebResult<String> {
    let code = match code {
        Some("all") => String::new(),
        Some(c) => c.to_owned(),
        None => access::home_code(p).ok_or(WebError::Forbidden)?,
    };
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebError::NotFound);
    }
    if !access::may_view(p, &code) {
        return Err(WebError::Forbidden);
    }
    Ok(code)
}

/// `GET /web/review?code=`: conflicts and suspected duplicates.
pub async fn queue(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<QueueQuery>,
) -> WebResult<Response> {
    let p = user.principal();
    let code = territory_code(p, q.code.as_deref())?;
    readmodel::catch_up(&state).await?;
    let readmodel::review::ReviewQueue {
        conflicts,
        pairs,
        shared,
        twice,
        clocks,
    } = readmodel::review::review_queue(state.web.model(), &code).await?;
    let users = state.directory.users().await?;
    let name_of = |id: &Option<String>| {
        id.as_deref()
            .and_then(|id| users.iter().find(|u| u.id == id))
            .map(|u| u.display_name.clone())
            .unwrap_or_else(|| "—".into())
    };
    let conflicts = conflicts
        .into_iter()
        .filter_map(|c| {
            let path: Vec<String> = serde_json::from_str(&c.path).ok()?;
            let values: Vec<gridsync_core::doc::ConflictValue> =
                serde_json::from_str(&c.values).ok()?;
            let last = path.last().cloned().unwrap_or_default();
            Some(ConflictView {
                field: field_zh(&path),
                place: c.place,
                path: c.path,
                choices: values
                    .into_iter()
                    .enumerate()
                    .map(|(index, v)| {
                        let text = match &v.value {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        let value = match last.as_str() {
                            "phone" => mask::phone(&text),
                            "id_number" => mask::id_number(&text),
                            _ => text,
                        };
                        ChoiceView {
                            index,
                            value,
                            by: name_of(&v.by),
                            at: when(v.at),
                            winner: v.winner,
                        }
                    })
                    .collect(),
                doc_id: c.doc_id,
            })
        })
        .collect();
    let mut duplicates: Vec<DuplicateView> = pairs
        .into_iter()
        .map(|p| DuplicateView {
            kind: "疑似重复住户".into(),
            a: p.a,
            b: p.b,
            place: p.place,
            detail: "同一网格、同一地址登记了两户".into(),
            residents: None,
        })
        .collect();
    duplicates.extend(shared.into_iter().map(|s| DuplicateView {
        kind: "疑似重复居民".into(),
        detail: format!("身份证号 {} 登记在两户", mask::id_number(&s.id_number)),
        a: s.a,
        b: s.b,
        place: s.place,
        residents: None,
    }));
    duplicates.extend(twice.into_iter().map(|t| DuplicateView {
        kind: "同户重复居民".into(),
        a: t.household_id.clone(),
        b: t.household_id,
        place: t.place,
        detail: format!(
            "身份证号 {} 在本户登记了两次",
            mask::id_number(&t.id_number)
        ),
        residents: Some((t.a, t.b)),
    }));
    let clocks = clocks
        .into_iter()
        .map(|f| {
            let (offset, correction) = clock_words(f.flag.offset_ms);
            ClockView {
                doc_id: f.doc_id,
                place: f.place,
                by: name_of(&f.flag.author),
                offset,
                correction,
                changes: f.flag.changes,
            }
        })
        .collect();
    render(&ReviewPage {
        nav: Nav::of(&user),
        crumbs: vec![
            Crumb {
                link: territory_link(&code),
                name: "返回概况".into(),
            },
            Crumb {
                link: String::new(),
                name: "待审核".into(),
            },
        ],
        code,
        done: q.done,
        conflicts,
        duplicates,
        clocks,
    })
}

/// A resolution.
#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    csrf: String,
    /// `choose`, `merge` or `dismiss`.
    action: String,
    /// The territory to return to.
    #[serde(default)]
    back: Option<String>,
    /// choose: the document, the path (JSON) and the value's index.
    #[serde(default)]
    doc: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    choice: Option<usize>,
    /// merge / dismiss: the two households.
    #[serde(default)]
    a: Option<String>,
    #[serde(default)]
    b: Option<String>,
    /// merge_residents: the household (`a`) and its two entries.
    #[serde(default)]
    ra: Option<String>,
    #[serde(default)]
    rb: Option<String>,
}

async fn check_household(state: &AppState, user: &WebUser, id: &str) -> WebResult<String> {
    let facts = state.docs.facts(id).await?.ok_or(WebError::NotFound)?;
    if !access::may_read_grid(user.principal(), &facts.scope) {
        return Err(WebError::Forbidden);
    }
    Ok(facts.scope)
}

/// `POST /web/review/resolve`: choose a value, merge, or dismiss.
pub async fn resolve(
    State(state): State<AppState>,
    user: WebUser,
    Form(form): Form<ResolveForm>,
) -> WebResult<Response> {
    user.check_csrf(&form.csrf)?;
    let p = user.principal().clone();
    if !matches!(p.role, Role::Supervisor | Role::Admin) {
        return Err(WebError::Forbidden);
    }
    let done = match form.action.as_str() {
        "choose" => {
            let doc = form.doc.ok_or(WebError::Bad("缺少记录".into()))?;
            let path: Vec<String> = form
                .path
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .ok_or(WebError::Bad("缺少字段".into()))?;
            let choice = form.choice.ok_or(WebError::Bad("请选择保留的值".into()))?;
            check_household_or_issue(&state, &user, &doc).await?;
            let id = doc.clone();
            super::actor::edit_as(&state, &p, &[doc], move |s| {
                s.resolve_conflict(&id, &path, choice)
            })
            .await?;
            "已按所选值处理冲突"
        }
        "merge" | "dismiss" => {
            let a = form.a.ok_or(WebError::Bad("缺少住户".into()))?;
            let b = form.b.ok_or(WebError::Bad("缺少住户".into()))?;
            let ga = check_household(&state, &user, &a).await?;
            let gb = check_household(&state, &user, &b).await?;
            let mut docs = vec![a.clone(), b.clone(), crate::sync::grid_doc_id(&ga)];
            if gb != ga {
                docs.push(crate::sync::grid_doc_id(&gb));
            }
            if form.action == "merge" {
                super::actor::edit_as(&state, &p, &docs, move |s| s.merge_households(&a, &b))
                    .await?;
                "已合并重复住户"
            } else {
                super::actor::edit_as(&state, &p, &docs, move |s| s.dismiss_duplicate(&a, &b))
                    .await?;
                "已确认不是重复"
            }
        }
        "merge_residents" => {
            let h = form.a.ok_or(WebError::Bad("缺少住户".into()))?;
            let ra = form.ra.ok_or(WebError::Bad("缺少居民".into()))?;
            let rb = form.rb.ok_or(WebError::Bad("缺少居民".into()))?;
            check_household(&state, &user, &h).await?;
            let id = h.clone();
            super::actor::edit_as(&state, &p, &[h], move |s| s.merge_residents(&id, &ra, &rb))
                .await?;
            "已合并重复登记的居民"
        }
        _ => return Err(WebError::Bad("不支持的操作".into())),
    };
    let back = form
        .back
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_default();
    Ok(Redirect::to(&format!(
        "/web/review?code={}&done={}",
        if back.is_empty() {
            "all".to_owned()
        } else {
            back
        },
        urlencode(done)
    ))
    .into_response())
}

async fn check_household_or_issue(state: &AppState, user: &WebUser, id: &str) -> WebResult<()> {
    check_household(state, user, id).await.map(|_| ())
}
