//! The rollback stack of a failed `create`: every step that made something pushes its undo;
//! on failure they run in reverse, all of them, and their own failures are reported too.

/// One undo step.
type Undo = Box<dyn FnOnce() -> anyhow::Result<()>>;

/// Undo steps, run in reverse unless `commit`ted.
#[derive(Default)]
pub struct Rollback {
    steps: Vec<(&'static str, Undo)>,
}

impl Rollback {
    pub fn push(
        &mut self,
        what: &'static str,
        undo: impl FnOnce() -> anyhow::Result<()> + 'static,
    ) {
        self.steps.push((what, Box::new(undo)));
    }

    /// Success: keep everything.
    pub fn commit(mut self) {
        self.steps.clear();
    }

    /// Failure: undo everything and attach any undo failures to `cause`.
    pub fn unwind(mut self, cause: anyhow::Error) -> anyhow::Error {
        let failures: Vec<String> = self
            .steps
            .drain(..)
            .rev()
            .filter_map(|(what, undo)| undo().err().map(|e| format!("{what}: {e:#}")))
            .collect();
        if failures.is_empty() {
            cause
        } else {
            cause.context(format!("(cleanup also failed: {})", failures.join("; ")))
        }
    }
}

impl Drop for Rollback {
    fn drop(&mut self) {
        for (_, undo) in self.steps.drain(..).rev() {
            let _ = undo();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rollback;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn unwinds_in_reverse_and_reports_failures() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut rb = Rollback::default();
        for i in 0..3 {
            let log = log.clone();
            rb.push("step", move || {
                log.borrow_mut().push(i);
                if i == 1 {
                    anyhow::bail!("boom")
                }
                Ok(())
            });
        }
        let err = rb.unwind(anyhow::anyhow!("cause"));
        assert_eq!(*log.borrow(), vec![2, 1, 0]);
        let text = format!("{err:#}");
        assert!(
            text.contains("cause") && text.contains("step: boom"),
            "{text}"
        );
    }

    #[test]
    fn commit_keeps_everything() {
        let ran = Rc::new(RefCell::new(false));
        let mut rb = Rollback::default();
        let r = ran.clone();
        rb.push("x", move || {
            *r.borrow_mut() = true;
            Ok(())
        });
        rb.commit();
        assert!(!*ran.borrow());
    }
}
