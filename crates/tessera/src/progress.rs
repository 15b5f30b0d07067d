//! Progress bars on stderr, shown only to a person at a terminal: one per source being read.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use tessera_core::SourceKind;

pub struct Bars {
    visible: bool,
    multi: MultiProgress,
    bars: Mutex<BTreeMap<SourceKind, ProgressBar>>,
}

impl Bars {
    pub fn new(quiet: bool) -> Self {
        Self {
            visible: !quiet && std::io::stderr().is_terminal(),
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(BTreeMap::new()),
        }
    }

    /// A bar counting `unit`s (`bytes` or anything else, counted as items), hidden when not shown.
    pub fn bar(&self, label: &str, total: u64, unit: &str) -> ProgressBar {
        if !self.visible {
            return ProgressBar::hidden();
        }
        let template = match unit {
            "bytes" => "{prefix:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            _ => "{prefix:>10} [{bar:30}] {human_pos}/{human_len} {per_sec} {eta}",
        };
        let bar = self.multi.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        bar
    }

    fn with(&self, f: impl FnOnce(&mut BTreeMap<SourceKind, ProgressBar>)) {
        f(&mut self.bars.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

impl tessera_ingest::Progress for Bars {
    fn start(&self, source: SourceKind, total_bytes: u64) {
        let bar = self.bar(source.name(), total_bytes, "bytes");
        self.with(|bars| {
            bars.insert(source, bar);
        });
    }

    fn advance(&self, source: SourceKind, bytes: u64) {
        self.with(|bars| {
            if let Some(b) = bars.get(&source) {
                b.inc(bytes);
            }
        });
    }

    fn finish(&self, source: SourceKind) {
        self.with(|bars| {
            if let Some(b) = bars.remove(&source) {
                b.finish_and_clear();
            }
        });
    }
}
