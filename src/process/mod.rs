//! Clone, sync, exec: how a container init comes to be.
//!
//! Parent and init talk over one `SOCK_SEQPACKET` socketpair (`channel.rs`):
//!
//! | from → to        | message              | when                                            |
//! |------------------|----------------------|-------------------------------------------------|
//! | init → parent    | `MapsRequest`        | its new user namespace exists                    |
//! | parent → init    | `MapsWritten`        | uid_map/gid_map written                          |
//! | intermediate → parent | `InitPid(pid)`  | after the second fork (pid/time namespaces)      |
//! | parent → init    | `PidNoted`           | its start time is read; the real init goes on    |
//! | init → parent    | `Log{level,msg}`     | any time before ready                            |
//! | init → parent    | `Console{name}` + fd | the pty master (process.terminal), before ready  |
//! | init → parent    | `Ready`              | set up, executable found, about to block at gate |
//! | init → parent    | `Failed{stage,error}`| a step failed; init exits                        |
//!
//! EOF before `Ready` means init died without a word. After `Ready`, an exec'd process's end
//! closes when it execs (close-on-exec): `exec` waits for that EOF before it returns. Uses layer 2 (`namespaces`, `rootfs`,
//! ...), `spec` types, `sys`.

mod channel;
mod console;
mod exe_seal;
mod exec;
mod exec_path;
mod finish;
mod foreground;
mod gate;
mod init;
mod relay;
mod spawn;
mod stage;
mod user_env;

pub use channel::{Channel, Message};
pub use console::send_to_console_socket;
pub use exe_seal::ensure_sealed_exe;
pub use exec::{spawn_exec, ExecConfig};
pub use exec_path::resolve_executable;
pub use foreground::{BlockedSignals, FORWARDED};
pub use gate::{create_gate, open_gate, wait_at_gate};
pub use relay::relay_until_exit;
pub use spawn::{spawn_init, InitConfig, Spawned};
