use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use siamese_train::{EpochMetrics, Observer, RunInfo, StepProgress};

/// Shows training progress: a bar per epoch on a terminal, one line per epoch otherwise;
/// asks the run to stop when `stop` says so.
pub(crate) struct TrainingProgress {
    bar: Option<ProgressBar>,
    interactive: bool,
    stop: fn() -> bool,
}

impl TrainingProgress {
    pub(crate) fn new(stop: fn() -> bool) -> Self {
        Self {
            bar: None,
            interactive: std::io::stderr().is_terminal(),
            stop,
        }
    }
}

impl Observer for TrainingProgress {
    fn started(&mut self, info: &RunInfo) {
        eprintln!(
            "run {}: {} train / {} validation / {} test images, {} / {} / {} pairs",
            info.run_dir.display(),
            info.images.0,
            info.images.1,
            info.images.2,
            info.pairs.0,
            info.pairs.1,
            info.pairs.2
        );
        eprintln!(
            "{} parameters, {} threads, first layer {} ({:.1}% of training pixels lit){}",
            info.params,
            info.threads,
            if info.sparse_first_layer {
                "sparse"
            } else {
                "dense"
            },
            100.0 * info.pixel_density,
            match (info.start_epoch, info.start_step) {
                (0, 0) => String::new(),
                (epoch, 0) => format!(", resuming after epoch {epoch}"),
                (epoch, step) => format!(", resuming after step {step} of epoch {}", epoch + 1),
            }
        );
        if let Some(report) = &info.load_report {
            eprintln!(
                "{} images{}; ignored {} other files and {} nested folders; skipped {} \
                 unusable images{}",
                report.images,
                if report.from_cache {
                    " (from the decode cache)"
                } else {
                    ""
                },
                report.ignored_files,
                report.ignored_dirs,
                report.skipped_count,
                if report.empty_class_folders.is_empty() {
                    String::new()
                } else {
                    format!(
                        " and {} empty class folders",
                        report.empty_class_folders.len()
                    )
                }
            );
            for skipped in &report.skipped {
                eprintln!("  skipped {skipped}");
            }
            if let Some(note) = &report.cache_note {
                eprintln!("  cache: {note}");
            }
        }
        if info.nothing_to_resume {
            eprintln!(
                "no checkpoint in {} yet: starting from the beginning",
                info.run_dir.display()
            );
        }
    }

    fn epoch_started(&mut self, epoch: usize, epochs: usize, steps: usize) {
        if self.interactive {
            let bar = ProgressBar::new(steps as u64).with_style(
                ProgressStyle::with_template(
                    "epoch {prefix} {bar:30} {pos}/{len} {msg} [{elapsed}<{eta}]",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(format!("{epoch}/{epochs}"));
            self.bar = Some(bar);
        }
    }

    fn step(&mut self, p: &StepProgress) {
        if let Some(bar) = &self.bar {
            bar.set_position(p.step as u64);
            if p.step.is_multiple_of(16) || p.step == p.steps {
                bar.set_message(format!(
                    "loss {:.4} acc {:.2}% {:.0} pairs/s",
                    p.loss,
                    100.0 * p.accuracy,
                    p.pairs_per_second
                ));
            }
        }
    }

    fn checkpoint_written(&mut self, epoch: usize, step: usize) {
        if let Some(bar) = &self.bar {
            bar.println(format!("checkpoint after step {step} of epoch {epoch}"));
        }
    }

    fn stop_requested(&mut self) -> bool {
        (self.stop)()
    }

    fn epoch_finished(&mut self, m: &EpochMetrics) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        eprintln!(
            "epoch {:>3}: train loss {:.4} acc {:.2}% | val loss {:.4} acc {:.2}% | {:.2} s, {:.0} pairs/s",
            m.epoch,
            m.train_loss,
            100.0 * m.train_accuracy,
            m.val_loss,
            100.0 * m.val_accuracy,
            m.seconds,
            m.pairs_per_second
        );
    }
}
