//! `run`: create + start, then (in the foreground) forward signals, reap, delete and hand
//! back the container's exit code.

use super::create::{create, CreateOptions};
use super::delete::{delete, delete_exited};
use super::start::start_created;
use crate::process::{ensure_sealed_exe, relay_until_exit, BlockedSignals};
use crate::state::Store;

/// Flags of `run` beyond those of `create`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub create: CreateOptions,
    pub detach: bool,
    pub keep: bool,
}

/// Returns the exit code sangja should exit with: 0 when detached, else the container's.
pub fn run(
    store: &Store,
    opts: &RunOptions,
    log: &mut dyn FnMut(&str, &str),
) -> anyhow::Result<i32> {
    ensure_sealed_exe()?;
    if opts.detach {
        let created = create(store, &opts.create, log)?;
        return start_or_remove(store, &created.state).map(|()| 0);
    }
    // Blocked before the container exists: an init that exits at once still leaves its
    // SIGCHLD pending for us, so `run` never hangs.
    let signals = BlockedSignals::block()?;
    let mut create_opts = opts.create.clone();
    create_opts.terminal_relay = true;
    let created = create(store, &create_opts, log)?;
    start_or_remove(store, &created.state)?;
    let spawned = created.spawned;
    let code = match spawned.console {
        Some((master, _)) => relay_until_exit(master, spawned.pid, &signals)?,
        None => signals.wait_for_exit(spawned.pid)?,
    };
    drop(signals);
    if !opts.keep {
        delete_exited(store, &created.state)?;
    }
    Ok(code)
}

fn start_or_remove(store: &Store, state: &crate::state::State) -> anyhow::Result<()> {
    start_created(store, state).inspect_err(|_| {
        let _ = delete(store, &state.id, true);
    })
}
