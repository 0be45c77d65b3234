//! `gridsync issue`: issue reports (事件) from the command line, so the
//! whole closed loop can be scripted: report (with photos), list (open,
//! mine, overdue, nearly due), show one with its steps and deadline, take
//! a step, attach photos, fetch a photo or its thumbnail. Thin calls of the core's `Store` issue functions.

use std::path::Path;

use anyhow::{Context as _, anyhow};
use gridsync_core::Store;
use gridsync_core::issue::{
    self, EventKind, IssuePlace, IssueRow, NewIssue, Source, Stage, StepInput, Urgency,
};
use gridsync_core::sync::{Client, blobs};
use serde_json::json;

use crate::args::{IssueCommand, IssueList, IssueReport, IssueStep};
use crate::output::{Output, Table, key_values, or_dash, time_cn, time_or_never};

pub(crate) fn issue(store: &mut Store, cmd: IssueCommand) -> anyhow::Result<Output> {
    match cmd {
        IssueCommand::Categories => categories(),
        IssueCommand::Report(r) => report(store, r),
        IssueCommand::List(l) => list(store, l),
        IssueCommand::Show { id } => show(store, &id),
        IssueCommand::Step(s) => step(store, s),
        IssueCommand::Attach { id, photos } => attach(store, &id, &photos),
        IssueCommand::Photo {
            hash,
            out,
            thumbnail,
        } => photo(store, &hash, &out, thumbnail),
    }
}

fn read_photo(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| {
        format!(
            "无法读取照片文件 / cannot read the photo {}",
            path.display()
        )
    })
}

/// A code typed by its code or its Chinese name.
fn source_code(s: &str) -> String {
    let all = [
        Source::Patrol,
        Source::Visit,
        Source::Resident,
        Source::Hotline,
    ];
    all.iter()
        .find(|v| v.name_zh() == s.trim())
        .map_or_else(|| s.trim().to_string(), |v| v.code().to_string())
}

fn urgency_code(s: &str) -> String {
    let all = [Urgency::Normal, Urgency::Urgent, Urgency::Critical];
    all.iter()
        .find(|v| v.name_zh() == s.trim())
        .map_or_else(|| s.trim().to_string(), |v| v.code().to_string())
}

fn report(store: &mut Store, r: IssueReport) -> anyhow::Result<Output> {
    // Photos first: nothing is recorded when one cannot be read.
    let photos = r
        .photo
        .iter()
        .map(|p| read_photo(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let new = NewIssue {
        grid: r.grid,
        category: r.category,
        subtype: r.subtype,
        description: r.description,
        place: IssuePlace {
            household: r.household,
            building: r.building,
            lat: r.lat,
            lon: r.lon,
        },
        source: source_code(&r.source),
        urgency: urgency_code(&r.urgency),
        photos: Vec::new(),
        households: Vec::new(),
    };
    let id = store
        .report_issue(new)
        .context("上报事件失败 / could not report the issue")?;
    let mut hashes = Vec::new();
    for data in &photos {
        hashes.push(store.attach_photo(&id, data)?);
    }
    Output::new(
        json!({ "id": id, "photos": hashes }),
        format!(
            "已上报事件 / issue reported: {id}（{} 张照片，同步时上传 / {} photos, uploaded by sync）",
            hashes.len(),
            hashes.len()
        ),
    )
}

fn categories() -> anyhow::Result<Output> {
    let mut t = Table::new(&["类别", "代码", "子类", "代码"]);
    let mut json = Vec::new();
    for c in issue::catalogue::all() {
        for s in c.subtypes {
            t.row(vec![
                c.name.into(),
                c.code.into(),
                s.name.into(),
                s.code.into(),
            ]);
        }
        let subtypes: Vec<_> = c
            .subtypes
            .iter()
            .map(|s| json!({ "code": s.code, "name": s.name }))
            .collect();
        json.push(json!({ "code": c.code, "name": c.name, "subtypes": subtypes }));
    }
    Output::new(json, t.render())
}

fn category_label(category: &str, subtype: &str) -> String {
    let c = issue::catalogue::category(category).map_or(category, |c| c.name);
    let s = issue::catalogue::subtype(category, subtype).map_or(subtype, |s| s.name);
    format!("{c}/{s}")
}

fn row_json(r: &IssueRow, now: i64) -> serde_json::Value {
    json!({
        "id": r.id,
        "grid": r.grid,
        "category": r.category,
        "subtype": r.subtype,
        "description": r.description,
        "stage": r.stage.code(),
        "stage_name": r.stage.name_zh(),
        "level": r.level.code(),
        "assignee": r.assignee,
        "reporter": r.reporter,
        "created_at": r.created_at,
        "deadline": r.deadline,
        "overdue": r.stage == Stage::Dispatched && r.deadline.is_some_and(|d| d < now),
    })
}

fn list(store: &mut Store, l: IssueList) -> anyhow::Result<Output> {
    let grid = l.grid.as_deref();
    let rows = if l.overdue {
        store.overdue_issues(grid)?
    } else if let Some(hours) = l.nearly_due {
        store.issues_nearly_due(grid, i64::from(hours) * 3_600_000)?
    } else if l.mine {
        let me = store.author().clone();
        if !me.is_signed_in() {
            return Err(anyhow!(
                "未登录，请先运行 gridsync login / not signed in: run `gridsync login` first"
            ));
        }
        store.my_open_issues(&me.user)?
    } else {
        store.open_issues_in(grid)?
    };
    let now = store.clock().now_ms();
    let mut t = Table::new(&[
        "编号 id",
        "阶段",
        "类别",
        "网格",
        "处置人",
        "处置期限",
        "描述",
    ]);
    for r in &rows {
        let mut desc: String = r.description.chars().take(20).collect();
        if r.description.chars().count() > 20 {
            desc.push('…');
        }
        let overdue = r.stage == Stage::Dispatched && r.deadline.is_some_and(|d| d < now);
        t.row(vec![
            r.id.clone(),
            r.stage.name_zh().to_string(),
            category_label(&r.category, &r.subtype),
            r.grid.clone(),
            or_dash(r.assignee.as_deref()),
            match r.deadline {
                Some(d) if overdue => format!("{}（已超期）", time_cn(d)),
                Some(d) => time_cn(d),
                None => "-".into(),
            },
            desc,
        ]);
    }
    let json: Vec<_> = rows.iter().map(|r| row_json(r, now)).collect();
    let human = if rows.is_empty() {
        "没有符合条件的事件 / no issues\n".to_string()
    } else {
        t.render()
    };
    Output::new(json, human)
}

fn show(store: &mut Store, id: &str) -> anyhow::Result<Output> {
    let i = store.issue(id)?;
    let deadline = store.issue_deadline(&i)?;
    let now = store.clock().now_ms();
    let superseded: std::collections::HashMap<&str, &str> = i
        .status
        .superseded
        .iter()
        .map(|s| (s.id.as_str(), s.reason.zh.as_str()))
        .collect();
    let mut steps_json = Vec::new();
    let mut t = Table::new(&["时间", "步骤", "操作人", "角色", "处置人", "说明"]);
    for (eid, e) in i.events_in_order() {
        let name = EventKind::from_code(&e.kind).map_or(e.kind.as_str(), |k| k.name_zh());
        let mut note = e.note.clone().unwrap_or_default();
        if let Some(r) = e.rating {
            note = format!("{r}星 {note}");
        }
        if let Some(why) = superseded.get(eid) {
            note = format!("{note}（未生效：{why}）");
        }
        t.row(vec![
            time_cn(e.at),
            name.to_string(),
            e.actor.clone(),
            e.role.clone(),
            or_dash(e.assignee.as_deref()),
            or_dash(Some(note.trim())),
        ]);
        steps_json.push(json!({
            "id": eid,
            "kind": e.kind,
            "name": name,
            "actor": e.actor,
            "role": e.role,
            "at": e.at,
            "assignee": e.assignee,
            "note": e.note,
            "rating": e.rating,
            "superseded": superseded.get(eid),
        }));
    }
    let row = IssueRow {
        id: i.id.clone(),
        grid: i.grid.clone(),
        category: i.category.clone(),
        subtype: i.subtype.clone(),
        stage: i.status.stage,
        level: i.status.level,
        assignee: i.status.assignee.clone(),
        reporter: i.reporter.clone(),
        description: i.description.clone(),
        created_at: i.created_at,
        deadline,
    };
    let mut j = row_json(&row, now);
    let source = Source::from_code(&i.source).map_or(i.source.as_str(), |s| s.name_zh());
    let urgency = Urgency::from_code(&i.urgency).map_or(i.urgency.as_str(), |u| u.name_zh());
    j["source"] = json!(i.source);
    j["urgency"] = json!(i.urgency);
    j["place"] = json!({
        "household": i.place.household,
        "building": i.place.building,
        "lat": i.place.lat,
        "lon": i.place.lon,
    });
    j["photos"] = json!(i.photos);
    j["rating"] = json!(i.status.rating);
    j["steps"] = json!(steps_json);
    let mut human = key_values(&[
        ("编号 id", i.id.clone()),
        ("类别", category_label(&i.category, &i.subtype)),
        ("描述", i.description.clone()),
        ("阶段", i.status.stage.name_zh().to_string()),
        ("网格", i.grid.clone()),
        ("来源", source.to_string()),
        ("紧急程度", urgency.to_string()),
        ("位置", or_dash(i.place.building.as_deref())),
        ("上报人", i.reporter.clone()),
        ("上报时间", time_cn(i.created_at)),
        ("处置人", or_dash(i.status.assignee.as_deref())),
        ("处置期限", time_or_never(deadline).replace("从未", "-")),
        ("照片", i.photos.len().to_string()),
    ]);
    human.push('\n');
    human.push_str(&t.render());
    Output::new(j, human)
}

fn step(store: &mut Store, s: IssueStep) -> anyhow::Result<Output> {
    let kind = EventKind::ALL
        .into_iter()
        .find(|k| k.code() == s.kind.trim() || k.name_zh() == s.kind.trim())
        .filter(|k| *k != EventKind::Report)
        .ok_or_else(|| {
            anyhow!(
                "未知的步骤 / unknown step: 可用 accept 受理, dispatch 派遣, handle 处置, \
                 feedback 反馈, verify_pass 核查通过, verify_fail 核查不通过, close 结案, rate 评价, \
                 escalate 上报上级, withdraw 撤销"
            )
        })?;
    let photos = s
        .photo
        .iter()
        .map(|p| read_photo(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let eid = store
        .append_event(
            &s.id,
            kind,
            StepInput {
                assignee: s.assignee,
                note: s.note,
                rating: s.rating,
            },
        )
        .with_context(|| format!("{}失败 / could not {}", kind.name_zh(), kind.code()))?;
    let mut hashes = Vec::new();
    for data in &photos {
        hashes.push(store.attach_photo(&s.id, data)?);
    }
    let stage = store.issue(&s.id)?.status.stage;
    Output::new(
        json!({ "id": s.id, "step_id": eid, "kind": kind.code(), "stage": stage.code(), "photos": hashes }),
        format!(
            "已{} / {} recorded: 事件现在{}（同步后生效，服务器核对角色） / now {} (takes effect when synced; the server checks the role)",
            kind.name_zh(),
            kind.code(),
            stage.name_zh(),
            stage.code()
        ),
    )
}

fn photo(store: &mut Store, hash: &str, out: &Path, thumbnail: bool) -> anyhow::Result<Output> {
    let client = Client::new(&crate::remote::server(store)?)?;
    let data = if thumbnail {
        blobs::fetch_thumbnail(store, &client, hash)?
    } else {
        blobs::fetch_blob(store, &client, hash)?
    };
    std::fs::write(out, &data)
        .with_context(|| format!("无法写入文件 / cannot write {}", out.display()))?;
    Output::new(
        json!({ "hash": hash, "bytes": data.len(), "out": out }),
        format!(
            "已保存 {} 字节到 / {} bytes written to {}",
            data.len(),
            data.len(),
            out.display()
        ),
    )
}

fn attach(store: &mut Store, id: &str, photos: &[std::path::PathBuf]) -> anyhow::Result<Output> {
    let data = photos
        .iter()
        .map(|p| read_photo(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut hashes = Vec::new();
    for d in &data {
        hashes.push(store.attach_photo(id, d)?);
    }
    Output::new(
        json!({ "id": id, "photos": hashes }),
        format!(
            "已添加{}张照片，同步时上传 / {} photos attached, uploaded by sync",
            hashes.len(),
            hashes.len()
        ),
    )
}
