//! `run`: create + start, then (in the foreground) forward signals, reap, delete and hand
//! back the container's exit code.

use super::create::{create, CreateOptions};
use super::delete::delete;
use super::start::start;
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
    let id = &opts.create.id;
    if opts.detach {
        create(store, &opts.create, log)?;
        return start_or_remove(store, id).map(|()| 0);
    }
    // Blocked before the container exists: an init that exits at once still leaves its
    // SIGCHLD pending for us, so `run` never hangs.
    let signals = BlockedSignals::block()?;
    let mut create_opts = opts.create.clone();
    create_opts.terminal_relay = true;
    let spawned = create(store, &create_opts, log)?;
    start_or_remove(store, id)?;
    let code = match spawned.console {
        Some((master, _)) => relay_until_exit(master, spawned.pid, &signals)?,
        None => signals.wait_for_exit(spawned.pid)?,
    };
    drop(signals);
    if !opts.keep {
        delete(store, id, true)?;
    }
    Ok(code)
}

fn start_or_remove(store: &Store, id: &str) -> anyhow::Result<()> {
    start(store, id).inspect_err(|_| {
        let _ = delete(store, id, true);
    })
}
