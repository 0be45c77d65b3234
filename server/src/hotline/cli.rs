//! `gridsync-server admin hotline …`: the platforms' credentials and the
//! webhook calls that keep failing, from the command line.

use clap::Subcommand;

use super::{Hotline, Knobs};
use crate::admin::table;
use crate::state::AppState;

/// `admin hotline …`.
#[derive(Debug, Subcommand)]
pub enum HotlineCommand {
    /// Create a platform's credential; prints its token and signing secret once.
    Add {
        /// Name of the platform (e.g. 12345-chaoyang).
        name: String,
        /// Where the server sends each step (http:// or https://).
        #[arg(long)]
        webhook: String,
    },
    /// Revoke a credential: its token fails at once, its calls stop.
    Revoke {
        /// The credential's name.
        name: String,
    },
    /// List credentials.
    List,
    /// Webhook calls that keep failing.
    Failing,
    /// Try failing calls again now: one by its id, or every undelivered one.
    Retry {
        /// Delivery id (see `failing`).
        #[arg(conflicts_with = "all", required_unless_present = "all")]
        id: Option<i64>,
        /// Every undelivered call.
        #[arg(long)]
        all: bool,
    },
}

fn when(ms: i64) -> String {
    crate::web::pages::when(ms)
}

/// Run `admin hotline …`.
pub async fn run(state: &AppState, cmd: HotlineCommand) -> anyhow::Result<()> {
    let hotline = Hotline::of(state);
    match cmd {
        HotlineCommand::Add { name, webhook } => {
            let c = hotline.create(&name, &webhook).await?;
            println!("已创建凭据 / credential created: {}", c.name);
            println!("令牌 token (仅显示一次 / shown only once): {}", c.token);
            println!(
                "签名密钥 signing secret (仅显示一次 / shown only once): {}",
                c.signing_secret
            );
            println!("回调地址 webhook: {}", c.webhook_url);
        }
        HotlineCommand::Revoke { name } => {
            hotline.revoke(&name).await?;
            println!("已吊销 / revoked: {}", name.trim());
        }
        HotlineCommand::List => {
            let rows: Vec<Vec<String>> = hotline
                .credentials()
                .await?
                .into_iter()
                .map(|c| {
                    vec![
                        c.name,
                        c.webhook_url,
                        when(c.created_at),
                        c.revoked_at
                            .map(when)
                            .unwrap_or_else(|| "有效 active".into()),
                    ]
                })
                .collect();
            if rows.is_empty() {
                println!("还没有凭据 / no credentials yet (admin hotline add …)");
            } else {
                print!(
                    "{}",
                    table(
                        &["名称 name", "回调 webhook", "创建 created", "状态 state"],
                        &rows
                    )
                );
            }
        }
        HotlineCommand::Failing => {
            let rows: Vec<Vec<String>> = hotline
                .failing(Knobs::from_env().failing_after, 500)
                .await?
                .into_iter()
                .map(|f| {
                    vec![
                        f.id.to_string(),
                        f.credential,
                        f.reference,
                        f.attempts.to_string(),
                        f.last_error.unwrap_or_default(),
                        when(f.next_at),
                    ]
                })
                .collect();
            if rows.is_empty() {
                println!("没有持续失败的回调 / no failing webhook calls");
            } else {
                print!(
                    "{}",
                    table(
                        &[
                            "编号 id",
                            "凭据 credential",
                            "工单编号 reference",
                            "次数 attempts",
                            "最近错误 last error",
                            "下次 next",
                        ],
                        &rows
                    )
                );
            }
        }
        HotlineCommand::Retry { id, all } => {
            let n = hotline.retry(if all { None } else { id }).await?;
            println!("已安排立即重试 {n} 个回调 / {n} calls will be tried now");
        }
    }
    Ok(())
}
