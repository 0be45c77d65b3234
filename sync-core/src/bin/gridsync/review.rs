//! What needs a person after syncs: field conflicts, suspected duplicates,
//! changes the server refused; and looking into any document: its history
//! and its whole content.

use gridsync_core::Store;
use gridsync_core::doc::{self, Conflict, HistoryEntry};
use gridsync_core::store::{DuplicateKind, DuplicateSuspect};
use serde::Serialize;
use serde_json::json;

use crate::ledger::address;
use crate::output::{Output, Table, key_values, time_cn};

/// The conflicts of one document.
#[derive(Debug, Serialize)]
pub(crate) struct DocConflicts {
    pub(crate) doc_id: String,
    pub(crate) kind: String,
    pub(crate) conflicts: Vec<Conflict>,
}

/// Conflicts of every document in the store, reading each in turn.
pub(crate) fn all_conflicts(store: &mut Store) -> anyhow::Result<Vec<DocConflicts>> {
    let mut out = Vec::new();
    for (id, kind, _) in store.documents()? {
        let conflicts = store.conflicts(&id)?;
        if !conflicts.is_empty() {
            out.push(DocConflicts {
                doc_id: id,
                kind,
                conflicts,
            });
        }
    }
    Ok(out)
}

/// `residents/<rid>/phone` as path segments.
fn split_path(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => format!("“{s}”"),
        other => other.to_string(),
    }
}

pub(crate) fn conflicts(store: &mut Store, doc_id: Option<&str>) -> anyhow::Result<Output> {
    let docs = match doc_id {
        Some(id) => {
            let conflicts = store.conflicts(id)?;
            let kind = store
                .documents()?
                .into_iter()
                .find(|(d, _, _)| d == id)
                .map(|(_, k, _)| k)
                .unwrap_or_default();
            vec![DocConflicts {
                doc_id: id.to_string(),
                kind,
                conflicts,
            }]
        }
        None => all_conflicts(store)?,
    };
    let total: usize = docs.iter().map(|d| d.conflicts.len()).sum();
    let mut human = String::new();
    for d in docs.iter().filter(|d| !d.conflicts.is_empty()) {
        human.push_str(&format!("记录 / document {} ({})\n", d.doc_id, d.kind));
        for c in &d.conflicts {
            let path = c.path.join("/");
            human.push_str(&format!("  {path}\n"));
            let mut t = Table::new(&["", "值 / value", "修改人 / by", "时间 / at", ""]);
            for (i, v) in c.values.iter().enumerate() {
                t.row(vec![
                    format!("    [{i}]"),
                    value_text(&v.value),
                    v.by.clone().unwrap_or_else(|| "-".into()),
                    time_cn(v.at),
                    if v.winner {
                        "← 当前显示 / shown".into()
                    } else {
                        String::new()
                    },
                ]);
            }
            human.push_str(&t.render());
            human.push_str(&format!(
                "    选定 / choose: gridsync resolve {} --path {path} --choose N\n",
                d.doc_id
            ));
        }
    }
    human.push_str(&format!(
        "共 {total} 处冲突 / {total} conflicts（北京时间 / UTC+8）\n"
    ));
    let json: Vec<&DocConflicts> = docs.iter().filter(|d| !d.conflicts.is_empty()).collect();
    Output::new(json, human)
}

pub(crate) fn resolve(
    store: &mut Store,
    doc_id: &str,
    path: &str,
    choose: usize,
) -> anyhow::Result<Output> {
    let segments = split_path(path);
    store.resolve_conflict(doc_id, &segments, choose)?;
    Output::new(
        json!({ "doc_id": doc_id, "path": segments, "choice": choose }),
        format!("已选定 / resolved: {path} = [{choose}]"),
    )
}

fn kind_label(kind: DuplicateKind) -> &'static str {
    match kind {
        DuplicateKind::Household => "同址住户 / same address",
        DuplicateKind::ResidentInHousehold => "户内同一人 / same person, one household",
        DuplicateKind::ResidentAcrossHouseholds => "跨户同一人 / same person, two households",
    }
}

pub(crate) fn duplicates(store: &mut Store) -> anyhow::Result<Output> {
    let suspects = store.duplicate_suspects()?;
    let mut human = String::new();
    for (n, s) in suspects.iter().enumerate() {
        human.push_str(&format!("#{} {}\n", n + 1, kind_label(s.kind)));
        human.push_str(&describe_suspect(store, s));
    }
    human.push_str(&format!(
        "共 {} 处疑似重复 / {} suspected duplicates\n",
        suspects.len(),
        suspects.len()
    ));
    Output::new(&suspects, human)
}

/// The records of a suspected pair as people recognise them, and what to run.
fn describe_suspect(store: &mut Store, s: &DuplicateSuspect) -> String {
    let [ha, hb] = &s.households;
    let place = |store: &mut Store, h: &str| {
        store
            .household(h)
            .map(|h| address(&h.place))
            .unwrap_or_else(|_| "?".into())
    };
    let name = |store: &mut Store, h: &str, r: &str| {
        store
            .resident(h, r)
            .map(|r| r.name)
            .unwrap_or_else(|_| "?".into())
    };
    match (&s.residents, s.kind) {
        (Some([ra, rb]), DuplicateKind::ResidentInHousehold) => {
            let addr = place(store, ha);
            let (na, nb) = (name(store, ha, ra), name(store, hb, rb));
            let mut out = key_values(&[
                ("    住户 / household", format!("{ha}  {addr}")),
                ("    居民 / residents", format!("{ra} {na}  ·  {rb} {nb}")),
            ]);
            out.push_str(&format!(
                "    合并 / merge: gridsync merge-residents {ha} {ra} {rb}\n"
            ));
            out
        }
        (Some([ra, rb]), _) => {
            let (pa, pb) = (place(store, ha), place(store, hb));
            let (na, nb) = (name(store, ha, ra), name(store, hb, rb));
            let mut out = key_values(&[
                ("    甲 / A", format!("{ha}/{ra} {na}  {pa}")),
                ("    乙 / B", format!("{hb}/{rb} {nb}  {pb}")),
            ]);
            out.push_str(
                "    核实后注销其一 / check, then take one off: gridsync resident remove HOUSEHOLD RESIDENT\n",
            );
            out
        }
        (None, _) => {
            let (pa, pb) = (place(store, ha), place(store, hb));
            let mut out = key_values(&[
                ("    甲 / A", format!("{ha}  {pa}")),
                ("    乙 / B", format!("{hb}  {pb}")),
            ]);
            out.push_str(&format!(
                "    合并 / merge: gridsync merge {ha} {hb}    不是重复 / not the same: gridsync dismiss {ha} {hb}\n"
            ));
            out
        }
    }
}

pub(crate) fn merge(store: &mut Store, a: &str, b: &str) -> anyhow::Result<Output> {
    let survivor = store.merge_households(a, b)?;
    Output::new(
        json!({ "survivor": survivor }),
        format!("已合并，保留 / merged into: {survivor}"),
    )
}

pub(crate) fn dismiss(store: &mut Store, a: &str, b: &str) -> anyhow::Result<Output> {
    store.dismiss_duplicate(a, b)?;
    Output::new(
        json!({ "dismissed": [a, b] }),
        "已确认不是重复 / marked as not duplicates",
    )
}

pub(crate) fn merge_residents(
    store: &mut Store,
    household: &str,
    a: &str,
    b: &str,
) -> anyhow::Result<Output> {
    let kept = store.merge_residents(household, a, b)?;
    Output::new(
        json!({ "household_id": household, "kept": kept }),
        format!("已合并，保留 / merged into: {kept}"),
    )
}

pub(crate) fn rejected(store: &Store) -> anyhow::Result<Output> {
    let rows = store.rejected_changes()?;
    let mut t = Table::new(&[
        "时间 / at",
        "记录编号 / document",
        "操作 / edit",
        "代码 / code",
        "原因 / reason",
        "怎么办 / what to do",
    ]);
    for r in &rows {
        t.row(vec![
            time_cn(r.at),
            r.doc_id.clone(),
            r.what.clone(),
            r.code.clone(),
            r.reason.clone(),
            r.advice.clone(),
        ]);
    }
    let mut human = t.render();
    human.push_str(&format!(
        "共 {} 条被拒绝的修改 / {} refused changes（北京时间 / UTC+8）\n",
        rows.len(),
        rows.len()
    ));
    if !rows.is_empty() {
        human.push_str(
            "被拒绝的修改已从记录中移出，之后的修改照常上传；放弃某记录被拒绝的修改 / \
             refused changes are set aside (later edits are sent as usual); to discard them: \
             gridsync discard DOC_ID\n",
        );
    }
    Output::new(&rows, human)
}

pub(crate) fn discard(store: &mut Store, doc_id: &str) -> anyhow::Result<Output> {
    let n = store.discard_rejected(doc_id)?;
    Output::new(
        json!({ "doc_id": doc_id, "discarded": n }),
        format!("已撤销 {n} 条被拒绝的修改 / discarded {n} refused changes"),
    )
}

pub(crate) fn history(
    store: &mut Store,
    doc_id: &str,
    path: Option<&str>,
) -> anyhow::Result<Output> {
    let prefix = path.map(split_path);
    let entries: Vec<HistoryEntry> = store
        .history(doc_id)?
        .into_iter()
        .filter_map(|mut e| {
            if let Some(p) = &prefix {
                e.fields.retain(|f| f.path.starts_with(p));
                if e.fields.is_empty() {
                    return None;
                }
            }
            Some(e)
        })
        .collect();
    let mut human = String::new();
    for e in &entries {
        human.push_str(&format!(
            "{}  {}  {}\n",
            time_cn(e.at),
            e.by.as_deref().unwrap_or("-"),
            e.op.as_deref().unwrap_or("-"),
        ));
        for f in &e.fields {
            let path = f.path.join("/");
            let (label, name) = gridsync_core::codes::field_in_words(&f.path, &f.value);
            if f.deleted {
                human.push_str(&format!("    {label}（{path}）  已删除 / deleted\n"));
            } else {
                let value = name.unwrap_or_else(|| value_text(&f.value));
                human.push_str(&format!("    {label}（{path}） = {value}\n"));
            }
        }
    }
    human.push_str(&format!(
        "共 {} 次修改 / {} changes（北京时间 / UTC+8）\n",
        entries.len(),
        entries.len()
    ));
    Output::new(&entries, human)
}

pub(crate) fn show(store: &mut Store, doc_id: &str) -> anyhow::Result<Output> {
    let saved = store.export_doc(doc_id)?;
    let document = automerge::Automerge::load(&saved).map_err(gridsync_core::Error::from)?;
    let value: serde_json::Value = doc::read(&document, None)?;
    Output::json(value)
}
