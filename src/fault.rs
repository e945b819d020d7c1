//! Whose fault a failure is, and the exit code that tells CI: the one
//! mapping from failures to exit codes (outputs.md, README "Exit codes").
//!
//! Every layer's error says which [`Fault`] it is; the CLI turns that into
//! the process's exit code and nothing else does. The README's table is
//! checked against [`Fault::ALL`] by a test, so the two cannot drift.

/// The kinds of failure a pipeline can end in, each with its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// A fault of clientpulse itself or of the local machine: cannot write
    /// the out folder, the outbox or the sent-ledger.
    Internal,
    /// Bad config, benchmarks, query, template or command line: the user's
    /// files are at fault. Nothing was sent.
    Input,
    /// The warehouse's data broke its contract or failed a check. Nothing
    /// was sent.
    Data,
    /// Delivery failed after retries; what was sent is in the ledger.
    Delivery,
    /// The warehouse cannot be reached (network, time-outs, a missing
    /// bucket) or refused the credentials: neither the data nor the config
    /// is known to be wrong. Nothing was sent.
    WarehouseAccess,
}

impl Fault {
    /// Every fault, in exit-code order.
    pub const ALL: [Fault; 5] = [
        Fault::Internal,
        Fault::Input,
        Fault::Data,
        Fault::Delivery,
        Fault::WarehouseAccess,
    ];

    /// The process exit code (0 is success).
    pub fn exit_code(self) -> u8 {
        match self {
            Fault::Internal => 1,
            Fault::Input => 2,
            Fault::Data => 3,
            Fault::Delivery => 4,
            Fault::WarehouseAccess => 5,
        }
    }

    /// The words of the README's table for this code.
    pub fn meaning(self) -> &'static str {
        match self {
            Fault::Internal => {
                "an internal or local fault: clientpulse cannot write the out folder, the outbox or the sent-ledger (the line names the path), or the Ballista cluster cannot be reached or failed a query (a lost executor it could not replace), or a query or data check did not fit in `engine.memory_limit` even spilling to disk, or a query (or the split of the tables among segments or books) still ran after `engine.query_timeout_seconds`; nothing was sent"
            }
            Fault::Input => {
                "bad config, benchmarks, query, template or usage (every problem listed, each naming its file and line); nothing was sent"
            }
            Fault::Data => {
                "the warehouse's data broke its contract or failed a check (the line names table, column and row count); nothing was sent"
            }
            Fault::Delivery => {
                "delivery failed after retries; what was sent is recorded in `out/<week>/sent.json`, and a re-run sends only the rest"
            }
            Fault::WarehouseAccess => {
                "the warehouse cannot be reached (endpoint unreachable or silent past the time-outs and retries, bucket missing) or refused the credentials; nothing was sent, and neither data nor config is known to be at fault"
            }
        }
    }

    /// The worst of several faults: the one CI should hear about. Access
    /// and internal faults come first (nothing else could be judged), then
    /// input, data and delivery.
    pub fn worst(faults: impl IntoIterator<Item = Fault>) -> Option<Fault> {
        let rank = |fault: &Fault| match fault {
            Fault::WarehouseAccess => 0,
            Fault::Internal => 1,
            Fault::Input => 2,
            Fault::Data => 3,
            Fault::Delivery => 4,
        };
        faults.into_iter().min_by_key(rank)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's exit-code table is the code's: same codes, same words.
    #[test]
    fn readme_table_matches_the_code() {
        let readme = include_str!("../README.md");
        let rows: Vec<(u8, String)> = readme
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                match cells.as_slice() {
                    ["", code, meaning, ""] => code
                        .trim_matches('`')
                        .parse::<u8>()
                        .ok()
                        .map(|code| (code, meaning.to_string())),
                    _ => None,
                }
            })
            .collect();
        let mut expected = vec![(0u8, "success".to_string())];
        expected.extend(
            Fault::ALL
                .iter()
                .map(|fault| (fault.exit_code(), fault.meaning().to_string())),
        );
        assert_eq!(rows, expected);
    }

    #[test]
    fn the_worst_fault_wins() {
        assert_eq!(
            Fault::worst([Fault::Data, Fault::Input]),
            Some(Fault::Input)
        );
        assert_eq!(
            Fault::worst([Fault::Data, Fault::WarehouseAccess]),
            Some(Fault::WarehouseAccess)
        );
        assert_eq!(Fault::worst([]), None);
    }
}
