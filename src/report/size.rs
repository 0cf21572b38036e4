//! The size cap: the report an invocation returns stays within what its destinations take
//! (SNS messages of 256 KiB, Lambda responses of 6 MB), leaving out whole users, never parts
//! of one, and saying how many. Every key decision is still logged in full.

use std::io;

use serde::Serialize;
use tracing::warn;

use super::{Action, Report, UserReport};

impl Report {
    /// The most a returned report weighs, in bytes of JSON: SNS takes messages of up to
    /// 256 KiB (the stack's success destination publishes the report), Lambda responses of up
    /// to 6 MB. See `capped`.
    pub const MAX_BYTES: usize = 200_000;

    /// This report in at most `max_bytes` of JSON (as serde_json writes it), for returning. A
    /// report that fits is returned as it is. A larger one leaves out whole users until it
    /// fits, and says how many in `omittedUsers`. It keeps every other field, so `summary` and
    /// `apiCalls` still count every user, then as many users as there is room for, in this
    /// order: those a write was made or failed for (`deactivated`, `deleted`, `failed`), then
    /// those `marked` or that a write would be made for (report mode), then the rest; each
    /// group in report order, and in a sweep of listed accounts, account after account.
    ///
    /// Only users are left out: a report whose other fields alone weigh over `max_bytes`
    /// (tens of thousands of `deferredUsers`, hundreds of listed accounts) keeps them, and is
    /// logged as over.
    pub fn capped(mut self, max_bytes: usize) -> Report {
        let bytes = json_bytes(&self);
        if bytes <= max_bytes {
            return self;
        }
        // The users of this report (group 0) and of each account's (group 1 + its index).
        let mut groups = vec![std::mem::take(&mut self.users)];
        groups.extend(
            self.accounts
                .iter_mut()
                .map(|a| std::mem::take(&mut a.users)),
        );
        let mut keep: Vec<Vec<bool>> = groups.iter().map(|g| vec![false; g.len()]).collect();
        // The report with no user in it, and every user counted out: that is the most it
        // weighs without users, since keeping some only makes the counts shorter.
        self.count_omitted(&keep);
        let mut room = max_bytes.saturating_sub(json_bytes(&self));
        // Every user, in the order they are kept; each adds its JSON and a comma.
        let mut candidates: Vec<(u8, usize, usize)> = Vec::new();
        for (group, users) in groups.iter().enumerate() {
            let ranked = users.iter().enumerate();
            candidates.extend(ranked.map(|(index, user)| (keep_rank(user), group, index)));
        }
        candidates.sort_unstable();
        for (_, group, index) in candidates {
            let cost = json_bytes(&groups[group][index]).saturating_add(1);
            if cost > room {
                break;
            }
            room -= cost;
            keep[group][index] = true;
        }
        self.count_omitted(&keep);
        for (group, (users, keep)) in groups.into_iter().zip(keep).enumerate() {
            let kept = users
                .into_iter()
                .zip(keep)
                .filter_map(|(user, kept)| kept.then_some(user));
            match group {
                0 => self.users = kept.collect(),
                account => self.accounts[account - 1].users = kept.collect(),
            }
        }
        log_cap(bytes, json_bytes(&self), self.omitted_users, max_bytes);
        self
    }

    /// Sets `omittedUsers` from which users of each group (see `capped`) are kept.
    fn count_omitted(&mut self, keep: &[Vec<bool>]) {
        let omitted = |group: &Vec<bool>| group.iter().filter(|kept| !**kept).count();
        self.omitted_users = keep.iter().map(omitted).sum();
        for (swept, group) in self.accounts.iter_mut().zip(&keep[1..]) {
            swept.omitted_users = omitted(group);
        }
    }
}

fn log_cap(bytes: usize, capped: usize, omitted_users: usize, max_bytes: usize) {
    if capped <= max_bytes {
        warn!(
            bytes,
            capped,
            omitted_users,
            "the report is over {max_bytes} bytes: users are left out of the one returned \
             (each key decision is logged)"
        );
    } else {
        warn!(
            bytes,
            capped, omitted_users, "the report is over {max_bytes} bytes even with no user in it"
        );
    }
}

/// Which users a report over its size limit keeps first (lowest first): those a write was
/// made or failed for, then those marked or a write would be made for, then the rest.
fn keep_rank(user: &UserReport) -> u8 {
    let rank = |action| match action {
        Action::Deactivated | Action::Deleted | Action::Failed => 0,
        Action::Marked
        | Action::Warned
        | Action::WouldDeactivate
        | Action::WouldDelete
        | Action::WouldWarn => 1,
        Action::Pending | Action::Kept | Action::Exempt | Action::Deferred | Action::Gone => 2,
    };
    user.keys
        .iter()
        .map(|key| rank(key.action))
        .min()
        .unwrap_or(2)
}

/// The length of `value`'s JSON as serde_json writes it (compact), without building it. One
/// that cannot be serialized counts as too large to keep.
fn json_bytes<T: Serialize>(value: &T) -> usize {
    struct Counter(usize);
    impl io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}
