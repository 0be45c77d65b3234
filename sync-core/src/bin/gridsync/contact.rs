//! `roster` and `contact …`: a 楼栋长 or 单元长's side of the command line.
//! The roster is the masked list of their building's households as the
//! last sync brought it; contacts are recorded against it offline.

use gridsync_core::Store;
use gridsync_core::codes::{AttentionTag, VisitMethod};
use gridsync_core::contact::NewContact;
use serde_json::json;

use crate::args::{ContactAdd, ContactCommand};
use crate::output::{Output, Table, code_of, method_label, or_dash, sex_label, time_cn};

/// `roster`: the households and their people, masked.
pub(crate) fn roster(store: &mut Store) -> anyhow::Result<Output> {
    let Some(r) = store.roster()? else {
        anyhow::bail!(
            "还没有楼栋名册：楼栋长、单元长联网同步一次后可用 / no roster yet: \
             building and unit heads get theirs by syncing once"
        );
    };
    let mut t = Table::new(&["住户编号 id", "单元 unit", "室 room", "居民 residents"]);
    for h in &r.households {
        let people: Vec<String> = h
            .residents
            .iter()
            .map(|p| {
                let tags: Vec<&str> = p
                    .tags
                    .iter()
                    .map(|c| AttentionTag::from_code(c).map_or(c.as_str(), |t| t.name_zh()))
                    .collect();
                let age = p.age.map(|a| format!("{a}岁")).unwrap_or_default();
                let mut s = format!("{} {} {}", p.name, sex_label(p.sex.as_deref()), age);
                if !tags.is_empty() {
                    s.push_str(&format!("（{}）", tags.join("、")));
                }
                if let Some(ph) = &p.phone {
                    s.push_str(&format!(" {ph}"));
                }
                s.trim().to_string()
            })
            .collect();
        t.row(vec![
            h.id.clone(),
            h.place.unit.clone(),
            h.place.room.clone(),
            people.join("；"),
        ]);
    }
    let human = format!(
        "{} {}：{}户（{}更新）\n{}",
        r.post.grid,
        r.post.describe(),
        r.households.len(),
        time_cn(r.at),
        t.render()
    );
    Output::new(&r, human)
}

/// `contact add|list`.
pub(crate) fn contact(store: &mut Store, cmd: ContactCommand) -> anyhow::Result<Output> {
    match cmd {
        ContactCommand::Add(a) => add(store, a),
        ContactCommand::List => list(store),
    }
}

fn add(store: &mut Store, a: ContactAdd) -> anyhow::Result<Output> {
    let method = code_of(
        &a.method,
        VisitMethod::all(),
        VisitMethod::code,
        VisitMethod::name_zh,
    );
    let id = store.log_contact(NewContact {
        household: a.household_id.clone(),
        method,
        findings: a.findings,
        needs: a.needs,
        follow_up: a.follow_up,
    })?;
    Output::new(
        json!({ "household_id": a.household_id, "contact_id": id }),
        format!("已记录联系，联网同步后网格员可见 / contact recorded: {id}"),
    )
}

fn list(store: &mut Store) -> anyhow::Result<Output> {
    let all = store.contacts()?;
    let mut t = Table::new(&[
        "时间 at",
        "住户 household",
        "方式 method",
        "情况 findings",
        "群众诉求 needs",
        "需跟进 follow-up",
    ]);
    for c in &all {
        t.row(vec![
            time_cn(c.at),
            format!("{} {}", c.place.unit, c.place.room)
                .trim()
                .to_string(),
            method_label(&c.method),
            or_dash(Some(c.findings.as_str()).filter(|s| !s.is_empty())),
            or_dash(Some(c.needs.as_str()).filter(|s| !s.is_empty())),
            if c.follow_up { "是" } else { "否" }.into(),
        ]);
    }
    Output::new(&all, t.render())
}
