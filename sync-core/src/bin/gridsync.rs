//! `gridsync`: the command-line client, for scripts and for supervisors at
//! the office. A thin front-end over `gridsync-core`: it opens the device
//! store, calls the core, and prints the answer as a table (Chinese labels
//! first) or, with `--json`, as JSON. No rule of the domain lives here.
//!
//! - `args`: the command line (clap);
//! - `ledger`: grids, households, residents, visits, coverage lists;
//! - `issue`: issue reports, their steps and photos;
//! - `contact`: a 楼栋长/单元长's roster and contacts;
//! - `remote`: login, sync with a progress bar, status;
//! - `review`: conflicts, duplicates, refused changes, history, any document;
//! - `output`: tables, times in China Standard Time, errors.
//!
//! See docs/cli.md for a walk-through.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use gridsync_core::Store;

#[path = "gridsync/args.rs"]
mod args;
#[path = "gridsync/contact.rs"]
mod contact;
#[path = "gridsync/issue.rs"]
mod issue;
#[path = "gridsync/ledger.rs"]
mod ledger;
#[path = "gridsync/output.rs"]
mod output;
#[path = "gridsync/remote.rs"]
mod remote;
#[path = "gridsync/review.rs"]
mod review;

use args::{Cli, Command};

fn main() -> ExitCode {
    // A usage mistake exits here with clap's own message.
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(output::INCOMPLETE),
        Err(e) => {
            output::print_error(&e);
            ExitCode::FAILURE
        }
    }
}

/// Runs the command; `false` when a sync left something the worker typed
/// off the server.
fn run(cli: Cli) -> anyhow::Result<bool> {
    if let Command::Codes { table } = cli.command {
        ledger::codes(table)?.print(cli.json)?;
        return Ok(true);
    }
    let mut store = Store::open(&cli.store).with_context(|| {
        format!(
            "无法打开本机数据库 / cannot open the store {}",
            cli.store.display()
        )
    })?;
    // The deployment's catalogue, as the last sync brought it.
    gridsync_core::sync::rules::install_kept(&store)
        .context("事件目录无法读取 / the kept issue catalogue cannot be read")?;
    let s = &mut store;
    let out = match cli.command {
        Command::Login(a) => remote::login(s, &a)?,
        Command::Logout => remote::logout(s)?,
        Command::Whoami => remote::whoami(s)?,
        Command::Sync => remote::sync(s)?,
        Command::Status => remote::status(s)?,
        Command::Grid(c) => ledger::grid(s, c)?,
        Command::Household(c) => ledger::household(s, c)?,
        Command::Resident(c) => ledger::resident(s, c)?,
        Command::Visit(c) => ledger::visit(s, c)?,
        Command::Issue(c) => issue::issue(s, c)?,
        Command::Roster => contact::roster(s)?,
        Command::Contact(c) => contact::contact(s, c)?,
        Command::NotVisited { days } => ledger::not_visited(s, days)?,
        Command::NotContacted { days, holder } => {
            ledger::not_contacted(s, days, holder.as_deref())?
        }
        Command::Conflicts { doc_id } => review::conflicts(s, doc_id.as_deref())?,
        Command::Resolve {
            doc_id,
            path,
            choose,
        } => review::resolve(s, &doc_id, &path, choose)?,
        Command::Duplicates => review::duplicates(s)?,
        Command::Merge { a, b } => review::merge(s, &a, &b)?,
        Command::Dismiss { a, b } => review::dismiss(s, &a, &b)?,
        Command::MergeResidents { household, a, b } => {
            review::merge_residents(s, &household, &a, &b)?
        }
        Command::Rejected => review::rejected(s)?,
        Command::Discard { doc_id } => review::discard(s, &doc_id)?,
        Command::History { doc_id, path } => review::history(s, &doc_id, path.as_deref())?,
        Command::Show { doc_id } => review::show(s, &doc_id)?,
        Command::Codes { table } => ledger::codes(table)?,
    };
    out.print(cli.json)?;
    Ok(!out.incomplete)
}
