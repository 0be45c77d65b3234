//! A household: its residents (masked unless revealed, which is
//! audited), its visits and doorstep contacts, and its ledger history in
//! words.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use gridsync_core::codes;
use gridsync_core::household::Household;
use serde::Deserialize;

use super::super::format::{address_of, code_zh, label, tags_zh, urlencode, when};
use super::super::readmodel;
use super::super::session::WebUser;
use super::super::{WebError, WebResult, access, audit, mask, render};
use super::{Crumb, Nav, crumbs};
use crate::state::AppState;

/// `?reveal=1` of the household page.
#[derive(Debug, Deserialize)]
pub struct RevealQuery {
    #[serde(default)]
    reveal: Option<u8>,
}

/// A resident line.
pub struct ResidentLine {
    /// Name.
    pub name: String,
    /// ID number, masked unless revealed.
    pub id_number: String,
    /// Phone, masked unless revealed.
    pub phone: String,
    /// Relation, in Chinese.
    pub relation: String,
    /// Residence status, in Chinese.
    pub status: String,
    /// Tags, in Chinese.
    pub tags: String,
}

/// A visit line.
pub struct VisitLine {
    /// When.
    pub when: String,
    /// Who.
    pub who: String,
    /// How.
    pub method: String,
    /// What was found.
    pub findings: String,
    /// The 群众诉求 noted, if any.
    pub needs: String,
    /// Whether a follow-up was asked for.
    pub follow_up: bool,
    /// For a need: 待处理, or 已处理 with who and when.
    pub handled: String,
}

/// A history line.
pub struct HistoryLine {
    /// When.
    pub when: String,
    /// Who.
    pub who: String,
    /// What kind of change.
    pub op: String,
    /// Resident concerned, if any.
    pub resident: String,
    /// Fields written, `字段: 值`.
    pub fields: String,
}

#[derive(askama::Template)]
#[template(path = "household.html")]
struct HouseholdPage {
    nav: Nav,
    crumbs: Vec<Crumb>,
    address: String,
    holder: String,
    revealed: bool,
    may_reveal: bool,
    reveal_link: String,
    /// The residents table's headings, from the core's field labels.
    headings: Vec<&'static str>,
    /// What revealing shows: 公民身份号码和联系电话.
    shown: String,
    residents: Vec<ResidentLine>,
    visits: Vec<VisitLine>,
    history: Vec<HistoryLine>,
}

/// The fields one change wrote, in words: each key by its label, each
/// code by its name in the core's code tables, tags by name, ID numbers
/// and phones masked unless `revealed`, people and grids by name. Visits
/// (listed apart) and bookkeeping keys are left out. Returns the resident
/// concerned (if any) and the text.
fn history_fields(
    fields: &[gridsync_core::doc::FieldChange],
    h: &Household,
    revealed: bool,
    name_of: &dyn Fn(&str) -> String,
    grids: &HashMap<String, String>,
) -> (String, String) {
    let mut resident = String::new();
    let mut parts = Vec::new();
    let mut groups: Vec<&str> = Vec::new();
    let (mut tags_on, mut tags_off, mut distinct) = (Vec::new(), Vec::new(), false);
    for f in fields {
        let path: Vec<&str> = f.path.iter().map(String::as_str).collect();
        let (Some(&first), Some(&last)) = (path.first(), path.last()) else {
            continue;
        };
        let bookkeeping = matches!(
            last,
            "kind" | "schema" | "id" | "created_at" | "created_by" | "merged_heads"
        );
        if first == "visits" || bookkeeping {
            continue;
        }
        if first == "residents"
            && let Some(key) = path.get(1)
            && let Some(r) = h.residents.get(*key)
        {
            resident = r.name.clone();
        }
        // Tag sets are maps {code: true}: a tag added or taken off.
        if path.len() >= 2 && path[path.len() - 2] == "tags" {
            let name = codes::code_name("tags", last).unwrap_or(last);
            if f.deleted {
                tags_off.push(name);
            } else {
                tags_on.push(name);
            }
            continue;
        }
        if first == "distinct_from" {
            distinct |= !f.deleted;
            continue;
        }
        let value = match &f.value {
            // A field written empty (a new resident's unset fields).
            serde_json::Value::Null if !f.deleted => continue,
            serde_json::Value::Null => "（清空）".to_owned(),
            serde_json::Value::Bool(b) => if *b { "是" } else { "否" }.to_owned(),
            serde_json::Value::String(v) => match last {
                "holder" => name_of(v),
                "id_number" => mask::shown(Some(v), revealed, mask::id_number),
                "phone" => mask::shown(Some(v), revealed, mask::phone),
                "grid" => grids.get(v).cloned().unwrap_or_else(|| v.clone()),
                "merged_into" if first == "residents" => h
                    .residents
                    .get(v)
                    .map(|r| r.name.clone())
                    .unwrap_or_else(|| "另一条登记".into()),
                "merged_into" => "另一住户".into(),
                _ => codes::code_name(last, v)
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.clone()),
            },
            other => other.to_string(),
        };
        // The household's own fields first, then each resident's together,
        // each group in the label table's order.
        let group = match (first, path.get(1)) {
            ("residents", Some(key)) => match groups.iter().position(|g| g == key) {
                Some(i) => i + 1,
                None => {
                    groups.push(*key);
                    groups.len()
                }
            },
            _ => 0,
        };
        parts.push((
            group,
            codes::field_rank(last),
            format!("{}: {value}", label(last)),
        ));
    }
    parts.sort_by_key(|(group, rank, _)| (*group, *rank));
    let mut parts: Vec<String> = parts.into_iter().map(|(_, _, text)| text).collect();
    if !tags_on.is_empty() {
        parts.push(format!("{}: {}", label("tags"), tags_on.join("、")));
    }
    if !tags_off.is_empty() {
        parts.push(format!("取消{}: {}", label("tags"), tags_off.join("、")));
    }
    if distinct {
        parts.push(label("distinct_from").to_owned());
    }
    parts.truncate(12);
    (resident, parts.join("；"))
}

/// The ledger history in words, newest first: who made each change (the
/// person the server recorded), what kind, and the fields it wrote.
async fn history_lines(
    state: &AppState,
    id: &str,
    history: Vec<gridsync_core::doc::HistoryEntry>,
    h: &Household,
    revealed: bool,
    name_of: &(dyn Fn(&str) -> String + Sync),
) -> WebResult<Vec<HistoryLine>> {
    // Who made each change: the person the server recorded from the token
    // that pushed it, not the name a change's message gives (the server
    // itself, seeding demo data, pushes under the names it gives).
    let pushers: HashMap<String, String> = state
        .docs
        .pushers(id)
        .await?
        .into_iter()
        .filter(|(_, user)| user != crate::sync::SERVER_USER)
        .collect();
    // Grids a change moved the household to, by name.
    let mut grids = HashMap::new();
    for e in &history {
        for f in &e.fields {
            if f.path.len() == 1
                && f.path[0] == "grid"
                && let Some(code) = f.value.as_str()
                && !grids.contains_key(code)
                && let Some(g) = state.directory.grid(code).await?
            {
                grids.insert(code.to_owned(), g.name);
            }
        }
    }
    Ok(history
        .into_iter()
        .rev()
        .map(|e| {
            let (resident, fields) = history_fields(&e.fields, h, revealed, name_of, &grids);
            HistoryLine {
                when: when(e.at),
                who: pushers
                    .get(&e.hash)
                    .map(String::as_str)
                    .or(e.by.as_deref())
                    .map(name_of)
                    .unwrap_or_else(|| "—".into()),
                op: e
                    .op
                    .as_deref()
                    .map(gridsync_core::store::op_name)
                    .unwrap_or_default(),
                resident,
                fields,
            }
        })
        .collect())
}

/// How a visit or doorstep contact was made, in Chinese (the code itself
/// when the core does not know it).
fn method_zh(method: &str) -> String {
    gridsync_core::codes::VisitMethod::from_code(method)
        .map(|m| m.name_zh().to_owned())
        .unwrap_or_else(|_| method.to_owned())
}

/// Whether what a visit or contact noted was handled: 已处理 with who and
/// when, 待处理 for a need or follow-up not handled yet, nothing otherwise.
fn handled(
    closed: Option<&(String, i64)>,
    needs: &str,
    follow_up: bool,
    name_of: &dyn Fn(&str) -> String,
) -> String {
    match closed {
        Some((by, at)) => format!("已处理（{}，{}）", name_of(by), when(*at)),
        None if !needs.trim().is_empty() || follow_up => "待处理".into(),
        None => String::new(),
    }
}

/// `GET /web/h/{id}`: a household, its residents (masked unless revealed,
/// which is audited), its visits and its ledger history.
pub async fn household(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Query(q): Query<RevealQuery>,
) -> WebResult<Response> {
    let p = user.principal();
    let facts = state.docs.facts(&id).await?.ok_or(WebError::NotFound)?;
    if facts.kind != gridsync_core::household::KIND {
        return Err(WebError::NotFound);
    }
    if !access::may_read_grid(p, &facts.scope) {
        return Err(WebError::Forbidden);
    }
    let bytes = state.docs.load(&id).await?.ok_or(WebError::NotFound)?;
    let (h, history) = tokio::task::spawn_blocking(move || {
        let doc = automerge::Automerge::load(&bytes).map_err(|e| e.to_string())?;
        let h: Household = gridsync_core::doc::read(&doc, None).map_err(|e| e.to_string())?;
        Ok::<_, String>((h, gridsync_core::doc::history(&doc)))
    })
    .await?
    .map_err(WebError::Internal)?;

    let may_reveal = access::may_unmask(p);
    let revealed = q.reveal == Some(1) && may_reveal;
    if q.reveal == Some(1) && !may_reveal {
        return Err(WebError::Forbidden);
    }
    if revealed {
        audit::record(
            state.web.main(),
            p,
            "unmask",
            &format!("household:{id}"),
            &format!("{}、{}", label("id_number"), label("phone")),
        )
        .await?;
    }
    let users = state.directory.users().await?;
    let name_of = |uid: &str| -> String {
        users
            .iter()
            .find(|u| u.id == uid)
            .map(|u| u.display_name.clone())
            .unwrap_or_else(|| {
                if uid == "server" || uid == "local" {
                    "系统".into()
                } else {
                    "（未登记）".into()
                }
            })
    };
    let residents = h
        .current_residents()
        .map(|(_, r)| ResidentLine {
            name: r.name.clone(),
            id_number: mask::shown(r.id_number.as_deref(), revealed, mask::id_number),
            phone: mask::shown(r.phone.as_deref(), revealed, mask::phone),
            relation: code_zh("relation", r.relation.as_deref()),
            status: code_zh("status", r.status.as_deref()),
            tags: tags_zh(r.tags.iter()),
        })
        .collect();
    let closed =
        super::super::needs::closures(state.web.main(), h.visits.keys().cloned().collect()).await?;
    let visits: Vec<VisitLine> = h
        .visits_in_order()
        .into_iter()
        .rev()
        .take(50)
        .map(|(key, v)| VisitLine {
            when: when(v.at),
            who: name_of(&v.visitor),
            method: method_zh(&v.method),
            findings: v.findings.clone(),
            needs: v.needs.clone(),
            follow_up: v.follow_up,
            handled: handled(closed.get(key), &v.needs, v.follow_up, &name_of),
        })
        .collect();
    // What the building's 楼栋长/单元长 noted at the door, among the visits.
    let contacts = readmodel::contacts_of(state.web.model(), &id).await?;
    let contact_closed = super::super::needs::closures(
        state.web.main(),
        contacts.iter().map(|c| c.id.clone()).collect(),
    )
    .await?;
    let mut dated: Vec<(i64, VisitLine)> = h
        .visits_in_order()
        .into_iter()
        .rev()
        .map(|(_, v)| v.at)
        .zip(visits)
        .collect();
    dated.extend(contacts.into_iter().map(|c| {
        let line = VisitLine {
            when: when(c.at),
            who: format!(
                "{}（{}）",
                name_of(&c.by),
                gridsync_core::issue::duty::role_name_zh(&c.role)
            ),
            method: method_zh(&c.method),
            handled: handled(contact_closed.get(&c.id), &c.needs, c.follow_up, &name_of),
            findings: c.findings,
            needs: c.needs,
            follow_up: c.follow_up,
        };
        (c.at, line)
    }));
    dated.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let mut visits: Vec<VisitLine> = dated.into_iter().map(|(_, l)| l).collect();
    visits.truncate(50);
    let history = history_lines(&state, &id, history, &h, revealed, &name_of).await?;
    let mut crumbs = crumbs(&state, &user, &h.grid).await?;
    crumbs.push(Crumb {
        link: format!(
            "/web/g/{}/building?c={}&b={}",
            h.grid,
            urlencode(&h.place.compound),
            urlencode(&h.place.building)
        ),
        name: format!("{} {}", h.place.compound, h.place.building),
    });
    let address = address_of([
        &h.place.area,
        &h.place.compound,
        &h.place.building,
        &h.place.unit,
        &h.place.room,
    ]);
    crumbs.push(Crumb {
        link: String::new(),
        name: format!("{} {}室", h.place.unit, h.place.room),
    });
    render(&HouseholdPage {
        nav: Nav::of(&user),
        crumbs,
        address,
        holder: h
            .holder
            .as_deref()
            .map(name_of)
            .unwrap_or_else(|| "未指定".into()),
        revealed,
        may_reveal,
        reveal_link: format!("/web/h/{id}?reveal=1"),
        headings: ["name", "id_number", "phone", "relation", "status", "tags"]
            .into_iter()
            .map(|k| codes::field_label(k).unwrap_or(k))
            .collect(),
        shown: format!("{}和{}", label("id_number"), label("phone")),
        residents,
        visits,
        history,
    })
}
