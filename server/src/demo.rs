//! `gridsync-server demo`: seed a realistic community so a newcomer sees
//! data at once (filled in below).

use clap::Args;

use crate::state::AppState;

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
        Self { grids: 3, households: 120 }
    }
}

/// Seed the demo if the database holds no documents yet.
pub async fn seed_if_empty(_state: &AppState, _args: &DemoArgs) -> anyhow::Result<()> {
    Ok(())
}

/// Run `gridsync-server demo`.
pub async fn run_cli(state: &AppState, args: DemoArgs) -> anyhow::Result<()> {
    seed_if_empty(state, &args).await
}
