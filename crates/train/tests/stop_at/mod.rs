//! An observer that stops a run where a Ctrl-C would.

use siamese_train::{Observer, StepProgress};

/// Asks the run to stop once it has done `step` steps of `epoch` (both 1-based; step 0
/// means the epoch's last step), as a Ctrl-C between two steps would.
pub struct StopAt {
    pub epoch: usize,
    pub step: usize,
    reached: bool,
}

impl StopAt {
    pub fn new(epoch: usize, step: usize) -> Self {
        Self {
            epoch,
            step,
            reached: false,
        }
    }
}

impl Observer for StopAt {
    fn step(&mut self, p: &StepProgress) {
        let step = if self.step == 0 { p.steps } else { self.step };
        self.reached |= (p.epoch, p.step) >= (self.epoch, step);
    }

    fn stop_requested(&mut self) -> bool {
        self.reached
    }
}
