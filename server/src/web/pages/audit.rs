//! The admins' audit log page: the latest entries in words.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;

use super::super::format::{address_of, label, need_text, when};
use super::super::readmodel;
use super::super::session::WebUser;
use super::super::{WebError, WebResult, audit, render};
use super::{Nav, territory_name};
use crate::principal::Role;
use crate::state::AppState;

/// An audit line.
pub struct AuditLine {
    /// When.
    pub when: String,
    /// Who: display name and role.
    pub who: String,
    /// What, in words (`导出居民台账（XLSX，未脱敏）`).
    pub action: String,
    /// On what: the household's address, the territory's name.
    pub target: String,
    /// More: the fields shown, the resident, device and reason of a
    /// phone's reveal.
    pub detail: String,
}

#[derive(askama::Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    entries: Vec<AuditLine>,
}

/// `GET /web/admin/audit`: the latest audit entries (admins only), in
/// words: the person by name and role, the household by its address, the
/// territory by its name, what was exported or viewed.
pub async fn audit_log(State(state): State<AppState>, user: WebUser) -> WebResult<Response> {
    use audit::Subject;
    if user.principal().role != Role::Admin {
        return Err(WebError::Forbidden);
    }
    let entries = audit::latest(state.web.main(), 500).await?;
    let subjects: Vec<Subject> = entries.iter().map(audit::subject).collect();
    // What the entries name by id, looked up once each.
    let mut households = Vec::new();
    let mut residents = Vec::new();
    let mut territories: HashMap<String, String> = HashMap::new();
    let mut devices: HashMap<String, String> = HashMap::new();
    let mut closed_needs = Vec::new();
    for s in &subjects {
        match s {
            Subject::Unmask { household } => households.push(household.clone()),
            Subject::NeedClosed { household, visit } => {
                households.push(household.clone());
                closed_needs.push((household.clone(), visit.clone()));
            }
            Subject::Reveal {
                household,
                resident,
                device,
                ..
            } => {
                households.push(household.clone());
                residents.push((household.clone(), resident.clone()));
                if !devices.contains_key(device) {
                    let name = match state.directory.device(device).await? {
                        Some(d) => d.name.unwrap_or_else(|| "未命名的手机".into()),
                        None => "（未登记的手机）".into(),
                    };
                    devices.insert(device.clone(), name);
                }
            }
            Subject::Export { territory, .. } if !territories.contains_key(territory) => {
                let name = match territory_name(&state, territory).await {
                    Ok((name, _)) => name,
                    Err(WebError::NotFound) => format!("（未登记的区域 {territory}）"),
                    Err(e) => return Err(e),
                };
                territories.insert(territory.clone(), name);
            }
            _ => {}
        }
    }
    households.sort();
    households.dedup();
    readmodel::catch_up(&state).await?;
    let named = readmodel::places_and_names(state.web.model(), households, residents).await?;
    // What each closed need said, and when it was noted.
    let mut noted: HashMap<(String, String), String> = HashMap::new();
    for (household, visit) in closed_needs {
        if noted.contains_key(&(household.clone(), visit.clone())) {
            continue;
        }
        let text = match readmodel::need(state.web.model(), &household, &visit).await? {
            Some(n) => format!(
                "{}（{}走访时记录）",
                need_text(&n.needs, &n.findings),
                when(n.at)
            ),
            None => "（台账中已无此走访记录）".into(),
        };
        noted.insert((household, visit), text);
    }
    let users: HashMap<String, (String, Role)> = state
        .directory
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, (u.display_name, u.role)))
        .collect();
    let address = |id: &str| {
        named
            .places
            .get(id)
            .map(|p| address_of([&p[0], &p[1], &p[2], &p[3], &p[4]]))
            .unwrap_or_else(|| "（台账中已无此住户）".into())
    };
    let shown = format!("{}、{}", label("id_number"), label("phone"));
    let lines = entries
        .into_iter()
        .zip(subjects)
        .map(|(e, s)| {
            let who = match users.get(&e.user_id) {
                Some((name, role)) => format!("{name}（{}）", role.name_zh()),
                None => e.username.clone(),
            };
            let (action, target, detail) = match s {
                Subject::Unmask { household } => (
                    "查看完整信息".to_owned(),
                    address(&household),
                    shown.clone(),
                ),
                Subject::Export {
                    territory,
                    what,
                    format,
                    full,
                    building,
                    reason,
                } => (
                    format!(
                        "导出{}（{}，{}）",
                        audit::export_name(&what).unwrap_or(&what),
                        format.to_uppercase(),
                        if full { "未脱敏" } else { "已脱敏" }
                    ),
                    territories.get(&territory).cloned().unwrap_or_default(),
                    [
                        building.then(|| "其中一栋楼".to_owned()),
                        reason.map(|r| format!("原因：{r}")),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("；"),
                ),
                Subject::Reveal {
                    household,
                    resident,
                    device,
                    reason,
                } => {
                    let person = named
                        .residents
                        .get(&(household.clone(), resident))
                        .cloned()
                        .unwrap_or_else(|| "（台账中已无此居民）".into());
                    (
                        "手机查看完整信息".to_owned(),
                        address(&household),
                        format!(
                            "居民：{person}；{shown}；手机：{}；原因：{reason}",
                            devices.get(&device).map(String::as_str).unwrap_or("")
                        ),
                    )
                }
                Subject::NeedClosed { household, visit } => (
                    "群众诉求 / 需跟进已处理".to_owned(),
                    address(&household),
                    noted
                        .get(&(household.clone(), visit))
                        .cloned()
                        .unwrap_or_default(),
                ),
                Subject::Other => (
                    match e.action.as_str() {
                        "unmask" => "查看完整信息".into(),
                        "export" => "导出".into(),
                        "reveal" => "手机查看完整信息".into(),
                        other => other.to_owned(),
                    },
                    e.target.clone(),
                    e.detail.clone(),
                ),
            };
            AuditLine {
                when: when(e.at),
                who,
                action,
                target,
                detail,
            }
        })
        .collect();
    render(&AuditPage {
        nav: Nav::of(&user),
        entries: lines,
    })
}
