//! `gridsync-server demo` (and `serve --demo`): seed a realistic community
//! so a newcomer sees data at once: one street, one community of a few
//! grids with their buildings, hundreds of households with made-up Chinese
//! names, valid ID numbers, residents and visits, and a user for each role.
//! The households are the core's believable families ([`gridsync_core::demo`]:
//! relations, ages and ID numbers that agree, tags that fit, visits in
//! working hours, a few households without a 包保责任人, now and then a
//! 群众诉求); the grid workers' and two package-holders' phones are
//! signed in, a third package-holder, newly appointed to some households,
//! never synced (the overview flags her); the needs noted more than two weeks ago are marked handled, the
//! recent ones wait on the overview; [`crate::web::demo`] adds reports
//! (some overdue), a conflict and duplicates. Nobody in it is real.

use anyhow::Context;
use clap::Args;
use gridsync_core::contact::{NewContact, Post, Roster, RosterHousehold};
use gridsync_core::demo::{GridPlan, populate_households};
use gridsync_core::doc::Author;
use gridsync_core::{OpenOptions, Store};

use crate::directory::{CommunityInfo, Department, GridInfo, NewUser, StreetInfo, TerritoryRows};
use crate::principal::Role;
use crate::state::AppState;
use crate::store::IncomingChange;

/// The street, community and grid codes of the demo.
pub const STREET: &str = "110105001";
/// The demo community.
pub const COMMUNITY: &str = "110105001001";
/// Every demo user's password (demo data only: change it, or don't seed a
/// real server with the demo).
pub const PASSWORD: &str = "gridsync-demo";

/// The demo's departments: (code, name, login of its user, user's name).
pub const DEPARTMENTS: &[(&str, &str, &str, &str)] = &[
    ("chengguan", "区城管执法局", "chengguan", "城管执法队员"),
    ("zhujian", "区住房和城乡建设委员会", "zhujian", "住建科员"),
    ("xiaofang", "区消防救援支队", "xiaofang", "消防监督员"),
];

/// `demo` options.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Grids in the demo community.
    #[arg(long, default_value_t = 3)]
    pub grids: usize,
    /// Households per grid.
    #[arg(long, default_value_t = 120)]
    pub households: usize,
}

impl Default for DemoArgs {
    fn default() -> Self {
        Self {
            grids: 3,
            households: 120,
        }
    }
}

/// Seed the demo if the server has no users yet; returns whether it did.
pub async fn seed_if_empty(state: &AppState, args: &DemoArgs) -> anyhow::Result<bool> {
    if !state.directory.users().await?.is_empty() {
        tracing::info!("demo not seeded: the server already has users");
        return Ok(false);
    }
    seed(state, args).await?;
    Ok(true)
}

fn grid_code(i: usize) -> String {
    format!("{COMMUNITY}{:03}", i + 1)
}

async fn seed(state: &AppState, args: &DemoArgs) -> anyhow::Result<()> {
    let grids = args.grids.clamp(1, 99);
    let rows = TerritoryRows {
        streets: vec![StreetInfo {
            code: STREET.into(),
            name: "建国门街道".into(),
        }],
        communities: vec![CommunityInfo {
            code: COMMUNITY.into(),
            name: "幸福社区".into(),
            street_code: STREET.into(),
        }],
        grids: (0..grids)
            .map(|i| GridInfo {
                code: grid_code(i),
                name: format!("第{}网格", i + 1),
                community_code: COMMUNITY.into(),
                street_code: STREET.into(),
            })
            .collect(),
    };
    state.directory.import_territory(&rows).await?;
    crate::sync::publish_grids(state).await?;

    let hash = crate::auth::hash_password_async(PASSWORD.to_string()).await?;
    let user = |name: &str, display: &str, role: Role| {
        NewUser::new(name, display, role).with_password_hash(hash.clone())
    };
    state
        .directory
        .create_user(user("admin", "系统管理员", Role::Admin))
        .await?;
    let supervisor = state
        .directory
        .create_user(user("shequ", "幸福社区书记", Role::Supervisor).with_subtree(COMMUNITY))
        .await?
        .id;
    state
        .directory
        .create_user(user("jiedao", "建国门街道办", Role::Supervisor).with_subtree(STREET))
        .await?;
    // Departments that receive escalated reports, with one user each.
    for (code, name, login, display) in DEPARTMENTS {
        state
            .directory
            .upsert_department(Department {
                code: (*code).into(),
                name: (*name).into(),
            })
            .await?;
        state
            .directory
            .create_user(user(login, display, Role::Department).with_department(*code))
            .await?;
    }
    let mut holders = Vec::new();
    for (i, name) in ["李建华", "赵志强", "王秀兰"].iter().enumerate() {
        let u = state
            .directory
            .create_user(user(&format!("baobao{}", i + 1), name, Role::PackageHolder))
            .await?;
        holders.push(u.id);
    }
    // Phones signed in: each grid worker's (the third one's last seen five
    // days ago) and the first two package-holders'. The third, newly
    // appointed to some households, never synced: the overview flags her
    // (从未同步).
    let now_s = gridsync_core::clock::Clock::System.now_ms() / 1000;
    let mut phones: Vec<(String, String, i64)> = vec![
        (holders[0].clone(), "李建华的手机".into(), now_s - 26 * 3600),
        (holders[1].clone(), "赵志强的手机".into(), now_s - 50 * 3600),
    ];
    let mut workers = Vec::new();
    for i in 0..grids {
        let u = state
            .directory
            .create_user(
                user(
                    &format!("wangge{}", i + 1),
                    &format!("第{}网格网格员", i + 1),
                    Role::GridWorker,
                )
                .with_grids([grid_code(i)]),
            )
            .await?;
        let seen = if i == 2 {
            5 * 86_400
        } else {
            3600 * (i as i64 + 2)
        };
        phones.push((
            u.id.clone(),
            format!("第{}网格网格员的手机", i + 1),
            now_s - seen,
        ));
        workers.push(u.id);
    }
    for (n, (owner, name, seen)) in phones.iter().enumerate() {
        state
            .directory
            .register_device(
                &format!("00000000-0000-4000-8000-{:012}", n + 1),
                owner,
                Some(name),
                *seen,
            )
            .await?;
    }

    // Households are written by an in-memory device holding the grid
    // documents, then pushed like any phone's changes.
    let households = args.households.clamp(1, 2000);
    let (changes, building) = tokio::task::spawn_blocking({
        let state = state.clone();
        let workers = workers.clone();
        let holders = holders.clone();
        move || -> anyhow::Result<(Vec<IncomingChange>, Vec<RosterHousehold>)> {
            let handle = tokio::runtime::Handle::current();
            let mut device = Store::open_in_memory(OpenOptions::default())?;
            let now = gridsync_core::clock::Clock::System.now_ms();
            let mut changes = Vec::new();
            // The households of grid 1's first building, for its 楼栋长.
            let mut building: Vec<RosterHousehold> = Vec::new();
            for (i, worker) in workers.iter().enumerate() {
                let code = grid_code(i);
                let id = crate::sync::grid_doc_id(&code);
                let saved = handle
                    .block_on(state.docs.load(&id))?
                    .context("grid document missing")?;
                device.apply_remote(&id, &[saved])?;
                let plan = GridPlan {
                    households,
                    residents_per_household: 3,
                    visits_per_household: 4,
                    buildings: households.div_ceil(40).max(1),
                    units: 2,
                    holder_visits: true,
                };
                let ids = populate_households(
                    &mut device,
                    &code,
                    &plan,
                    worker,
                    &holders[..2],
                    now,
                    1000 + i as u64,
                )?;
                // The third package-holder took over one held household
                // in nine from the supervisor's hand this week, and has
                // not contacted them yet.
                let by = Author {
                    user: supervisor.clone(),
                    role: Role::Supervisor.code().into(),
                };
                for id in ids.iter().skip(4).step_by(9) {
                    if device.household(id)?.holder.is_some() {
                        device.with_author(by.clone(), |s| {
                            s.edit_household(id, |f| f.holder = Some(holders[2].clone()))
                        })?;
                    }
                }
                if i == 0 {
                    for id in &ids {
                        let h = device.household(id)?;
                        let first = building.first().map(|b| b.place.clone());
                        if first.is_none_or(|f| {
                            f.compound == h.place.compound && f.building == h.place.building
                        }) {
                            building.push(RosterHousehold {
                                id: id.clone(),
                                grid: code.clone(),
                                place: h.place.clone(),
                                residents: Vec::new(),
                            });
                        }
                    }
                }
            }
            for e in device.outbox(usize::MAX >> 1)? {
                changes.push(IncomingChange {
                    doc_id: e.doc_id,
                    data: e.data,
                });
            }
            Ok((changes, building))
        }
    })
    .await??;
    let guard = crate::scope::Guard::new(
        crate::sync::server_principal(),
        crate::sync::validate::document,
    );
    let outcome = state
        .docs
        .push(changes, Some("server".into()), None, Box::new(guard))
        .await?;
    if let Some(r) = outcome.rejected.first() {
        anyhow::bail!("demo data refused: {}", r.refusal.reason);
    }
    crate::web::demo::seed(state, COMMUNITY).await?;
    close_old_needs(state, &workers).await?;
    building_heads(state, &hash, building).await?;
    println!(
        "已生成演示社区 / demo community seeded: {grids} 个网格, {} 户",
        grids * households
    );
    println!("演示账号（密码均为 {PASSWORD}） / demo logins (password {PASSWORD}):");
    println!("  admin      系统管理员 / admin");
    println!("  shequ      社区书记 / community supervisor ({COMMUNITY})");
    println!("  jiedao     街道办 / street supervisor ({STREET})");
    for i in 0..grids {
        println!(
            "  wangge{}    第{}网格网格员 / grid worker ({})",
            i + 1,
            i + 1,
            grid_code(i)
        );
    }
    println!("  baobao1-3  包保责任人 / package-holders (baobao3 newly appointed, never synced)");
    println!(
        "  louzhang1  楼栋长 / building head (第1网格 first building; danyuan1 its unit head, never synced)"
    );
    for (code, name, login, _) in DEPARTMENTS {
        println!("  {login:<10} {name} / department user ({code})");
    }
    Ok(())
}

/// The 小三级 of grid 1's first building: its 楼栋长 (louzhang1, with a
/// phone, who recorded contacts this week, one noting a 群众诉求 still
/// open) and the 单元长 of its first unit (danyuan1, who never synced).
/// The contacts are pushed as the head, through the head's own guard.
async fn building_heads(
    state: &AppState,
    hash: &str,
    building: Vec<RosterHousehold>,
) -> anyhow::Result<()> {
    let Some(first) = building.first() else {
        return Ok(());
    };
    let post = Post {
        grid: first.grid.clone(),
        compound: first.place.compound.clone(),
        building: first.place.building.clone(),
        unit: String::new(),
    };
    let head = state
        .directory
        .create_user(
            NewUser::new("louzhang1", "孙桂英", Role::BuildingHead)
                .with_password_hash(hash)
                .with_post(post.clone()),
        )
        .await?;
    state
        .directory
        .create_user(
            NewUser::new("danyuan1", "周明", Role::UnitHead)
                .with_password_hash(hash)
                .with_post(Post {
                    unit: first.place.unit.clone(),
                    ..post.clone()
                }),
        )
        .await?;
    let device = "00000000-0000-4000-8000-0000000000b1";
    let now = gridsync_core::clock::Clock::System.now_ms();
    state
        .directory
        .register_device(
            device,
            &head.id,
            Some("孙桂英的手机"),
            now / 1000 - 20 * 3600,
        )
        .await?;
    let author = Author {
        user: head.id.clone(),
        role: head.role.code().into(),
    };
    let roster = Roster {
        post,
        at: now,
        households: building,
    };
    let changes = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<IncomingChange>> {
        let mut phone = Store::open_in_memory(OpenOptions::default())?;
        phone.set_author(author)?;
        phone.set_roster(Some(&roster))?;
        // This week, in working hours, Beijing time (UTC+8).
        let (day, hour) = (86_400_000, 3_600_000);
        let beijing = now + 8 * hour;
        let midnight = beijing - beijing.rem_euclid(day) - 8 * hour;
        let notes: [(usize, i64, i64, &str, &str, bool); 3] = [
            (0, 3, 10 * hour, "老人在家，精神不错", "", false),
            (
                1,
                2,
                15 * hour + hour / 2,
                "楼道堆放杂物",
                "请物业清理三楼楼道杂物",
                true,
            ),
            (
                2,
                1,
                9 * hour + hour / 2,
                "新搬来一户租客，已登记联系方式",
                "",
                false,
            ),
        ];
        for (n, days_ago, time_of_day, findings, needs, follow_up) in notes {
            let Some(h) = roster.households.get(n) else {
                continue;
            };
            let at = midnight - days_ago * day + time_of_day;
            phone.set_clock(gridsync_core::clock::Clock::Fixed(at));
            phone.log_contact(NewContact {
                household: h.id.clone(),
                method: String::new(),
                findings: findings.into(),
                needs: needs.into(),
                follow_up,
            })?;
        }
        Ok(phone
            .outbox(usize::MAX >> 1)?
            .into_iter()
            .map(|e| IncomingChange {
                doc_id: e.doc_id,
                data: e.data,
            })
            .collect())
    })
    .await??;
    let guard = crate::scope::Guard::new(
        head.principal(Some(device.into())),
        crate::sync::validate::document,
    );
    let outcome = state
        .docs
        .push(
            changes,
            Some(head.id.clone()),
            Some(device.into()),
            Box::new(guard),
        )
        .await?;
    if let Some(r) = outcome.rejected.first() {
        anyhow::bail!("demo contacts refused: {}", r.refusal.reason);
    }
    Ok(())
}

/// Days after which the demo's 群众诉求 / 需跟进 have been handled.
const NEEDS_HANDLED_AFTER_DAYS: i64 = 14;

/// Mark the demo visits' needs older than [`NEEDS_HANDLED_AFTER_DAYS`]
/// handled by their grid's worker one to three days after they were
/// noted, as a community that keeps up would have them: the overview
/// lists the recent ones. Demo bookkeeping, not audited: nobody did it.
async fn close_old_needs(state: &AppState, workers: &[String]) -> anyhow::Result<()> {
    const DAY_MS: i64 = 86_400_000;
    crate::web::readmodel::catch_up(state)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = gridsync_core::clock::Clock::System.now_ms();
    for n in crate::web::readmodel::needs(state.web.model(), COMMUNITY).await? {
        if now - n.at < NEEDS_HANDLED_AFTER_DAYS * DAY_MS {
            continue;
        }
        let Some(worker) = (0..workers.len())
            .find(|&i| grid_code(i) == n.grid)
            .map(|i| &workers[i])
        else {
            continue;
        };
        let closed_at = (n.at + (n.at / 1000 % 3 + 1) * DAY_MS).min(now);
        crate::web::needs::close(
            state.web.main(),
            &n.household_id,
            &n.visit_key,
            worker,
            closed_at,
        )
        .await?;
    }
    Ok(())
}

/// Run `gridsync-server demo`.
pub async fn run_cli(state: &AppState, args: DemoArgs) -> anyhow::Result<()> {
    if !seed_if_empty(state, &args).await? {
        println!("服务器已有用户，未生成演示数据 / the server already has users; demo not seeded");
    }
    Ok(())
}
