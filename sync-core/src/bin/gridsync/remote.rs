//! Talking to the server: `login`, `logout`, `whoami`, `sync` (with a
//! progress bar and Ctrl-C to cancel) and `status`.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, anyhow, bail};
use gridsync_core::Store;
use gridsync_core::doc::Author;
use gridsync_core::sync::{self, Client, Phase, Progress, SyncOptions, wire::User};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::args::LoginArgs;
use crate::output::{Output, key_values, or_dash, time_or_never};
use crate::review;

/// Set by Ctrl-C during a sync; the sync stops at the next safe point.
static CANCEL: AtomicBool = AtomicBool::new(false);

pub(crate) fn login(store: &mut Store, args: &LoginArgs) -> anyhow::Result<Output> {
    let password = password(args)?;
    let client = Client::new(&args.server)?;
    let user = client.login(store, &args.username, &password)?;
    let human = format!(
        "已登录 / signed in: {} ({}, {})\n服务器 / server: {}\n",
        display_name(&user),
        user.username,
        user.role,
        client.base_url()
    );
    Output::new(&user, human)
}

/// The password from standard input, `GRIDSYNC_PASSWORD`, or a prompt that
/// does not echo when standard input is a terminal.
fn password(args: &LoginArgs) -> anyhow::Result<String> {
    if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("无法读取标准输入 / cannot read standard input")?;
        let p = line.trim_end_matches(['\r', '\n']);
        if p.is_empty() {
            bail!("标准输入中没有密码 / no password on standard input");
        }
        return Ok(p.to_string());
    }
    if let Ok(p) = std::env::var("GRIDSYNC_PASSWORD")
        && !p.is_empty()
    {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("密码 / password: ")
            .context("无法读取密码 / cannot read the password");
    }
    bail!(
        "需要密码：使用 --password-stdin 或环境变量 GRIDSYNC_PASSWORD / \
         a password is needed: use --password-stdin or GRIDSYNC_PASSWORD"
    )
}

fn display_name(user: &User) -> &str {
    if user.display_name.is_empty() {
        &user.username
    } else {
        &user.display_name
    }
}

/// The server this store signed in to.
pub(crate) fn server(store: &Store) -> anyhow::Result<String> {
    sync::status(store)?
        .server
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            anyhow!("未登录，请先运行 gridsync login / not signed in: run `gridsync login` first")
        })
}

pub(crate) fn logout(store: &mut Store) -> anyhow::Result<Output> {
    if Client::user(store)?.is_none() {
        return Output::new(
            serde_json::json!({ "signed_in": false }),
            "未登录 / not signed in",
        );
    }
    let client = Client::new(&server(store)?)?;
    client.logout(store)?;
    Output::new(
        serde_json::json!({ "signed_in": false }),
        "已退出登录，本机数据保留 / signed out; the data stays on this device",
    )
}

#[derive(Serialize)]
struct WhoAmI {
    signed_in: bool,
    user: Option<User>,
    /// Whom edits made here are attributed to.
    author: Author,
    server: Option<String>,
    device_id: String,
}

pub(crate) fn whoami(store: &Store) -> anyhow::Result<Output> {
    let user = Client::user(store)?;
    let who = WhoAmI {
        signed_in: user.is_some(),
        user,
        author: store.author().clone(),
        server: sync::status(store)?.server.filter(|s| !s.is_empty()),
        device_id: store.device_id().to_string(),
    };
    let mut pairs = match &who.user {
        Some(u) => vec![
            (
                "用户 / user",
                format!("{} ({})", display_name(u), u.username),
            ),
            ("用户编号 / user id", u.id.clone()),
            ("角色 / role", u.role.clone()),
            ("服务器 / server", or_dash(who.server.as_deref())),
        ],
        None => vec![(
            "用户 / user",
            format!(
                "未登录 / not signed in（修改记在 {} 名下 / edits are attributed to {}）",
                who.author.user, who.author.user
            ),
        )],
    };
    pairs.push(("本机编号 / device", who.device_id.clone()));
    let human = key_values(&pairs);
    Output::new(&who, human)
}

pub(crate) fn sync(store: &mut Store) -> anyhow::Result<Output> {
    let client = Client::new(&server(store)?)?;
    // Ctrl-C once: stop at the next safe point, keeping what was done.
    // Twice: leave at once (also safe: every step is one transaction).
    let cancel = ctrlc::set_handler(|| {
        if CANCEL.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    })
    .is_ok()
    .then_some(&CANCEL);

    // No length until the core has an estimate: an empty bar, not a full one.
    let bar = ProgressBar::no_length();
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec}",
        )?
        .progress_chars("=> "),
    );
    let mut on_progress = |p: &Progress| show_progress(&bar, p);
    let result = sync::sync(
        store,
        &client,
        &SyncOptions::default(),
        cancel,
        &mut on_progress,
    );
    bar.finish_and_clear();
    let report = result?;

    let duplicates = store.duplicate_suspects()?.len();
    let mut pairs = vec![
        ("已推送修改 / pushed", report.pushed.to_string()),
        ("被拒绝修改 / refused", report.rejected.to_string()),
        ("已接收记录 / received", report.docs_received.to_string()),
        ("已清除记录 / purged", report.purged.len().to_string()),
        ("暂未上传 / held back", report.held_back.to_string()),
        (
            "待处理的被拒修改 / refused, waiting",
            report.refused_waiting.to_string(),
        ),
    ];
    if report.repushed > 0 {
        pairs.push(("补传修改 / pushed again", report.repushed.to_string()));
    }
    if let Some(offset) = report.clock_offset_ms {
        pairs.push((
            "与服务器时差 / clock offset",
            format!("{} s", offset / 1000),
        ));
    }
    let mut human = key_values(&pairs);
    human.insert_str(
        0,
        if report.complete {
            "同步完成 / sync done\n"
        } else {
            "同步未完成：有修改还不在服务器上 / sync incomplete: some changes are not on the server\n"
        },
    );
    for w in &report.warnings {
        human.push_str(w);
        human.push('\n');
    }
    if duplicates > 0 {
        human.push_str(&format!(
            "发现 {duplicates} 处疑似重复，运行 gridsync duplicates 查看 / \
             {duplicates} suspected duplicates: see `gridsync duplicates`\n"
        ));
    }
    let mut out = Output::new(&report, human)?;
    out.incomplete = !report.complete;
    Ok(out)
}

/// An age as days, hours or minutes, Chinese then English.
fn age_text(ms: i64) -> String {
    let minutes = ms / 60_000;
    if minutes >= 24 * 60 {
        format!("{}天 / {} days", minutes / (24 * 60), minutes / (24 * 60))
    } else if minutes >= 60 {
        format!("{}小时 / {} hours", minutes / 60, minutes / 60)
    } else {
        format!("{minutes}分钟 / {minutes} minutes")
    }
}

fn show_progress(bar: &ProgressBar, p: &Progress) {
    if p.bytes_total > 0 {
        bar.set_length(p.bytes_total.max(p.bytes_done));
    }
    bar.set_position(p.bytes_done);
    let msg = if CANCEL.load(Ordering::Relaxed) {
        "正在取消 / cancelling".to_string()
    } else {
        match p.phase {
            Phase::Push => format!(
                "推送修改 / pushing {}/{} · 接收记录 / received {}",
                p.changes_sent, p.changes_total, p.docs_received
            ),
            Phase::Pull => format!("接收记录 / receiving {}/{}", p.docs_received, p.docs_total),
            Phase::Done => "完成 / done".to_string(),
        }
    };
    bar.set_message(msg);
}

#[derive(Serialize)]
struct StatusOut {
    #[serde(flatten)]
    status: sync::Status,
    /// Fields with unresolved conflicts, over every document.
    conflicts: usize,
    /// Suspected duplicate pairs.
    duplicate_suspects: usize,
    device_id: String,
}

pub(crate) fn status(store: &mut Store) -> anyhow::Result<Output> {
    let out = StatusOut {
        status: sync::status(store)?,
        conflicts: review::all_conflicts(store)?
            .iter()
            .map(|d| d.conflicts.len())
            .sum(),
        duplicate_suspects: store.duplicate_suspects()?.len(),
        device_id: store.device_id().to_string(),
    };
    let s = &out.status;
    let user = s.user.as_ref().map_or_else(
        || "未登录 / not signed in".to_string(),
        |u| format!("{} ({}, {})", display_name(u), u.username, u.role),
    );
    let mut pairs = vec![
        ("服务器 / server", or_dash(s.server.as_deref())),
        ("用户 / user", user),
        ("上次同步成功 / last sync", time_or_never(s.last_success)),
    ];
    if let Some(e) = &s.last_error {
        pairs.push(("上次同步失败 / last error", e.clone()));
    }
    pairs.extend([
        ("待推送修改 / pending", s.pending_changes.to_string()),
        ("被拒绝修改 / refused", s.rejected_changes.to_string()),
        (
            "最早未上传的修改 / oldest unsynced edit",
            s.oldest_unsynced_age_ms.map_or_else(
                || "无 / none".to_string(),
                |age| format!("{} 前 / ago", age_text(age)),
            ),
        ),
        ("字段冲突 / conflicts", out.conflicts.to_string()),
        ("疑似重复 / duplicates", out.duplicate_suspects.to_string()),
        ("本机编号 / device", out.device_id.clone()),
    ]);
    if let Some(offset) = s.clock_offset_ms {
        pairs.push((
            "与服务器时差 / clock offset",
            format!("{} s", offset / 1000),
        ));
    }
    let mut human = key_values(&pairs);
    if s.clock_warning {
        human.push_str(
            "手机时间与服务器相差超过5分钟，请校准手机时间 / \
             this device's clock is more than 5 minutes off the server's: set it right\n",
        );
    }
    if s.last_success.is_some() {
        human.push_str("（时间为北京时间 / times are China Standard Time, UTC+8）\n");
    }
    Output::new(&out, human)
}
