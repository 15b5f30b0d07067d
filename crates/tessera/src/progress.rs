//! Progress bars on stderr, shown only to a person at a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::RefCell;
use std::io::IsTerminal;

pub struct Bars {
    visible: bool,
    bar: RefCell<Option<ProgressBar>>,
}

impl Bars {
    pub fn new(quiet: bool) -> Self {
        Self {
            visible: !quiet && std::io::stderr().is_terminal(),
            bar: RefCell::new(None),
        }
    }

    pub fn bar(&self, label: &str, total: u64, unit: &str) -> ProgressBar {
        if !self.visible {
            return ProgressBar::hidden();
        }
        let template = match unit {
            "bytes" => "{prefix:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            _ => "{prefix:>10} [{bar:30}] {pos}/{len} {msg} {eta}",
        };
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        bar
    }
}

impl tessera_ingest::Progress for Bars {
    fn start(&self, label: &str, total_bytes: u64) {
        *self.bar.borrow_mut() = Some(self.bar(label, total_bytes, "bytes"));
    }

    fn advance(&self, bytes: u64) {
        if let Some(b) = &*self.bar.borrow() {
            b.inc(bytes);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.bar.borrow_mut().take() {
            b.finish_and_clear();
        }
    }
}
