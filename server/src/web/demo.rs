//! Demo data for the supervisor pages: issue reports at every stage a
//! supervisor acts on (some overdue, one dispatched to 城管 for the
//! department's queue), a same-field conflict (one phone
//! edited offline on two phones), a suspected duplicate household and a
//! person recorded twice in one household, so a
//! newcomer — and the browser tests — find something in the report list
//! and the review queue. Written by in-memory devices and pushed like any
//! phone's changes. Nobody in it is real.

use anyhow::Context;
use gridsync_core::clock::Clock;
use gridsync_core::doc::Author;
use gridsync_core::household::{Household, NewHousehold, Resident};
use gridsync_core::issue::{
    EventKind, IssuePlace, NewIssue, StepInput, catalogue, department_assignee,
};
use gridsync_core::{OpenOptions, Store};

use crate::principal::Role;
use crate::state::AppState;
use crate::store::IncomingChange;

const DAY_MS: i64 = 86_400_000;

/// Reports seeded per grid: (category, subtype, description, building,
/// steps after the report).
const REPORTS: &[(&str, &str, &str, &str, &[EventKind])] = &[
    (
        "dispute",
        "neighbour",
        "楼上漏水引发邻里纠纷，双方情绪激动",
        "1号楼",
        &[],
    ),
    (
        "sanitation",
        "garbage",
        "小区东门垃圾桶满溢，无人清运",
        "小区东门",
        &[EventKind::Accept],
    ),
    (
        "parking",
        "fire_lane",
        "消防通道有车辆长期停放",
        "2号楼北侧",
        &[EventKind::Accept, EventKind::Dispatch],
    ),
    (
        "illegal_building",
        "occupation",
        "小区南门流动摊贩占道经营",
        "南门",
        &[EventKind::Accept, EventKind::Dispatch],
    ),
    (
        "public_order",
        "noise",
        "夜间广场舞噪声扰民",
        "中心广场",
        &[
            EventKind::Accept,
            EventKind::Dispatch,
            EventKind::Handle,
            EventKind::Feedback,
            EventKind::VerifyPass,
        ],
    ),
];

fn changes_of(device: &Store) -> anyhow::Result<Vec<IncomingChange>> {
    Ok(device
        .outbox(usize::MAX >> 1)?
        .into_iter()
        .map(|e| IncomingChange {
            doc_id: e.doc_id,
            data: e.data,
        })
        .collect())
}

async fn push(state: &AppState, user: &str, changes: Vec<IncomingChange>) -> anyhow::Result<()> {
    let guard = crate::scope::Guard::new(
        crate::sync::server_principal(),
        crate::sync::validate::document,
    );
    let outcome = state
        .docs
        .push(changes, Some(user.to_owned()), None, Box::new(guard))
        .await?;
    if let Some(r) = outcome.rejected.first() {
        anyhow::bail!("demo data refused: {}", r.refusal.reason);
    }
    Ok(())
}

/// Seed reports in every grid under `community`, and a conflict and a
/// duplicate in its first grid.
pub async fn seed(state: &AppState, community: &str) -> anyhow::Result<()> {
    let grids = state.directory.grids(community).await?;
    let users = state.directory.users().await?;
    let now = Clock::System.now_ms();
    for grid in &grids {
        let Some(worker) = users
            .iter()
            .find(|u| u.role == Role::GridWorker && u.grids.contains(&grid.code))
        else {
            continue;
        };
        let grid_doc = crate::sync::grid_doc_id(&grid.code);
        let saved = state
            .docs
            .load(&grid_doc)
            .await?
            .context("grid document missing")?;
        let (code, worker_id) = (grid.code.clone(), worker.id.clone());
        let changes = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            // Reported and dispatched eight days ago: the short time limits
            // have run out, so the overview shows overdue reports.
            let mut device = Store::open_in_memory(OpenOptions {
                clock: Clock::Fixed(now - 8 * DAY_MS),
                ..OpenOptions::default()
            })?;
            device.set_author(Author {
                user: worker_id.clone(),
                role: "grid_worker".into(),
            })?;
            device.apply_remote(&grid_doc, &[saved])?;
            for (category, subtype, description, building, steps) in REPORTS {
                let id = device.report_issue(NewIssue {
                    grid: code.clone(),
                    category: (*category).into(),
                    subtype: (*subtype).into(),
                    description: (*description).into(),
                    place: IssuePlace {
                        building: Some((*building).into()),
                        ..IssuePlace::default()
                    },
                    source: "patrol".into(),
                    urgency: "normal".into(),
                    ..NewIssue::default()
                })?;
                // 吹哨报到: a report usually handled by a department is
                // dispatched to it (the 城管 queue has work in the demo).
                let assignee =
                    match catalogue::subtype(category, subtype).and_then(|s| s.department) {
                        Some(d) if *category == "illegal_building" => department_assignee(d),
                        _ => worker_id.clone(),
                    };
                for step in *steps {
                    let input = StepInput {
                        assignee: (*step == EventKind::Dispatch).then(|| assignee.clone()),
                        ..StepInput::default()
                    };
                    device.append_event(&id, *step, input)?;
                }
            }
            changes_of(&device)
        })
        .await??;
        push(state, &worker.id, changes).await?;
    }
    if let Some(first) = grids.first() {
        seed_review(state, &first.code, &users).await?;
    }
    Ok(())
}

/// A conflict (a resident's phone changed on two phones offline) and a
/// duplicate (the same flat recorded again, with the same person) in `grid`.
async fn seed_review(
    state: &AppState,
    grid: &str,
    users: &[crate::directory::User],
) -> anyhow::Result<()> {
    super::readmodel::catch_up(state)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let rows = super::readmodel::households_in(state.web.model(), grid, None, None).await?;
    let (Some(first), Some(second)) = (rows.first(), rows.get(1)) else {
        return Ok(());
    };
    let worker = users
        .iter()
        .find(|u| u.role == Role::GridWorker && u.grids.iter().any(|g| g == grid))
        .context("no grid worker")?
        .id
        .clone();
    let holder = users
        .iter()
        .find(|u| u.role == Role::PackageHolder)
        .map(|u| u.id.clone())
        .unwrap_or_else(|| worker.clone());
    let grid_doc = crate::sync::grid_doc_id(grid);
    let mut docs = Vec::new();
    for id in [&first.id, &second.id, &grid_doc] {
        docs.push((
            id.clone(),
            state.docs.load(id).await?.context("document missing")?,
        ));
    }
    let (a_id, b_id) = (first.id.clone(), second.id.clone());
    let changes = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut changes = Vec::new();
        let second: Household = {
            let doc = automerge::Automerge::load(&docs[1].1)?;
            gridsync_core::doc::read(&doc, None)?
        };
        let first: Household = {
            let doc = automerge::Automerge::load(&docs[0].1)?;
            gridsync_core::doc::read(&doc, None)?
        };
        let resident = first
            .current_residents()
            .next()
            .map(|(k, _)| k.to_owned())
            .context("household without residents")?;
        for (who, role, phone) in [
            (&worker, "grid_worker", "13900001111"),
            (&holder, "package_holder", "13700002222"),
        ] {
            let mut device = Store::open_in_memory(OpenOptions::default())?;
            device.set_author(Author {
                user: who.clone(),
                role: role.into(),
            })?;
            for (id, bytes) in &docs {
                device.apply_remote(id, std::slice::from_ref(bytes))?;
            }
            device.update_resident(&a_id, &resident, |r| r.phone = Some(phone.into()))?;
            if role == "package_holder"
                && let Some((_, again)) = first.current_residents().nth(1)
            {
                // A member of the household recorded a second time.
                device.add_resident(&a_id, again.clone())?;
            }
            if role == "grid_worker" {
                // The same flat recorded again before the first record synced.
                let head = second
                    .current_residents()
                    .next()
                    .map(|(_, r)| r.clone())
                    .unwrap_or_else(|| Resident::named("王秀英"));
                device.create_household(NewHousehold {
                    grid: second.grid.clone(),
                    place: second.place.clone(),
                    house: second.house.clone(),
                    holder: None,
                    tags: Default::default(),
                    residents: vec![head],
                })?;
            }
            changes.push((who.clone(), changes_of(&device)?));
        }
        let _ = b_id;
        Ok(changes)
    })
    .await??;
    for (who, c) in changes {
        push(state, &who, c).await?;
    }
    Ok(())
}
