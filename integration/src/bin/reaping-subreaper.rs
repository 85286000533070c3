//! `reaping-subreaper CMD ARGS...`: runs CMD as a child subreaper that reaps every orphan the
//! moment it exits — as containerd's shim does — and exits with CMD's status. Tests use it to
//! show the runtime never depends on an orphaned process outliving its own exit.

use std::process::{exit, Command};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: reaping-subreaper CMD [ARGS...]");
        exit(2);
    }
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        eprintln!(
            "prctl(PR_SET_CHILD_SUBREAPER): {}",
            std::io::Error::last_os_error()
        );
        exit(2);
    }
    let child = match Command::new(&args[0]).args(&args[1..]).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("spawn {}: {e}", args[0]);
            exit(2);
        }
    };
    let want = child.id() as i32;
    loop {
        let mut status = 0;
        // SAFETY: plain waitpid on any child with a valid out pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid < 0 {
            eprintln!("waitpid: {}", std::io::Error::last_os_error());
            exit(2);
        }
        if pid == want {
            if libc::WIFEXITED(status) {
                exit(libc::WEXITSTATUS(status));
            }
            exit(128 + libc::WTERMSIG(status));
        }
    }
}
